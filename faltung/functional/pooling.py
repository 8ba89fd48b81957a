"""Differentiable max and average pooling (the lecture's pooling layers) and their global forms."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function, Tensor
from ..kernels.padding import normalize_padding, normalize_pair, output_size, resolve_pads
from ._checks import float_tensor


class MaxPool2DOp(Function):
    """The kernels are ``backend.active_kernels()``'s: ``reference.pooling`` shows the formulas."""

    def forward(self, x, pool, strides, pads, out_hw):
        self.kernels = backend.active_kernels()  # the backward runs on the set the forward ran on
        self.x_shape, self.geometry = x.shape, (pool, strides, pads)
        out, self.winners = self.kernels.max_pool_forward(x, pool, strides, pads, out_hw)
        return out

    def backward(self, grad):
        return (self.kernels.max_pool_backward(grad, self.winners, self.x_shape, *self.geometry),)


class AvgPool2DOp(Function):
    def forward(self, x, pool, strides, pads, out_hw):
        self.kernels = backend.active_kernels()
        self.x_shape, self.geometry = x.shape, (pool, strides, pads)
        return self.kernels.avg_pool_forward(x, pool, strides, pads, out_hw)

    def backward(self, grad):
        return (self.kernels.avg_pool_backward(grad, self.x_shape, *self.geometry),)


def pool_geometry(in_hw: tuple[int, int], pool_size: Any, strides: Any, padding: Any) -> tuple:
    """Checked pooling arguments for images of ``in_hw``: (pool, strides, pads, out_hw); strides
    default to the pool size."""
    pool = normalize_pair(pool_size, "pool_size")
    strides = pool if strides is None else normalize_pair(strides, "strides")
    pads = resolve_pads(normalize_padding(padding, allow_explicit=False), in_hw, pool, strides)
    return pool, strides, pads, output_size(in_hw, pool, strides, (1, 1), pads)


def _pool(fn: type[Function], x: Any, pool_size: Any, strides: Any, padding: Any) -> Tensor:
    x = float_tensor(x, "x", 4, "(N, H, W, C)")
    pool, strides, pads, out_hw = pool_geometry(x.shape[1:3], pool_size, strides, padding)
    return fn.apply(x, pool=pool, strides=strides, pads=pads, out_hw=out_hw)


def max_pool2d(x: Any, pool_size: Any = 2, strides: Any = None, padding: str = "valid") -> Tensor:
    """``Z[n, i, j, r] = max_{i', j' in [0, m)} X[n, s·i + i', s·j + j', r]`` on NHWC input.

    x: (N, H, W, C) -> (N, out_h, out_w, C). ``strides`` defaults to ``pool_size``;
    padding 'valid' or 'same' (padded cells never win). The gradient goes to the
    first maximum of each window, as in PyTorch.
    """
    return _pool(MaxPool2DOp, x, pool_size, strides, padding)


def avg_pool2d(x: Any, pool_size: Any = 2, strides: Any = None, padding: str = "valid") -> Tensor:
    """The mean over each ``pool_size`` window of NHWC input: (N, H, W, C) -> (N, out_h, out_w, C).

    With 'same' padding a border window divides by its real cells only (Keras' rule).
    """
    return _pool(AvgPool2DOp, x, pool_size, strides, padding)


def global_avg_pool2d(x: Any, keepdims: bool = False) -> Tensor:
    """Mean over height and width: (N, H, W, C) -> (N, C)."""
    return float_tensor(x, "x", 4, "(N, H, W, C)").mean(axis=(1, 2), keepdims=keepdims)


def global_max_pool2d(x: Any, keepdims: bool = False) -> Tensor:
    """Maximum over height and width: (N, H, W, C) -> (N, C)."""
    return float_tensor(x, "x", 4, "(N, H, W, C)").max(axis=(1, 2), keepdims=keepdims)
