"""Loss functions, numerically stable, reduced like Keras: by default the mean over the batch.

Argument order is (prediction, target), as in the rest of ``faltung.functional``;
the Keras-style classes in ``faltung.losses`` take (y_true, y_pred).

Every loss takes ``reduction``: ``"mean"`` (the default), ``"sum"``, or ``"none"``,
which returns the per-sample losses: the class (last) axis is reduced the way Keras
reduces it (a sum for the cross-entropies, a mean for the others), so an ``(N, C)``
prediction gives shape ``(N,)``. ``"mean"`` and ``"sum"`` are the mean and the sum of
those per-sample losses.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, Tensor
from ._checks import check_choice, float_tensor
from .activations import log_softmax
from .core import clip

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [ε, 1 - ε] before the log


REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any) -> None:
    check_choice(reduction, "reduction", REDUCTIONS)


def _reduce(per_sample: Tensor, reduction: str) -> Tensor:
    """Per-sample losses of shape output.shape[:-1], reduced as asked."""
    if reduction == "none":
        return per_sample
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


def _reduce_elementwise(elementwise: Tensor, reduction: str) -> Tensor:
    """Losses with one entry per output entry: Keras averages the last axis into per-sample losses."""
    if reduction == "mean":
        # The mean of per-sample means over equal-sized rows is the mean of all entries.
        return elementwise.mean()
    per_sample = elementwise.mean(axis=-1) if elementwise.ndim else elementwise
    return _reduce(per_sample, reduction)


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


def sparse_categorical_crossentropy(output: Any, labels: Any, from_logits: bool = False,
                                    reduction: str = "mean") -> Tensor:
    """-log p[label] per sample, reduced: output (N, C) probabilities or logits, labels (N,) or (N, 1) ints.

    ``reduction="none"`` gives shape (N,) (in general output.shape[:-1]).
    """
    _check_reduction(reduction)
    output = float_tensor(output, "output")
    y = _labels(labels, output)
    log_p = _log_probs(output, from_logits)
    flat = log_p.reshape(-1, output.shape[-1])
    picked = -flat[np.arange(flat.shape[0]), y.reshape(-1)]
    if reduction == "mean":
        return picked.mean()
    return _reduce(picked.reshape(output.shape[:-1]), reduction)


def categorical_crossentropy(output: Any, target: Any, from_logits: bool = False,
                             reduction: str = "mean") -> Tensor:
    """-sum_c target[c]·log p[c] per sample, reduced: output and one-hot target both (N, C)."""
    _check_reduction(reduction)
    output = float_tensor(output, "output")
    t = _target(target, output)
    return _reduce(-(_log_probs(output, from_logits) * t).sum(axis=-1), reduction)


class SigmoidCrossEntropyOp(Function):
    """Elementwise -[z·log σ(x) + (1-z)·log(1-σ(x))] = max(x, 0) - x·z + log(1 + e^-|x|)."""

    def forward(self, x, z):
        self.x, self.z = x, z
        return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        sig = 0.5 * (np.tanh(0.5 * self.x) + 1)
        return g * (sig - self.z), None


def binary_crossentropy(output: Any, target: Any, from_logits: bool = False,
                        reduction: str = "mean") -> Tensor:
    """-[z·log p + (1-z)·log(1-p)], averaged over the last axis per sample, then reduced;
    output probabilities (or logits) and target in [0, 1], same shape (N, K)."""
    _check_reduction(reduction)
    output = float_tensor(output, "output")
    z = _target(target, output)
    if from_logits:
        return _reduce_elementwise(SigmoidCrossEntropyOp.apply(output, z), reduction)
    p = clip(output, EPSILON, 1 - EPSILON)
    return _reduce_elementwise(-(z * p.log() + (1 - z) * (1 - p).log()), reduction)


def mean_squared_error(output: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(output - target)², averaged over the last axis per sample, then reduced (default: mean of all)."""
    _check_reduction(reduction)
    output = float_tensor(output, "output")
    diff = output - _target(target, output)
    return _reduce_elementwise(diff * diff, reduction)


def mean_absolute_error(output: Any, target: Any, reduction: str = "mean") -> Tensor:
    """|output - target|, averaged over the last axis per sample, then reduced (default: mean of all)."""
    _check_reduction(reduction)
    output = float_tensor(output, "output")
    diff = output - _target(target, output)
    return _reduce_elementwise(diff * np.sign(diff.data), reduction)
