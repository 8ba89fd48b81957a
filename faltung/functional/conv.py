"""Differentiable 2-D cross-correlation: the lecture's Definition 1 and the convolutional layer."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..kernels.padding import normalize_padding, normalize_pair, output_size, resolve_pads
from ._checks import float_tensor, same_dtype


class Conv2DOp(Function):
    """Z = x ⋆ f + b over NHWC batches (then max(Z, 0) when fused with relu); backward gives dx, df, db.
    The kernels are ``backend.active_kernels()``'s: ``reference.conv`` shows the formulas."""

    def forward(self, x, w, b, strides, dilation, pads, out_hw, relu=False):
        self.kernels = backend.active_kernels()  # the backward runs on the set the forward ran on
        self.x, self.w, self.geometry = x, w, (strides, dilation, pads)
        out = self.kernels.conv2d_forward(x, w, b, strides, dilation, pads, out_hw, relu=relu)
        self.relu_out = out if relu else None  # the relu mask is read back from the output itself
        return out

    def backward(self, grad):
        return self.kernels.conv2d_backward(grad, self.x, self.w, *self.geometry, need=self.needs_grad,
                                            relu_out=self.relu_out)


def conv2d(x: Any, w: Any, b: Any = None, strides: Any = 1, padding: Any = "valid",
           dilation_rate: Any = 1, relu: bool = False) -> Tensor:
    """Convolutional layer (cross-correlation with many filters and a bias) on NHWC input.

    ``Z[n, i, j, r] = sum_{i', j', k} x[n, s·i + d·i', s·j + d·j', k] · w[i', j', k, r] + b[r]``

    x: (N, H, W, C_in); w: (kh, kw, C_in, C_out); b: (C_out,) or None.
    padding: 'valid', 'same' (TensorFlow's rule: extra pixel bottom/right), an int,
    or ((top, bottom), (left, right)). Returns (N, out_h, out_w, C_out).
    ``relu=True`` applies max(Z, 0) fused into the same operation (what ``Conv2D(...,
    activation="relu")`` uses: one array and one pass less than a separate relu).

    >>> conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), padding="same").shape
    (1, 4, 4, 2)
    """
    x, w, b, (strides, dilation, pads, out_hw) = conv_arguments(x, w, b, strides, padding, dilation_rate)
    return Conv2DOp.apply(x, w, b, strides=strides, dilation=dilation, pads=pads, out_hw=out_hw, relu=bool(relu))


def conv_arguments(x: Any, w: Any, b: Any, strides: Any, padding: Any, dilation_rate: Any) -> tuple:
    """Checked ``conv2d`` arguments: (x, w, b, (strides, dilation, pads, out_hw))."""
    x = float_tensor(x, "x", 4, "(N, H, W, C_in)")
    w = float_tensor(w, "kernel", 4, "(kh, kw, C_in, C_out)")
    if b is not None:
        b = float_tensor(b, "bias", 1, "(C_out,)")
        if b.shape[0] != w.shape[3]:
            raise ValueError(f"bias has {b.shape[0]} entries; expected one per filter, C_out={w.shape[3]}")
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"kernel expects C_in={w.shape[2]} input channels but x has {x.shape[3]} "
                         f"(x shape {x.shape}, kernel shape {w.shape})")
    same_dtype(x=x, kernel=w, bias=b)
    strides = normalize_pair(strides, "strides")
    dilation = normalize_pair(dilation_rate, "dilation_rate")
    mode = normalize_padding(padding)
    pads = resolve_pads(mode, x.shape[1:3], w.shape[:2], strides, dilation)
    out_hw = output_size(x.shape[1:3], w.shape[:2], strides, dilation, pads)
    return x, w, b, (strides, dilation, pads, out_hw)


def correlate2d(A: Any, B: Any) -> Any:
    """The lecture's Definition 1: ``C[i, j] = sum_{i', j'} A[i', j'] · B[i+i', j+j']``.

    A: (h', w') filter, B: (h, w) matrix -> C: (h-h'+1, w-w'+1) ('valid' size).
    Plain arrays in, plain array out (integers stay integers); if A or B is a
    Tensor the result is a Tensor that gradients flow through.

    >>> correlate2d([[1, -1], [2, -3]], [[2, -3, 0], [0, 1, 4]])
    array([[  2, -13]])
    """
    if isinstance(A, Tensor) or isinstance(B, Tensor):
        a = float_tensor(A, "A", 2, "(h', w')")
        b = float_tensor(B, "B", 2, "(h, w)")
        _check_fits(a.shape, b.shape)
        return conv2d(b.reshape(1, *b.shape, 1), a.reshape(*a.shape, 1, 1)).reshape(
            b.shape[0] - a.shape[0] + 1, b.shape[1] - a.shape[1] + 1)
    a, b = np.asarray(A), np.asarray(B)
    for name, arr, layout in (("A", a, "(h', w')"), ("B", b, "(h, w)")):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric matrix; got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix {layout}; got shape {arr.shape}")
    _check_fits(a.shape, b.shape)
    dtype = np.result_type(a, b)
    if dtype.kind in "biu":  # uint8 images would wrap around: sum in 64-bit integers
        dtype = np.result_type(dtype, np.int64)
    x = b.astype(dtype, copy=False)[None, :, :, None]
    w = a.astype(dtype, copy=False)[:, :, None, None]
    out_hw = (b.shape[0] - a.shape[0] + 1, b.shape[1] - a.shape[1] + 1)
    return backend.active_kernels().conv2d_forward(x, w, None, (1, 1), (1, 1), ((0, 0), (0, 0)), out_hw)[0, :, :, 0]


def _check_fits(a_shape, b_shape) -> None:
    if a_shape[0] > b_shape[0] or a_shape[1] > b_shape[1] or 0 in a_shape:
        raise ValueError(f"filter A of shape {a_shape} must be non-empty and fit inside B of shape {b_shape}")
