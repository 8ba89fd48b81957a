"""Dense (fully connected) layers, flattening, zero padding, dropout and clipping as differentiable functions."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, distributed
from ..autograd import Function, Tensor
from ._checks import float_tensor, same_dtype


def dense(x: Any, kernel: Any, bias: Any = None) -> Tensor:
    """The dense layer ``y = x · W + b``: x (..., in), kernel (in, out), bias (out,) -> (..., out)."""
    x = float_tensor(x, "x")
    kernel = float_tensor(kernel, "kernel", 2, "(in, out)")
    if x.ndim < 1 or x.shape[-1] != kernel.shape[0]:
        raise ValueError(f"kernel expects {kernel.shape[0]} input features but x has shape {x.shape}")
    if bias is not None:
        bias = float_tensor(bias, "bias", 1, "(out,)")
        if bias.shape[0] != kernel.shape[1]:
            raise ValueError(f"bias has {bias.shape[0]} entries; expected one per unit, {kernel.shape[1]}")
    same_dtype(x=x, kernel=kernel, bias=bias)
    return DenseOp.apply(x, kernel, bias)


class DenseOp(Function):
    """y = x · W + b over the last axis of x (..., in); the kernels see x as a matrix (N, in)."""

    def forward(self, x, kernel, bias):
        self.kernels = backend.active_kernels()  # the backward runs on the set the forward ran on
        self.x, self.kernel = x, kernel
        y = self.kernels.dense_forward(x.reshape(-1, x.shape[-1]), kernel, bias)
        return y.reshape(*x.shape[:-1], kernel.shape[1])

    def backward(self, grad):
        x2 = self.x.reshape(-1, self.x.shape[-1])
        dx, dw, db = self.kernels.dense_backward(grad.reshape(-1, grad.shape[-1]), x2, self.kernel, self.needs_grad)
        return (None if dx is None else dx.reshape(self.x.shape)), dw, db


def flatten(x: Any) -> Tensor:
    """(N, ...) -> (N, prod(...)), in channels-last (C-order) order like Keras' Flatten."""
    x = float_tensor(x, "x")
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis; got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


class ZeroPad2DOp(Function):
    def forward(self, x, pads):
        (top, bottom), (left, right) = self.pads = pads
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))

    def backward(self, g):
        (top, bottom), (left, right) = self.pads
        return (g[:, top:g.shape[1] - bottom, left:g.shape[2] - right, :],)


def zero_pad2d(x: Any, pads: tuple[tuple[int, int], tuple[int, int]]) -> Tensor:
    """x (N, H, W, C) with ``pads`` = ((top, bottom), (left, right)) rows and columns of zeros around H and W."""
    return ZeroPad2DOp.apply(float_tensor(x, "x", 4, "(N, H, W, C)"), pads=pads)


def dropout(x: Any, rate: float, training: bool = False, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each entry with probability ``rate`` and scale the rest by 1/(1-rate), when training.

    Outside training it is the identity (inverted dropout: nothing to rescale at inference).
    """
    x = float_tensor(x, "x")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
        raise ValueError(f"rate must be a number in [0, 1); got {rate!r}")
    if not training or rate == 0:
        return x
    draw = (rng or backend.rng()).random
    keep = distributed.draw_per_sample(lambda n: draw((n,) + x.shape[1:]), x.shape[0]) >= rate
    return x * (keep * x.dtype.type(1.0 / (1.0 - rate))).astype(x.dtype)


class ClipOp(Function):
    """min(max(x, low), high); the gradient passes where x is inside [low, high]."""

    def forward(self, x, low, high):
        self.inside = (x >= low) & (x <= high)
        return np.clip(x, low, high)

    def backward(self, g):
        return (np.where(self.inside, g, g.dtype.type(0)),)


def clip(x: Any, low: float, high: float) -> Tensor:
    """Elementwise clip to [low, high]."""
    return ClipOp.apply(float_tensor(x, "x"), low=low, high=high)
