"""Loss functions, numerically stable, reduced like Keras: the mean over the batch.

Argument order is (prediction, target), as in the rest of ``faltung.functional``;
the Keras-style classes in ``faltung.losses`` take (y_true, y_pred).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, Tensor
from ._checks import float_tensor
from .activations import log_softmax
from .core import clip

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [ε, 1 - ε] before the log


def _labels(labels: Any, output: Tensor) -> np.ndarray:
    """Integer class labels of shape output.shape[:-1] (a trailing axis of 1 is dropped), validated."""
    y = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if y.ndim == output.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != output.shape[:-1]:
        raise ValueError(f"labels must have shape {output.shape[:-1]} to match predictions {output.shape}; "
                         f"got {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("labels must be whole class numbers; got non-integer values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers; got dtype {y.dtype}")
    classes = output.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"labels must be in [0, {classes}) for {classes} classes; "
                         f"got values from {y.min()} to {y.max()}")
    return y


def _target(target: Any, output: Tensor, name: str = "target") -> np.ndarray:
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=output.dtype)
    if t.shape != output.shape:
        raise ValueError(f"{name} must have the predictions' shape {output.shape}; got {t.shape}")
    return t


def _log_probs(output: Tensor, from_logits: bool) -> Tensor:
    if from_logits:
        return log_softmax(output)
    # Keras: renormalise the probabilities, then clip them away from 0 and 1.
    probs = output / output.sum(axis=-1, keepdims=True)
    return clip(probs, EPSILON, 1 - EPSILON).log()


def sparse_categorical_crossentropy(output: Any, labels: Any, from_logits: bool = False) -> Tensor:
    """Mean over the batch of -log p[label]: output (N, C) probabilities or logits, labels (N,) ints."""
    output = float_tensor(output, "output")
    y = _labels(labels, output)
    log_p = _log_probs(output, from_logits)
    flat = log_p.reshape(-1, output.shape[-1])
    return -flat[np.arange(flat.shape[0]), y.reshape(-1)].mean()


def categorical_crossentropy(output: Any, target: Any, from_logits: bool = False) -> Tensor:
    """Mean over the batch of -sum_c target[c]·log p[c]: output and one-hot target both (N, C)."""
    output = float_tensor(output, "output")
    t = _target(target, output)
    return -(_log_probs(output, from_logits) * t).sum(axis=-1).mean()


class SigmoidCrossEntropy(Function):
    """Elementwise -[z·log σ(x) + (1-z)·log(1-σ(x))] = max(x, 0) - x·z + log(1 + e^-|x|)."""

    def forward(self, x, z):
        self.x, self.z = x, z
        return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        sig = 0.5 * (np.tanh(0.5 * self.x) + 1)
        return g * (sig - self.z), None


def binary_crossentropy(output: Any, target: Any, from_logits: bool = False) -> Tensor:
    """Mean of -[z·log p + (1-z)·log(1-p)]; output probabilities (or logits), target in [0, 1]."""
    output = float_tensor(output, "output")
    z = _target(target, output)
    if from_logits:
        return SigmoidCrossEntropy.apply(output, z).mean()
    p = clip(output, EPSILON, 1 - EPSILON)
    return -(z * p.log() + (1 - z) * (1 - p).log()).mean()


def mean_squared_error(output: Any, target: Any) -> Tensor:
    """Mean of (output - target)², over every entry."""
    output = float_tensor(output, "output")
    diff = output - _target(target, output)
    return (diff * diff).mean()


def mean_absolute_error(output: Any, target: Any) -> Tensor:
    """Mean of |output - target|, over every entry."""
    output = float_tensor(output, "output")
    diff = output - _target(target, output)
    return (diff * np.sign(diff.data)).mean()
