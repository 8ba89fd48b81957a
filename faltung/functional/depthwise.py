"""Depthwise and transposed 2-D convolutions (Keras' DepthwiseConv2D, SeparableConv2D's first
half, Conv2DTranspose), through the backend's kernels."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..kernels.padding import normalize_pair
from ._checks import float_tensor, same_dtype
from .conv import conv_arguments


class DepthwiseConv2DOp(Function):
    """Each input channel correlated with its own filters; the kernels are ``backend.active_kernels()``'s
    (``reference.depthwise`` shows the formula)."""

    def forward(self, x, w, strides, dilation, pads, out_hw):
        self.kernels = backend.active_kernels()  # the backward runs on the set the forward ran on
        self.x_shape, self.w, self.geometry = x.shape, w, (strides, dilation, pads)
        out, self.win = self.kernels.depthwise_conv2d_forward(x, w, strides, dilation, pads, out_hw)
        return out

    def backward(self, grad):
        return self.kernels.depthwise_conv2d_backward(grad, self.win, self.x_shape, self.w, *self.geometry,
                                                      need=self.needs_grad)


def depthwise_conv2d(x: Any, w: Any, b: Any = None, strides: Any = 1, padding: Any = "valid",
                     dilation_rate: Any = 1) -> Tensor:
    """Depthwise convolution on NHWC input: each channel with its own ``depth_multiplier`` filters.

    x: (N, H, W, C); w: (kh, kw, C, M); b: (C·M,) or None -> (N, out_h, out_w, C·M), output channel
    ``c·M + m`` from input channel c and filter m (Keras' order). Padding and strides as ``conv2d``.
    """
    w = float_tensor(w, "depthwise_kernel", 4, "(kh, kw, C, depth_multiplier)")
    # the geometry (padding, output size, channel check) is conv2d's for a kernel (kh, kw, C, 1)
    x, _, _, (strides, dilation, pads, out_hw) = conv_arguments(x, w.data[..., :1], None, strides, padding,
                                                                 dilation_rate)
    same_dtype(x=x, depthwise_kernel=w)
    y = DepthwiseConv2DOp.apply(x, w, strides=strides, dilation=dilation, pads=pads, out_hw=out_hw)
    return _add_bias(y, b, "(C·M,)")


def transpose_output_length(n: int, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
    """Keras' (and TensorFlow's) output length of a transposed convolution along one axis."""
    k_eff = d * (k - 1) + 1
    if padding == "valid":
        return (n - 1) * s + k_eff + (max(k_eff, s) - k_eff if output_padding is None else output_padding)
    return n * s if output_padding is None else (n - 1) * s + k_eff % 2 + output_padding


def transpose_crop(n: int, out: int, k: int, s: int, d: int, padding: str) -> int:
    """Rows cut from the start of the full (unpadded) transposed output: TensorFlow's 'same' pad-before
    of the convolution whose input gradient this is (an input of ``out`` rows, ``n`` outputs)."""
    if padding == "valid":
        return 0
    return max((n - 1) * s + d * (k - 1) + 1 - out, 0) // 2


def _input_gradient(kernels, grad: np.ndarray, x_shape: tuple, w: np.ndarray, strides, dilation) -> np.ndarray:
    """dL/dx of a 'valid' conv2d with input shape ``x_shape`` given dL/dZ ``grad``, by ``kernels`` (the
    backend's set): only the input's shape is read when only dx is asked for, so a zero-stride
    stand-in holds its place."""
    stand_in = np.broadcast_to(np.zeros((), grad.dtype), x_shape)
    return kernels.conv2d_backward(np.ascontiguousarray(grad), stand_in, w, strides, dilation, ((0, 0), (0, 0)),
                           need=(True, False, False))[0]


class Conv2DTransposeOp(Function):
    """The transpose of conv2d: forward is conv2d's input gradient (every input pixel scatters
    ``x[n, i, j, :] · f[i', j', r, :]`` to output ``(s·i + d·i' - crop, ...)``), backward is conv2d's
    forward (dx) and its kernel gradient (dW)."""

    def forward(self, x, w, strides, dilation, crops, out_hw):
        n, h, width, _ = x.shape
        kh, kw, filters, _ = w.shape
        full = ((h - 1) * strides[0] + dilation[0] * (kh - 1) + 1, (width - 1) * strides[1] + dilation[1] * (kw - 1) + 1)
        self.kernels = backend.active_kernels()  # the backward runs on the set the forward ran on
        self.x, self.w, self.geometry = x, w, (strides, dilation, crops, out_hw, full)
        y_full = _input_gradient(self.kernels, x, (n, *full, filters), w, strides, dilation)
        out = np.zeros((n, *out_hw, filters), dtype=y_full.dtype)
        (top, left), rows, cols = crops, min(out_hw[0], full[0] - crops[0]), min(out_hw[1], full[1] - crops[1])
        out[:, :rows, :cols] = y_full[:, top:top + rows, left:left + cols]  # beyond `full`: output padding, zeros
        return out

    def backward(self, grad):
        strides, dilation, (top, left), out_hw, full = self.geometry
        n = grad.shape[0]
        g_full = np.zeros((n, *full, grad.shape[3]), dtype=grad.dtype)
        rows, cols = min(out_hw[0], full[0] - top), min(out_hw[1], full[1] - left)
        g_full[:, top:top + rows, left:left + cols] = grad[:, :rows, :cols]
        dx = self.kernels.conv2d_forward(g_full, self.w, None, strides, dilation, ((0, 0), (0, 0)), self.x.shape[1:3]) \
            if self.needs_grad[0] else None
        dw = self.kernels.conv2d_backward(np.ascontiguousarray(self.x), g_full, self.w, strides, dilation, ((0, 0), (0, 0)),
                             need=(False, True, False))[1] if self.needs_grad[1] else None
        return dx, dw


def conv2d_transpose(x: Any, w: Any, b: Any = None, strides: Any = 1, padding: str = "valid",
                     output_padding: Any = None, dilation_rate: Any = 1) -> Tensor:
    """Transposed convolution ("deconvolution") on NHWC input, Keras' Conv2DTranspose.

    x: (N, H, W, C_in); w: (kh, kw, filters, C_in) (Keras' layout: the kernel of the convolution
    that maps the output back to x); b: (filters,) or None -> (N, out_h, out_w, filters) with
    ``out = (n-1)·s + k' + output_padding`` ('valid'; output_padding defaults to max(k', s) - k')
    or ``n·s`` ('same'; with output_padding ``(n-1)·s + k' mod 2 + output_padding``), k' = d(k-1)+1.
    """
    x = float_tensor(x, "x", 4, "(N, H, W, C_in)")
    w = float_tensor(w, "kernel", 4, "(kh, kw, filters, C_in)")
    if w.shape[3] != x.shape[3]:
        raise ValueError(f"kernel expects C_in={w.shape[3]} input channels (its last axis) but x has "
                         f"{x.shape[3]} (x shape {x.shape}, kernel shape {w.shape})")
    same_dtype(x=x, kernel=w)
    strides = normalize_pair(strides, "strides")
    dilation = normalize_pair(dilation_rate, "dilation_rate")
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'; got {padding!r}")
    ops = (None, None) if output_padding is None else normalize_pair(output_padding, "output_padding", minimum=0)
    for o, s, axis in zip(ops, strides, ("height", "width")):
        if o is not None and o >= s:
            raise ValueError(f"output_padding must be smaller than the stride along {axis}; got {o} for stride {s}")
    geometry = list(zip(x.shape[1:3], w.shape[:2], strides, dilation, ops))
    out_hw = tuple(transpose_output_length(n, k, s, d, mode, o) for n, k, s, d, o in geometry)
    crops = tuple(transpose_crop(n, out, k, s, d, mode) for (n, k, s, d, _), out in zip(geometry, out_hw))
    y = Conv2DTransposeOp.apply(x, w, strides=strides, dilation=dilation, crops=crops, out_hw=out_hw)
    return _add_bias(y, b, "(filters,)")


def _add_bias(y: Tensor, b: Any, layout: str) -> Tensor:
    """``y + b`` with ``b`` one entry per output channel of ``y`` (N, H, W, C), or ``y`` when b is None."""
    if b is None:
        return y
    b = float_tensor(b, "bias", 1, layout)
    if b.shape[0] != y.shape[3]:
        raise ValueError(f"bias has {b.shape[0]} entries; expected one per output channel, {layout} = {y.shape[3]}")
    return y + b
