"""Keras-style losses: classes called as ``loss(y_true, y_pred, sample_weight=None)``, the
per-sample loss functions, and ``get``/``serialize``/``deserialize`` by name, built on
``faltung.functional``'s differentiable losses.

>>> loss = get("sparse_categorical_crossentropy")
>>> loss([1, 2], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]).item()   # doctest: +ELLIPSIS
1.17...

Argument order is Keras' (y_true, y_pred), the reverse of ``faltung.functional``.
"""
from __future__ import annotations

import inspect
import re
import warnings
from typing import Any, Callable, Mapping

import numpy as np

from . import functional as F, registry
from .objects import checked_from_config, default_name, function_name, snake_case, wrapper_from_config
from .targets import as_array, same_rank
from .autograd import Tensor, tensor
from .functional._checks import float_tensor

__all__ = [
    "Loss", "LossFunctionWrapper", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
    "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "mean_squared_error", "mean_absolute_error", "mse", "mae",
    "get", "serialize", "deserialize",
]

# Keras' `standardize_reduction`: None and "none" both mean "no aggregation".
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool; got {value!r}")
    return bool(value)


def _check_fraction(owner: str, name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{owner}: {name} must be a float in [0, 1]; got {value!r}")
    return float(value)


def _check_axis(owner: str, axis: Any) -> int:
    # faltung's losses work on the last (channels-last class) axis only.
    if axis != -1 or isinstance(axis, bool):
        raise ValueError(f"{owner}: axis must be -1 (the class axis is last in faltung); got {axis!r}")
    return -1


# --------------------------------------------------------------------------- #
# Per-sample loss functions (Keras' keras.losses.* functions)
# --------------------------------------------------------------------------- #
def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, Tensor]:
    """y_pred as a float Tensor, y_true as an array of its dtype, ranks aligned the Keras way."""
    y_pred = float_tensor(y_pred, "y_pred")
    y_true = as_array(y_true, "y_true").astype(y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got y_true {y_true.shape} "
                         f"and y_pred {y_pred.shape}")
    return y_true, y_pred


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Tensor:
    """Per-sample -log p[label]: y_true (N,) or (N, 1) integer labels, y_pred (N, C) -> (N,).

    >>> sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).numpy()  # doctest: +SKIP
    array([0.0513, 2.303], dtype=float32)
    """
    _check_axis("sparse_categorical_crossentropy", axis)
    if ignore_class is not None:
        raise ValueError(f"sparse_categorical_crossentropy: ignore_class is not supported yet; "
                         f"got ignore_class={ignore_class!r}, expected None")
    y_pred = float_tensor(y_pred, "y_pred")
    return F.sparse_categorical_crossentropy(y_pred, as_array(y_true, "y_true"), from_logits=from_logits,
                                             reduction="none")


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Per-sample -sum_c y_true[c]·log p[c]: y_true one-hot and y_pred both (N, C) -> (N,).

    ``label_smoothing`` ε replaces y_true by ``y_true·(1 - ε) + ε / C``.
    """
    owner = "categorical_crossentropy"
    _check_axis(owner, axis)
    label_smoothing = _check_fraction(owner, "label_smoothing", label_smoothing)
    y_true, y_pred = _pair(y_true, y_pred)
    if y_pred.shape[-1] == 1:
        warnings.warn(f"In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) "
                      f"with num_classes > 1. Received: y_pred.shape={y_pred.shape}. Consider using "
                      f"'binary_crossentropy' if you only have 2 classes.", stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return F.categorical_crossentropy(y_pred, y_true, from_logits=from_logits, reduction="none")


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Per-sample mean over the last axis of -[z·log p + (1-z)·log(1-p)]: (N, K) -> (N,).

    ``label_smoothing`` ε squeezes the targets towards 0.5: ``z·(1 - ε) + 0.5·ε``.
    A y_true of shape (N,) meets a y_pred of shape (N, 1) (Keras aligns the ranks).
    """
    owner = "binary_crossentropy"
    _check_axis(owner, axis)
    label_smoothing = _check_fraction(owner, "label_smoothing", label_smoothing)
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return F.binary_crossentropy(y_pred, y_true, from_logits=from_logits, reduction="none")


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """Per-sample mean over the last axis of (y_true - y_pred)²: (N, K) -> (N,)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return F.mean_squared_error(y_pred, y_true, reduction="none")


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """Per-sample mean over the last axis of |y_true - y_pred|: (N, K) -> (N,)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return F.mean_absolute_error(y_pred, y_true, reduction="none")


