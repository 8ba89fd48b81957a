"""Weight constraints, as ``keras.constraints``: after every optimizer step a constrained weight is
replaced by ``constraint(weight)`` (Keras 3 applies them right after the update).

>>> MaxNorm(2.0)(np.full((4, 1), 3.0)).round(4).ravel()      # each column's norm capped at 2
array([1., 1., 1., 1.])

``axis`` is the axis along which norms are taken: 0 for a Dense kernel (in, out) means one norm per
unit; for a conv kernel (kh, kw, C_in, C_out) use ``axis=[0, 1, 2]`` for one norm per filter.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import registry

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
           "non_neg", "unit_norm", "get", "serialize", "deserialize"]

EPSILON = 1e-7  # Keras' backend.epsilon(): keeps an all-zero column from dividing by zero


def _axis(axis: Any) -> Any:
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    return int(axis)


def _norms(w: np.ndarray, axis: Any) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``constraint(w) -> ndarray`` of ``w``'s shape and dtype."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Constraint":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Scale each slice along ``axis`` down to norm ``max_value`` when it is longer."""

    def __init__(self, max_value: float = 2, axis: Any = 0):
        if not isinstance(max_value, (int, float)) or isinstance(max_value, bool) or max_value < 0:
            raise ValueError(f"MaxNorm: max_value must be a number >= 0; got {max_value!r}")
        self.max_value, self.axis = max_value, _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return (w * (np.clip(norms, 0, self.max_value) / (EPSILON + norms))).astype(w.dtype)

    def get_config(self):
        return {"max_value": self.max_value, "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's norm ``rate`` of the way into [min_value, max_value]."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0):
        if not 0 <= min_value <= max_value:
            raise ValueError(f"MinMaxNorm: need 0 <= min_value <= max_value; got {min_value!r}, {max_value!r}")
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (EPSILON + norms))).astype(w.dtype)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}


class NonNeg(Constraint):
    """Negative entries become 0."""

    def __call__(self, w):
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to norm 1."""

    def __init__(self, axis: Any = 0):
        self.axis = _axis(axis)

    def __call__(self, w):
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype)

    def get_config(self):
        return {"axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm
for _cls, _names in ((MaxNorm, ("max_norm",)), (MinMaxNorm, ("min_max_norm",)), (NonNeg, ("non_neg",)),
                     (UnitNorm, ("unit_norm",)), (Constraint, ())):
    registry.register("constraint", *_names)(_cls)


def serialize(constraint: Constraint | None) -> dict | None:
    if constraint is None:
        return None
    if registry.entries("constraint").get(type(constraint).__name__) is not type(constraint):
        raise ValueError(f"cannot serialize constraint {constraint!r}: only registered constraints are "
                         "saved (files never carry code)")
    return registry.serialize(constraint)


def deserialize(config: Mapping[str, Any]) -> Constraint:
    return registry.deserialize("constraint", config)


def get(identifier: Any) -> Constraint | None:
    """None, a Constraint or callable as is, a name ('max_norm', 'non_neg', ...) or a config dict."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        names = registry.entries("constraint")
        return registry.lookup("constraint", identifier if identifier in names else identifier.lower())()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"a constraint must be None, a name, a dict or a callable; got {identifier!r}")
