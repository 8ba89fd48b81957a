"""Per-sample standardisation over chosen axes, the core of layer and group normalisation."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..autograd import Function, Tensor
from ._checks import float_tensor


class StandardizeOp(Function):
    """x̂ = (x - μ)/√(σ² + ε) with μ, σ² (biased) over ``axes``, separately for every index of the
    other axes. Backward, with m values per group:
    dx = (1/√(σ² + ε))/m · (m·g - Σg - x̂·Σ(g·x̂)), sums over ``axes``: μ and σ² depend on x."""

    def forward(self, x, axes, epsilon):
        self.axes, self.count = axes, int(np.prod([x.shape[a] for a in axes]))
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = (1.0 / np.sqrt(var + epsilon)).astype(x.dtype)
        self.x_hat = (x - mean) * self.inv_std
        return self.x_hat

    def backward(self, g):
        m = g.dtype.type(self.count)
        return ((self.inv_std / m) * (m * g - g.sum(axis=self.axes, keepdims=True)
                                      - self.x_hat * (g * self.x_hat).sum(axis=self.axes, keepdims=True)),)


def standardize(x: Any, axes: Sequence[int], epsilon: float = 1e-3) -> Tensor:
    """(x - mean)/sqrt(var + epsilon) over ``axes`` (negative allowed), per sample: same shape as x."""
    x = float_tensor(x, "x")
    axes = tuple(sorted({int(a) % x.ndim for a in axes}))
    if not axes:
        raise ValueError("standardize needs at least one axis")
    return StandardizeOp.apply(x, axes=axes, epsilon=float(epsilon))


def layer_norm(x: Any, gamma: Any = None, beta: Any = None, axes: Sequence[int] = (-1,),
               epsilon: float = 1e-3) -> Tensor:
    """Keras' LayerNormalization: standardise each sample over ``axes``, then ``· gamma + beta``
    (each shaped like those axes, broadcast over the rest)."""
    x = float_tensor(x, "x")
    axes = tuple(sorted(int(a) % x.ndim for a in axes))
    y = standardize(x, axes, epsilon)
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    if gamma is not None:
        y = y * float_tensor(gamma, "gamma").reshape(shape)
    if beta is not None:
        y = y + float_tensor(beta, "beta").reshape(shape)
    return y


def group_norm(x: Any, groups: int, gamma: Any = None, beta: Any = None, epsilon: float = 1e-3) -> Tensor:
    """Keras' GroupNormalization on channels-last x (N, ..., C): the C channels in ``groups`` groups of
    C/groups consecutive channels; each sample and group standardised over its spatial axes and its
    channels; then ``· gamma + beta`` per channel."""
    x = float_tensor(x, "x")
    c = x.shape[-1]
    if c % groups:
        raise ValueError(f"groups={groups} must divide the number of channels, {c}")
    grouped = x.reshape(*x.shape[:-1], groups, c // groups)
    axes = tuple(range(1, x.ndim - 1)) + (x.ndim,)   # spatial axes and the channels within a group
    y = standardize(grouped, axes, epsilon).reshape(x.shape)
    if gamma is not None:
        y = y * float_tensor(gamma, "gamma")
    if beta is not None:
        y = y + float_tensor(beta, "beta")
    return y
