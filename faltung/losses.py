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

from . import functional as F
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


# --------------------------------------------------------------------------- #
# Helpers shared with faltung.metrics
# --------------------------------------------------------------------------- #
def _snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: "SparseTopKCategoricalAccuracy" -> "sparse_top_k_categorical_accuracy"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _array(y: Any, name: str) -> np.ndarray:
    """The ndarray inside a Tensor, array or nested list, refusing non-numeric data."""
    a = np.asarray(getattr(y, "data", y))
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array or Tensor; got dtype {a.dtype}")
    return a


def _same_rank(x1: Any, x2: Any, expand_rank_1: bool = True) -> tuple[Any, Any]:
    """Keras' ``squeeze_or_expand_to_same_rank``: when ranks differ by one and the longer one ends
    in a 1, drop that axis (or give a rank-1 partner a trailing 1). Works on Tensors and arrays."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2.reshape(tuple(x2.shape) + (1,))
        else:
            x1 = x1.reshape(tuple(x1.shape[:-1]))
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1.reshape(tuple(x1.shape) + (1,))
        else:
            x2 = x2.reshape(tuple(x2.shape[:-1]))
    return x1, x2


def _check_name(obj: Any, name: Any) -> str:
    """``name``, or Keras' default, the snake_case class name, when it is None or empty."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{type(obj).__name__}: name must be a str or None; got {name!r}")
    return name or _snake_case(type(obj).__name__)


def _function_name(fn: Callable[..., Any]) -> str:
    # A wrapped function is saved by name only: files never carry code, so a custom function
    # saves fine but cannot be restored (_wrapper_from_config names it).
    return getattr(fn, "__name__", type(fn).__name__)


def _from_config(cls: type, config: Mapping[str, Any]) -> Any:
    """``cls(**config)``, refusing keys the constructor does not take (named in the error)."""
    if not isinstance(config, Mapping):
        raise TypeError(f"{cls.__name__}.from_config: config must be a dict; got {type(config).__name__}")
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    allowed = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
    unknown = sorted(set(config) - set(allowed))
    if unknown and not takes_any:
        raise ValueError(f"{cls.__name__}.from_config: unknown config keys {unknown}; expected some of {allowed}")
    return cls(**config)


def _wrapper_from_config(cls: type, config: Mapping[str, Any], kind: str,
                         functions: Mapping[str, Callable[..., Any]]) -> Any:
    """``cls(fn, **config)``, with the config's ``"fn"`` name looked up in ``functions`` only."""
    config = dict(config)
    name = config.pop("fn", None)
    fn = functions.get(name) if isinstance(name, str) else None
    if fn is None:
        raise ValueError(f"unknown {kind} function {name!r}: only faltung's own {kind} functions "
                         f"{sorted(functions)} can be restored (files never carry code)")
    return cls(fn, **config)


def _lookup(kind: str, registry: Mapping[str, type], config: Any) -> Any:
    """The object described by ``{"class_name": ..., "config": {...}}``, found in ``registry`` only."""
    if (not isinstance(config, Mapping) or not isinstance(config.get("class_name"), str)
            or not isinstance(config.get("config", {}), Mapping)):
        raise ValueError(f"deserialize: expected a dict {{'class_name': str, 'config': dict}}; got {config!r}")
    cls = registry.get(config["class_name"])
    if cls is None:
        raise ValueError(f"unknown {kind} class_name {config['class_name']!r}; expected one of {sorted(registry)}")
    return cls.from_config(dict(config.get("config") or {}))


def _unknown_name(kind: str, identifier: str, known: list[str]) -> ValueError:
    hint = [k for k in known if k.lower() == identifier.lower()]
    extra = f" (names are case-sensitive, as in Keras: did you mean {hint[0]!r}?)" if hint else ""
    return ValueError(f"unknown {kind} {identifier!r}{extra}; expected one of {sorted(known)}")


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
    y_true = _array(y_true, "y_true").astype(y_pred.dtype)
    y_true, y_pred = _same_rank(y_true, y_pred)
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
    return F.sparse_categorical_crossentropy(y_pred, _array(y_true, "y_true"), from_logits=from_logits,
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

_FUNCTIONS: dict[str, Callable[..., Tensor]] = {f.__name__: f for f in (
    sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy,
    mean_squared_error, mean_absolute_error)}


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
        weight = _array(sample_weight, "sample_weight").astype(values.dtype)
        values, weight = _same_rank(values, weight)
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
        self.name = _check_name(self, name)
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
        return _from_config(cls, config)

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
        y_true = _array(y_true, "y_true")
        # Keras aligns ranks before calling the function (except for sparse labels, where they differ by design).
        if self.fn is not sparse_categorical_crossentropy:
            y_true, y_pred = _same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": _function_name(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LossFunctionWrapper":
        return _wrapper_from_config(cls, config, "loss", _FUNCTIONS)


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
_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError)}
_REGISTRY: dict[str, type] = {**_CLASSES, "LossFunctionWrapper": LossFunctionWrapper}
# Function names and Keras' aliases (case as Keras: "mse" and "MSE", not "Mse").
_FUNCTION_NAMES: dict[str, type] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
}


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
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        if identifier in _FUNCTION_NAMES:
            return _FUNCTION_NAMES[identifier](name=identifier)
        raise _unknown_name("loss", identifier, [*_CLASSES, *_FUNCTION_NAMES])
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
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: Mapping[str, Any] | str) -> Loss:
    """The Loss described by ``serialize``'s dict (or a name, as ``get``); never imports or evaluates."""
    if isinstance(config, str):
        return get(config)
    return _lookup("loss", _REGISTRY, config)
