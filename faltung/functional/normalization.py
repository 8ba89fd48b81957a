"""Batch normalisation over the channel axis, training and inference modes, as one differentiable op."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import distributed
from ..autograd import Function, Tensor
from ._checks import float_tensor


class BatchNormOp(Function):
    """y = γ·(x - μ)/√(σ² + ε) + β with per-channel μ, σ² over every axis but the last.

    Training uses the batch's μ and (biased) σ², so their dependence on x enters
    the gradient; inference uses the given moving statistics, constants. In a
    data-parallel step (``shard``) the batch is the global one: its sums span every rank.
    """

    def forward(self, x, gamma, beta, mean, var, epsilon, training, shard=None):
        self.axes = tuple(range(x.ndim - 1))
        self.shard = shard
        self.count = x.size // x.shape[-1] if shard is None else shard.count(x.size // x.shape[-1])
        self.training, self.gamma = training, gamma
        self.inv_std = (1.0 / np.sqrt(var + epsilon)).astype(x.dtype)
        self.x_hat = (x - mean) * self.inv_std
        out = self.x_hat if gamma is None else self.x_hat * gamma
        return out if beta is None else out + beta

    def backward(self, g):
        dgamma = (g * self.x_hat).sum(axis=self.axes) if self.needs_grad[1] else None
        dbeta = g.sum(axis=self.axes) if self.needs_grad[2] else None
        dx = None
        if self.needs_grad[0]:
            dx_hat = g if self.gamma is None else g * self.gamma
            if self.training:
                m = dx_hat.dtype.type(self.count)
                sums = dx_hat.sum(axis=self.axes), (dx_hat * self.x_hat).sum(axis=self.axes)
                if self.shard is not None:  # sums over the global batch
                    sums = self.shard.sum(np.stack(sums)).astype(dx_hat.dtype)
                dx = (self.inv_std / m) * (m * dx_hat - sums[0] - self.x_hat * sums[1])
                if self.shard is not None and not self.shard.size:
                    dx[...] = 0  # a placeholder sample: the global sums must not flow back through it
            else:
                dx = dx_hat * self.inv_std
        return dx, dgamma, dbeta


def batch_norm(x: Any, gamma: Any = None, beta: Any = None, moving_mean: np.ndarray | None = None,
               moving_variance: np.ndarray | None = None, training: bool = False,
               momentum: float = 0.99, epsilon: float = 1e-3) -> Tensor:
    """Normalise x (..., C) per channel; Keras' defaults (momentum 0.99, epsilon 1e-3).

    training=True: use the batch mean and variance, and update ``moving_mean`` and
    ``moving_variance`` (arrays of shape (C,)) in place:
    ``moving = moving·momentum + batch·(1 - momentum)``.
    training=False: use the moving statistics.
    """
    x = float_tensor(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have a batch and a channel axis (..., C); got shape {x.shape}")
    channels = x.shape[-1]
    for name, value in (("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean),
                        ("moving_variance", moving_variance)):
        if value is not None and np.shape(value) != (channels,):
            raise ValueError(f"{name} must have shape ({channels},) to match x's channels; got {np.shape(value)}")
    gamma = None if gamma is None else float_tensor(gamma, "gamma")
    beta = None if beta is None else float_tensor(beta, "beta")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1]; got {momentum!r}")
    data = x.data
    shard = distributed.current_shard() if training else None
    if training:
        axes = tuple(range(data.ndim - 1))
        # data-parallel: the global batch's statistics, as one process would compute them
        mean, var = (data.mean(axis=axes), data.var(axis=axes)) if shard is None else shard.moments(data, axes)
        if moving_mean is not None:
            moving_mean *= momentum
            moving_mean += (1 - momentum) * mean
        if moving_variance is not None:
            moving_variance *= momentum
            moving_variance += (1 - momentum) * var
    else:
        if moving_mean is None or moving_variance is None:
            raise ValueError("inference (training=False) needs moving_mean and moving_variance")
        mean = np.asarray(moving_mean, dtype=data.dtype)
        var = np.asarray(moving_variance, dtype=data.dtype)
    return BatchNormOp.apply(x, gamma, beta, mean=mean, var=var, epsilon=epsilon, training=training, shard=shard)
