"""Weight and activity regularizers, as ``keras.regularizers``: a penalty computed from a weight
(or a layer's output) that training adds to the loss.

>>> penalty = L2(0.01)([[1.0, 1.0]] * 3)        # 0.01 · Σ w² = 0.06, a scalar Tensor
>>> round(float(penalty.item()), 6)
0.06

Keras' rules: ``L1(l1)(w) = l1 · Σ|w|``, ``L2(l2)(w) = l2 · Σ w²``, ``L1L2`` both. A layer's
``kernel_regularizer``/``bias_regularizer`` penalties are summed into the loss of every training
and evaluation step; an ``activity_regularizer``'s penalty on the layer's output is divided by
the batch size first (Keras 3).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

from . import functional as F, registry
from .autograd import Tensor, tensor

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]


def _factor(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: {name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _abs_sum(x: Tensor) -> Tensor:
    # |x| = relu(x) + relu(-x): exact, with gradient sign(x) and 0 at 0 (as torch's abs)
    return (F.relu(x) + F.relu(-x)).sum()


class Regularizer:
    """Base class: ``regularizer(x) -> scalar Tensor``, differentiable with respect to ``x``."""

    def __call__(self, x: Any) -> Tensor:
        return tensor(x).sum() * 0.0

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Regularizer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 · Σ|x| + l2 · Σ x²`` (Keras' defaults 0.0 and 0.0)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = _factor("L1L2", "l1", l1), _factor("L1L2", "l2", l2)

    def __call__(self, x: Any) -> Tensor:
        x = tensor(x)
        total = x.sum() * 0.0
        if self.l1:
            total = total + self.l1 * _abs_sum(x)
        if self.l2:
            total = total + self.l2 * (x * x).sum()
        return total

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 · Σ|x|`` (Keras' default l1=0.01)."""

    def __init__(self, l1: float = 0.01):
        self.l1 = _factor("L1", "l1", l1)

    def __call__(self, x: Any) -> Tensor:
        return self.l1 * _abs_sum(tensor(x))

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 · Σ x²`` (Keras' default l2=0.01)."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _factor("L2", "l2", l2)

    def __call__(self, x: Any) -> Tensor:
        x = tensor(x)
        return self.l2 * (x * x).sum()

    def get_config(self) -> dict:
        return {"l2": self.l2}


# Keras 3's lower-case names are the classes themselves (so l1_l2() is L1L2(0.0, 0.0), no penalty)
l1, l2, l1_l2 = L1, L2, L1L2
for _cls, _names in ((L1, ("l1",)), (L2, ("l2",)), (L1L2, ("l1_l2", "l1l2")), (Regularizer, ())):
    registry.register("regularizer", *_names)(_cls)


def serialize(regularizer: Regularizer | None) -> dict | None:
    """``{"class_name": ..., "config": {...}}`` (JSON-able), or None."""
    if regularizer is None:
        return None
    if registry.entries("regularizer").get(type(regularizer).__name__) is not type(regularizer):
        raise ValueError(f"cannot serialize regularizer {regularizer!r}: only registered regularizers are "
                         "saved (files never carry code)")
    return registry.serialize(regularizer)


def deserialize(config: Mapping[str, Any]) -> Regularizer:
    """The regularizer described by ``serialize``'s dict (looked up in faltung's registry only)."""
    return registry.deserialize("regularizer", config)


def get(identifier: Any) -> Regularizer | None:
    """None, a Regularizer or callable as is, a name ('l1', 'l2', 'l1_l2') or a config dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return registry.lookup("regularizer", identifier.lower())()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"a regularizer must be None, a name, a dict or a callable; got {identifier!r}")