mse = mean_squared_error
mae = mean_absolute_error

for _fn in (sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, mean_squared_error,
            mean_absolute_error):
    registry.register("loss_function")(_fn)


# --------------------------------------------------------------------------- #
# Reduction (Keras' reduce_weighted_values)
# --------------------------------------------------------------------------- #
def _check_reduction(reduction: Any) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduction!r}")
    return reduction


def _reduce_weighted(values: Tensor, sample_weight: Any, reduction: str | None) -> Tensor:
    """Weight the per-sample losses, then reduce: "sum_over_batch_size"/"mean" divide the sum by
    the number of loss entries (not by the sum of the weights), as Keras does."""
    weight = None
    if sample_weight is not None:
        weight = as_array(sample_weight, "sample_weight").astype(values.dtype)
        values, weight = same_rank(values, weight)
        try:
            np.broadcast_shapes(values.shape, weight.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {weight.shape} does not fit the per-sample losses of "
                             f"shape {values.shape}; expected one weight per sample") from None
        values = values * weight
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and weight is not None:
        divisor = float(weight.sum())
    else:
        divisor = float(values.size)
    return loss / divisor if divisor else loss * 0.0  # Keras' divide_no_nan


# --------------------------------------------------------------------------- #
# Loss classes
# --------------------------------------------------------------------------- #
class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred) -> per-sample Tensor``.

    ``loss(y_true, y_pred, sample_weight=None)`` returns a scalar Tensor (by default the mean
    over the batch), differentiable w.r.t. y_pred. ``reduction`` is one of Keras'
    ``"sum_over_batch_size"`` (default; same as ``"mean"``), ``"sum"``,
    ``"mean_with_sample_weight"`` (divide by the sum of the weights), ``"none"``/None.
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size"):
        self.name = default_name(self, name)
        self.reduction = _check_reduction(reduction)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        values = tensor(self.call(y_true, y_pred))
        return _reduce_weighted(values, sample_weight, self.reduction)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Loss":
        return checked_from_config(cls, config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A Loss around a function ``fn(y_true, y_pred, **kwargs) -> per-sample Tensor``.

    ``deserialize`` restores it only when ``fn`` is one of this module's loss functions.
    """

    def __init__(self, fn: Callable[..., Any], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, **kwargs: Any):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: fn must be callable; got {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction)
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # builtins without a signature: trust the caller
            params = None
        if params is not None and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            unknown = sorted(set(kwargs) - set(params))
            if unknown:
                raise ValueError(f"LossFunctionWrapper: {getattr(fn, '__name__', fn)!r} takes no "
                                 f"arguments {unknown}")
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        y_pred = float_tensor(y_pred, "y_pred")
        y_true = as_array(y_true, "y_true")
        # Keras aligns ranks before calling the function (except for sparse labels, where they differ by design).
        if self.fn is not sparse_categorical_crossentropy:
            y_true, y_pred = same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": function_name(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LossFunctionWrapper":
        return wrapper_from_config(cls, config, "loss_function")


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer labels: y_true (N,) or (N, 1), y_pred (N, C) probabilities or logits.

    >>> SparseCategoricalCrossentropy()([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).item()  # doctest: +ELLIPSIS
    1.17...
    """

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", name: str = "sparse_categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = _check_bool(type(self).__name__, "from_logits", from_logits)
        if ignore_class is not None:
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class is not supported yet; "
                             f"got ignore_class={ignore_class!r}, expected None")
        self.ignore_class = ignore_class

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


