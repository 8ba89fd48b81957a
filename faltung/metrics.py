"""Keras-style stateful metrics over NumPy arrays (``update_state``/``result``/``reset_state``),
their per-sample functions, and ``get``/``serialize``/``deserialize`` by name.

>>> m = get("accuracy", loss="sparse_categorical_crossentropy")
>>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]])
>>> m.name, m.result()
('accuracy', 0.5)

Every metric here is a running mean like Keras' ``Mean``: each batch adds the sum of its
per-sample values to ``total`` and its number of samples (or the sum of the sample
weights) to ``count``, so batches of different sizes are weighted by size.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from . import backend
from . import losses as losses_module
from . import registry
from .objects import checked_from_config, default_name, function_name, snake_case, wrapper_from_config
from .targets import as_array, same_rank

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "MeanSquaredError", "MeanAbsoluteError", "AutoAccuracy",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error",
    "get", "serialize", "deserialize",
]


# --------------------------------------------------------------------------- #
# Per-sample metric functions (NumPy in, float64 array out; Keras' definitions)
# --------------------------------------------------------------------------- #
def _matching(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both as arrays of at least rank 1, ranks aligned the Keras way, shapes equal."""
    y_pred = as_array(y_pred, "y_pred")
    y_true = as_array(y_true, "y_true")
    if y_pred.ndim == 0 or y_true.ndim == 0:
        raise ValueError(f"y_true and y_pred need a batch axis; got shapes {y_true.shape} and {y_pred.shape}")
    y_true, y_pred = same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got y_true {y_true.shape} "
                         f"and y_pred {y_pred.shape}")
    return y_true, y_pred


def _class_labels(y_true: Any, y_pred: np.ndarray) -> np.ndarray:
    """Integer labels of shape y_pred.shape[:-1] (a trailing axis of 1 dropped), validated."""
    y = as_array(y_true, "y_true")
    if y_pred.ndim == 0:
        raise ValueError(f"y_pred must have a class axis; got shape {y_pred.shape}")
    if y.ndim == y_pred.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != y_pred.shape[:-1]:
        raise ValueError(f"y_true must hold one class label per sample, shape {y_pred.shape[:-1]} "
                         f"(or {y_pred.shape[:-1] + (1,)}) for y_pred {y_pred.shape}; got {y.shape}")
    if y.dtype.kind == "f" and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
        raise ValueError("y_true must hold whole class numbers; got non-integer values")
    y = y.astype(np.int64)
    classes = y_pred.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"y_true labels must be in [0, {classes}) for {classes} classes; "
                         f"got values from {y.min()} to {y.max()}")
    return y


def _one_hot_shaped(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_pred = as_array(y_pred, "y_pred")
    y_true = as_array(y_true, "y_true")
    if y_pred.ndim == 0 or y_true.shape != y_pred.shape:
        hint = (" (integer labels? use sparse_categorical_accuracy)"
                if y_pred.ndim and y_true.shape in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)) else "")
        raise ValueError(f"y_true must be one-hot with y_pred's shape {y_pred.shape}; got {y_true.shape}{hint}")
    return y_true, y_pred


