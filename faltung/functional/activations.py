"""Activation functions with hand-written derivatives, and their lookup by Keras' names."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import registry
from ..autograd import Function, Tensor
from ._checks import float_tensor


class ReLUOp(Function):
    def forward(self, x):
        self.out = np.maximum(x, x.dtype.type(0))
        return self.out

    def backward(self, g):
        return (relu_grad(g, self.out),)


def relu_grad(g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """dL/dx of y = max(x, 0) from dL/dy and y: passes where y > 0."""
    return np.multiply(g, out > 0, dtype=g.dtype)


class LeakyReLUOp(Function):
    def forward(self, x, negative_slope):
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.slope

    def backward(self, g):
        return (g * self.slope,)


class ELUOp(Function):
    """x for x > 0, alpha·(e^x - 1) otherwise; derivative 1 or alpha·e^x."""

    def forward(self, x, alpha):
        self.positive = x > 0
        self.neg_exp = alpha * np.exp(np.minimum(x, 0))
        return np.where(self.positive, x, self.neg_exp - alpha)

    def backward(self, g):
        return (np.where(self.positive, g, g * self.neg_exp),)


class SigmoidOp(Function):
    """1 / (1 + e^-x), written as (1 + tanh(x/2)) / 2 so no exp overflows."""

    def forward(self, x):
        half = x.dtype.type(0.5)
        self.out = half * (np.tanh(x * half) + 1)
        return self.out

    def backward(self, g):
        return (g * self.out * (1 - self.out),)


class TanhOp(Function):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g):
        return (g * (1 - self.out * self.out),)


class SoftmaxOp(Function):
    """e^x / sum e^x along ``axis``, shifted by the maximum so nothing overflows."""

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        s = self.out
        return (s * (g - (g * s).sum(axis=self.axis, keepdims=True)),)


class LogSoftmaxOp(Function):
    """x - logsumexp(x) along ``axis`` (log-sum-exp trick: exact for logits of ±1e4)."""

    def forward(self, x, axis):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):
        return (g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True),)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class GELUOp(Function):
    """x·Φ(x) (exact, via erf) or Keras' tanh approximation."""

    def forward(self, x, approximate):
        self.x, self.approximate = x, approximate
        if approximate:
            self.t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + erf(x / math.sqrt(2.0)))
        return x * self.cdf

    def backward(self, g):
        x = self.x
        if self.approximate:
            dt = (1 - self.t ** 2) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x ** 2)
            return (g * (0.5 * (1 + self.t) + 0.5 * x * dt),)
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (g * (self.cdf + x * pdf).astype(x.dtype),)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorised (NumPy has none): Abramowitz & Stegun 7.1.26, |error| < 1.5e-7.

    That is below float32's resolution near 1, so float32 GELU is exact to rounding.
    """
    a1, a2, a3, a4, a5, p = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429, 0.3275911
    sign = np.sign(x)
    ax = np.abs(x)
    t = 1.0 / (1.0 + p * ax)
    poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t
    return (sign * (1.0 - poly * np.exp(-ax * ax))).astype(x.dtype)


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise."""
    return ReLUOp.apply(float_tensor(x, "x"))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    """x for x > 0, negative_slope·x otherwise (Keras' default slope 0.2)."""
    return LeakyReLUOp.apply(float_tensor(x, "x"), negative_slope=float(negative_slope))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha·(e^x - 1) otherwise."""
    return ELUOp.apply(float_tensor(x, "x"), alpha=float(alpha))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), elementwise; never overflows."""
    return SigmoidOp.apply(float_tensor(x, "x"))


def tanh(x: Any) -> Tensor:
    return TanhOp.apply(float_tensor(x, "x"))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Probabilities along ``axis``: e^x / sum e^x, computed stably."""
    return SoftmaxOp.apply(float_tensor(x, "x"), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis``, via log-sum-exp (no -inf for logits of ±1e4)."""
    return LogSoftmaxOp.apply(float_tensor(x, "x"), axis=axis)


def gelu(x: Any, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit x·Φ(x); ``approximate=True`` uses the tanh formula (Keras' arguments)."""
    return GELUOp.apply(float_tensor(x, "x"), approximate=bool(approximate))


def linear(x: Any) -> Tensor:
    """The identity (Keras' 'linear' activation, also what ``activation=None`` means)."""
    return float_tensor(x, "x")


for _fn in (relu, leaky_relu, elu, sigmoid, tanh, softmax, log_softmax, gelu, linear):
    registry.register("activation")(_fn)


def get_activation(identifier: str | Callable | None) -> Callable[..., Tensor]:
    """An activation by Keras' name ('relu', ...), a callable as is, None as 'linear'."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if not isinstance(identifier, str):
        raise ValueError(f"activation must be a name such as 'relu', a callable or None; got {identifier!r}")
    return registry.lookup("activation", identifier.lower())