class _SmoothedCrossentropy(Loss):
    """What Categorical- and BinaryCrossentropy share: Keras' ``from_logits``, ``label_smoothing``
    and ``axis`` arguments, checked, saved and passed on to the per-sample function ``fn``."""

    def __init__(self, fn: Callable[..., Tensor], from_logits: bool, label_smoothing: float, axis: int,
                 reduction: str | None, name: str):
        super().__init__(name=name, reduction=reduction)
        owner = type(self).__name__
        self._fn = fn
        self.from_logits = _check_bool(owner, "from_logits", from_logits)
        self.label_smoothing = _check_fraction(owner, "label_smoothing", label_smoothing)
        self.axis = _check_axis(owner, axis)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return self._fn(y_true, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy for one-hot (or soft) labels: y_true and y_pred both (N, C).

    ``label_smoothing`` ε uses ε/C for the other classes and 1 - ε + ε/C for the target class.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "categorical_crossentropy"):
        super().__init__(categorical_crossentropy, from_logits, label_smoothing, axis, reduction, name)


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy for 0/1 targets: y_pred (N, K) probabilities or logits, y_true the same shape
    (or (N,) against (N, 1)). ``label_smoothing`` ε uses targets ``z·(1 - ε) + 0.5·ε``."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "binary_crossentropy"):
        super().__init__(binary_crossentropy, from_logits, label_smoothing, axis, reduction, name)


class MeanSquaredError(Loss):
    """Mean of (y_true - y_pred)² over the last axis, then over the batch."""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """Mean of |y_true - y_pred| over the last axis, then over the batch."""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return mean_absolute_error(y_true, y_pred)


# --------------------------------------------------------------------------- #
# Lookup by name, (de)serialization
# --------------------------------------------------------------------------- #
# Class names, and Keras' function names and aliases for the same classes (case as Keras: "mse" and
# "MSE", not "Mse"); a wrapper is restored from its config only.
for _cls, _names in ((SparseCategoricalCrossentropy, ("sparse_categorical_crossentropy",)),
                     (CategoricalCrossentropy, ("categorical_crossentropy",)),
                     (BinaryCrossentropy, ("binary_crossentropy", "bce", "BCE")),
                     (MeanSquaredError, ("mean_squared_error", "mse", "MSE")),
                     (MeanAbsoluteError, ("mean_absolute_error", "mae", "MAE")), (LossFunctionWrapper, ())):
    registry.register("loss", *_names)(_cls)


def get(identifier: str | Mapping[str, Any] | Loss | Callable[..., Any] | None) -> Loss | None:
    """A Loss from a Keras name, a ``{"class_name", "config"}`` dict, a Loss (returned as is),
    a Loss class, or a function ``fn(y_true, y_pred) -> per-sample Tensor`` (wrapped).

    Always a Loss instance, as Keras' ``compile()`` makes one: a function name or alias
    (``"mse"``) gives the class named after what was written; a class name gives its
    default name.

    >>> get("mse").name, get("MeanSquaredError").name
    ('mse', 'mean_squared_error')
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier != "LossFunctionWrapper":  # a wrapper needs its function
        cls = registry.lookup("loss", identifier)
        return cls() if identifier == cls.__name__ else cls(name=identifier)
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"could not interpret loss identifier {identifier!r}; expected a name, a config dict, "
                    f"a Loss or a function (y_true, y_pred) -> Tensor")


def serialize(loss: Loss | Callable[..., Any]) -> dict[str, Any]:
    """``{"class_name": ..., "config": {...}}`` of a Loss (or of a loss function, wrapped).

    Custom classes and functions are written by name; ``deserialize`` restores only faltung's own.
    """
    if not isinstance(loss, Loss):
        if not callable(loss):
            raise TypeError(f"serialize: expected a Loss; got {type(loss).__name__}")
        loss = get(loss)
    return registry.serialize(loss)


def deserialize(config: Mapping[str, Any] | str) -> Loss:
    """The Loss described by ``serialize``'s dict (or a name, as ``get``); never imports or evaluates."""
    if isinstance(config, str):
        return get(config)
    return registry.deserialize("loss", config)