def _in_top_k(labels: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Whether each label's score is among the k largest; ties at the boundary count as in (as TF)."""
    if k >= y_pred.shape[-1]:
        return np.ones(labels.shape, dtype=bool)
    kth = -np.partition(-y_pred, k - 1, axis=-1)[..., k - 1]
    target = np.take_along_axis(y_pred, labels[..., None], axis=-1)[..., 0]
    return target >= kth


def _check_k(owner: str, k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{owner}: k must be a positive int; got {k!r}")
    return int(k)


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample fraction of entries where y_pred == y_true exactly, over the last axis: (N, K) -> (N,)."""
    y_true, y_pred = _matching(y_true, y_pred)
    return np.mean(y_true.astype(y_pred.dtype) == y_pred, axis=-1, dtype=np.float64)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Per-sample fraction of entries where (y_pred > threshold) == y_true: (N, K) -> (N,)."""
    y_true, y_pred = _matching(y_true, y_pred)
    return np.mean((y_pred > threshold).astype(y_true.dtype) == y_true, axis=-1, dtype=np.float64)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) == argmax(y_true), else 0.0: one-hot (N, C) -> (N,)."""
    y_true, y_pred = _one_hot_shaped(y_true, y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) == label, else 0.0: labels (N,) or (N, 1), y_pred (N, C) -> (N,)."""
    y_pred = as_array(y_pred, "y_pred")
    labels = _class_labels(y_true, y_pred)
    return (np.argmax(y_pred, axis=-1) == labels).astype(np.float64)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the class of argmax(y_true) is among the k highest scores: (N, C) -> (N,)."""
    k = _check_k("top_k_categorical_accuracy", k)
    y_true, y_pred = _one_hot_shaped(y_true, y_pred)
    return _in_top_k(np.argmax(y_true, axis=-1), y_pred, k).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the label is among the k highest scores: labels (N,) or (N, 1), y_pred (N, C) -> (N,)."""
    k = _check_k("sparse_top_k_categorical_accuracy", k)
    y_pred = as_array(y_pred, "y_pred")
    return _in_top_k(_class_labels(y_true, y_pred), y_pred, k).astype(np.float64)


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample mean over the last axis of (y_true - y_pred)²: (N, K) -> (N,)."""
    y_true, y_pred = _matching(y_true, y_pred)
    return np.mean(np.square(y_true.astype(np.float64) - y_pred), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample mean over the last axis of |y_true - y_pred|: (N, K) -> (N,)."""
    y_true, y_pred = _matching(y_true, y_pred)
    return np.mean(np.abs(y_true.astype(np.float64) - y_pred), axis=-1)


for _fn in (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_squared_error, mean_absolute_error):
    registry.register("metric_function")(_fn)


# --------------------------------------------------------------------------- #
# Metric classes
# --------------------------------------------------------------------------- #
def _samplewise(values: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras' ``reduce_to_samplewise_values`` with a mean: one weighted value per sample, and the
    weight per sample (None when unweighted)."""
    values = np.asarray(values, dtype=np.float64)
    weight = None
    if sample_weight is not None:
        weight = as_array(sample_weight, "sample_weight").astype(np.float64)
        values, weight = same_rank(values, weight)
        if values.ndim > weight.ndim:  # average the entries each weight covers
            values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
        try:
            weight = np.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {weight.shape} does not fit values of shape "
                             f"{values.shape}; expected one weight per sample") from None
        values = values * weight
        if weight.ndim > 1:
            weight = weight.mean(axis=tuple(range(1, weight.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, weight


class Metric:
    """Base class: ``update_state(...)`` accumulates, ``result()`` reads a float, ``reset_state()`` clears.

    ``metric(*args)`` updates and returns the result, as in Keras.
    """

    _direction: str | None = None  # "up" or "down": which way is better (read by callbacks)

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = default_name(self, name)
        try:
            dt = np.dtype(backend.floatx() if dtype is None else dtype)
        except TypeError:
            dt = None
        if dt is None or dt.kind != "f":
            raise ValueError(f"{type(self).__name__}: dtype must be a float dtype such as 'float32'; got {dtype!r}")
        self.dtype = dt.name

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state()")

    def result(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def reset_state(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state()")

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Metric":
        return checked_from_config(cls, config)

    def __repr__(self) -> str:
        try:
            shown = f" result={self.result():.6g}"
        except NotImplementedError:
            shown = ""
        return f"<{type(self).__name__} name={self.name!r}{shown}>"


class Mean(Metric):
    """The (weighted) running mean of the values given: ``update_state(values, sample_weight=None)``.

    >>> m = Mean(); m.update_state([1, 3, 5, 7]); m.result()
    4.0
    """

    def __init__(self, name: str = "mean", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """values: (N, ...) per-sample values (reduced to (N,) by a mean); sample_weight: (N,) or
        broadcastable. ``count`` grows by N, or by the sum of the weights."""
        values, weight = _samplewise(as_array(values, "values"), sample_weight)
        self.total += float(values.sum())
        if weight is not None:
            self.count += float(weight.sum())
        else:
            self.count += float(values.shape[0]) if values.ndim else 1.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def result(self) -> float:
        value = self.total / self.count if self.count else 0.0  # Keras' divide_no_nan
        return float(np.asarray(value, dtype=self.dtype))


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)``, a per-sample function."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: fn must be callable; got {fn!r}")
        super().__init__(name=name or snake_case(type(self).__name__), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """y_true, y_pred: arrays or Tensors as ``fn`` takes them; sample_weight: (N,) or None."""
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(np.asarray(getattr(values, "data", values)), sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": function_name(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "MeanMetricWrapper":
        return wrapper_from_config(cls, config, "metric_function")


class _FixedFunction(MeanMetricWrapper):
    """A MeanMetricWrapper whose function is part of the class, as in Keras: each subclass passes
    its function to ``__init__``, and its config omits ``fn``."""

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Metric":
        return checked_from_config(cls, config)


class Accuracy(_FixedFunction):
    """How often y_pred equals y_true exactly (for class predictions, not scores)."""

    _direction = "up"

    def __init__(self, name: str = "accuracy", dtype: Any = None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_FixedFunction):
    """How often (y_pred > threshold) matches 0/1 labels: y_pred (N, 1) and y_true (N,) or (N, 1)."""

    _direction = "up"

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must be a float in (0, 1); got {threshold!r}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=float(threshold))
        self.threshold = float(threshold)


class CategoricalAccuracy(_FixedFunction):
    """How often argmax(y_pred) matches argmax of the one-hot y_true: both (N, C)."""

    _direction = "up"

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_FixedFunction):
    """How often argmax(y_pred) matches integer labels: y_true (N,) or (N, 1), y_pred (N, C)."""

    _direction = "up"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_FixedFunction):
    """How often the one-hot target class is among the k highest scores: both (N, C)."""

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        self.k = _check_k(type(self).__name__, k)
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=self.k)


class SparseTopKCategoricalAccuracy(_FixedFunction):
    """How often the integer label is among the k highest scores: y_true (N,) or (N, 1), y_pred (N, C)."""

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None):
        self.k = _check_k(type(self).__name__, k)
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=self.k)


class MeanSquaredError(_FixedFunction):
    """Running mean of the per-sample mean squared error."""

    _direction = "down"

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_FixedFunction):
    """Running mean of the per-sample mean absolute error."""

    _direction = "down"

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


def _accuracy_for_shapes(y_true: np.ndarray, y_pred: np.ndarray) -> type:
    """Keras' ``is_binary_or_sparse_categorical`` (trainers/compile_utils.py), on the first batch."""
    if y_pred.ndim < 2:
        # One score per sample: only binary accuracy means anything. (Keras would pick categorical
        # accuracy here unless N == 1 and compare argmaxes across the batch.)
        return BinaryAccuracy
    if y_true.ndim == 0:
        raise ValueError(f"y_true needs a batch axis; got shape {y_true.shape}")
    if y_pred.shape[-1] == 1:
        return BinaryAccuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


class AutoAccuracy(Metric):
    """The string ``"accuracy"``/``"acc"`` when nothing says which accuracy it means: on the first
    ``update_state`` it becomes binary, sparse categorical or categorical accuracy from the shapes
    of y_true and y_pred, exactly as Keras' ``compile()`` decides, keeping the name written.

    (Not a Keras class: Keras makes this choice inside ``compile``, where faltung's
    ``metrics.get`` cannot see the data yet.)
    """

    _direction = "up"

    def __init__(self, name: str = "accuracy", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.resolved: Metric | None = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if self.resolved is None:
            cls = _accuracy_for_shapes(as_array(y_true, "y_true"), as_array(y_pred, "y_pred"))
            self.resolved = cls(name=self.name, dtype=self.dtype)
        self.resolved.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self) -> float:
        return 0.0 if self.resolved is None else self.resolved.result()

    def reset_state(self) -> None:
        # The choice stays: the shapes of a model's targets do not change between epochs.
        if self.resolved is not None:
            self.resolved.reset_state()


# --------------------------------------------------------------------------- #
# Lookup by name, (de)serialization
# --------------------------------------------------------------------------- #
# Keras' metrics.ALL_OBJECTS_DICT: class names, their snake_case, and the aliases.
_ALIASES = {MeanSquaredError: ("mse", "MSE"), MeanAbsoluteError: ("mae", "MAE")}
for _cls in (Mean, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
             SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError):
    registry.register("metric", snake_case(_cls.__name__), *_ALIASES.get(_cls, ()))(_cls)
for _cls in (Accuracy, MeanMetricWrapper, AutoAccuracy):  # by class name, in configs
    registry.register("metric")(_cls)
_ACCURACY_NAMES = ("accuracy", "acc")


def _accuracy_for_loss(loss: Any) -> type | None:
    """The accuracy a cross-entropy loss implies (None for other losses)."""
    loss = losses_module.get(loss)
    fn = getattr(loss, "fn", None)
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy) \
            or fn is losses_module.sparse_categorical_crossentropy:
        return SparseCategoricalAccuracy
    if isinstance(loss, losses_module.CategoricalCrossentropy) or fn is losses_module.categorical_crossentropy:
        return CategoricalAccuracy
    if isinstance(loss, losses_module.BinaryCrossentropy) or fn is losses_module.binary_crossentropy:
        return BinaryAccuracy
    return None


def get(identifier: str | Mapping[str, Any] | Metric | Callable[..., Any] | None,
        loss: Any = None) -> Metric | None:
    """A Metric from a Keras name, a ``{"class_name", "config"}`` dict, a Metric (returned as is),
    a Metric class, or a per-sample function ``fn(y_true, y_pred)`` (wrapped in a running mean).

    ``"accuracy"``/``"acc"`` (any case, as Keras' ``compile`` checks) mean binary, sparse
    categorical or categorical accuracy: chosen from ``loss`` (a Loss or its name) when it is a
    cross-entropy, else from the shapes of the first batch (``AutoAccuracy``). A metric named by a
    string keeps that string as its name, as in Keras' logs (``"acc"``, ``"mse"``).

    >>> get("acc", loss="binary_crossentropy")
    <BinaryAccuracy name='acc' result=0>
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in _ACCURACY_NAMES:
            cls = _accuracy_for_loss(loss) if loss is not None else None
            return (cls or AutoAccuracy)(name=identifier)
        if identifier == "MeanMetricWrapper":  # a wrapper needs its function
            raise ValueError("MeanMetricWrapper needs its function: pass the function itself as the metric")
        try:
            cls = registry.lookup("metric", identifier)
        except ValueError as err:
            raise ValueError(f"{err}; and {' or '.join(map(repr, _ACCURACY_NAMES))} (chosen from the loss)") \
                from None
        return cls(name=identifier)
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "name", None) or getattr(identifier, "__name__", None)
        return MeanMetricWrapper(identifier, name=name if isinstance(name, str) else None)
    raise TypeError(f"could not interpret metric identifier {identifier!r}; expected a name, a config dict, "
                    f"a Metric or a function (y_true, y_pred) -> per-sample values")


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": ..., "config": {...}}`` of a Metric (JSON-able for faltung's own metrics).

    Custom classes and functions are written by name; ``deserialize`` restores only faltung's own.
    """
    if not isinstance(metric, Metric):
        raise TypeError(f"serialize: expected a Metric; got {type(metric).__name__}")
    return registry.serialize(metric)


def deserialize(config: Mapping[str, Any] | str) -> Metric:
    """The Metric described by ``serialize``'s dict (or a name, as ``get``); never imports or evaluates."""
    if isinstance(config, str):
        return get(config)
    return registry.deserialize("metric", config)
