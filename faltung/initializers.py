"""Initializers: how a new weight array is filled, Keras 3's initializers by class and by name.

>>> init = get("glorot_uniform")          # or GlorotUniform()
>>> kernel = init((3, 3, 1, 32))          # float32 (backend.floatx()), shape (kh, kw, C_in, C_out)

Random initializers draw from ``backend.rng()``, so ``backend.set_seed(n)`` makes
them repeatable; an initializer given an integer ``seed`` returns the same values
on every call instead (as Keras' integer seeds do).

Fans follow Keras' ``compute_fans``: a Dense kernel ``(in, out)`` has
``fan_in = in, fan_out = out``; a conv kernel ``(kh, kw, C_in, C_out)`` has
``fan_in = kh*kw*C_in`` and ``fan_out = kh*kw*C_out``.
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Any, Mapping, Sequence

import numpy as np

from . import backend, registry

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
]

# Standard deviation of a standard normal truncated to [-2, 2]: dividing by it makes
# the *truncated* distribution have the intended stddev (Keras' constant).
TRUNCATED_STDDEV_FACTOR = 0.87962566103423978


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_real(owner: str, name: str, value: Any, *, positive: bool = False) -> float:
    if not _is_real(value) or not math.isfinite(float(value)) or (positive and float(value) <= 0):
        expected = "a finite float > 0" if positive else "a finite float"
        raise ValueError(f"{owner}: `{name}` must be {expected}; received {name}={value!r}")
    return float(value)


def _check_shape(owner: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) and d >= 0 for d in dims
    ):
        raise ValueError(f"{owner}: `shape` must be a tuple of non-negative ints; received shape={shape!r}")
    return tuple(int(d) for d in dims)


def _check_dtype(owner: str, dtype: Any, *, float_only: bool) -> np.dtype:
    if dtype is None:
        return np.dtype(backend.floatx())
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    kinds = "f" if float_only else "fiub"
    if dt is None or dt.kind not in kinds:
        expected = "a float dtype" if float_only else "a numeric dtype"
        raise ValueError(f"{owner}: `dtype` must be {expected} or None; received dtype={dtype!r}")
    return dt


def _check_seed(owner: str, seed: Any) -> int | None:
    if seed is None:
        return None
    if not isinstance(seed, numbers.Integral) or isinstance(seed, (bool, np.bool_)) or seed < 0:
        raise ValueError(f"{owner}: `seed` must be a non-negative int or None; received seed={seed!r}")
    return int(seed)


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    ``()`` -> ``(1, 1)``; ``(n,)`` -> ``(n, n)``; ``(in, out)`` -> ``(in, out)``;
    ``(k1, ..., C_in, C_out)`` -> ``(r * C_in, r * C_out)`` with the receptive field
    size ``r = k1 * ...``.

    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(int(d) for d in shape[:-2])
    return int(shape[-2]) * receptive_field, int(shape[-1]) * receptive_field


def truncated_normal(
    rng: np.random.Generator, shape: tuple[int, ...], mean: float, stddev: float
) -> np.ndarray:
    """float64 normal samples ``N(mean, stddev**2)``; those beyond 2 stddev from ``mean`` are redrawn."""
    x = rng.standard_normal(shape)
    flat = x.reshape(-1)
    redo = np.flatnonzero(np.abs(flat) > 2.0)
    while redo.size:  # each round keeps ~95% of what it draws, so this ends fast
        flat[redo] = rng.standard_normal(redo.size)
        redo = redo[np.abs(flat[redo]) > 2.0]
    x *= stddev
    x += mean
    return x


class Initializer:
    """Base class: ``init(shape, dtype=None) -> np.ndarray``; ``dtype=None`` means ``backend.floatx()``."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        raise NotImplementedError(f"Initializer '{type(self).__name__}' must override `__call__`.")

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Initializer":
        return cls(**dict(config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.zeros(_check_shape("Zeros", shape), dtype=_check_dtype("Zeros", dtype, float_only=False))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.ones(_check_shape("Ones", shape), dtype=_check_dtype("Ones", dtype, float_only=False))


class Constant(Initializer):
    """Every element equal to the scalar ``value``.

    >>> Constant(0.5)((2,))
    array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, value: float = 0.0) -> None:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        elif isinstance(value, np.generic):
            value = value.item()
        if not _is_real(value):
            raise ValueError(f"Constant: `value` must be a real scalar; received value={value!r}")
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.full(
            _check_shape("Constant", shape), self.value, dtype=_check_dtype("Constant", dtype, float_only=False)
        )

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class _Random(Initializer):
    """Shared seed handling: ``seed=None`` draws from ``backend.rng()``; an int repeats itself."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = _check_seed(type(self).__name__, seed)

    def _rng(self) -> np.random.Generator:
        return backend.rng() if self.seed is None else np.random.default_rng(self.seed)

    def _prepare(self, shape: Sequence[int], dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
        owner = type(self).__name__
        return _check_shape(owner, shape), _check_dtype(owner, dtype, float_only=True)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(_Random):
    """Normal samples ``N(mean, stddev**2)``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = _check_real("RandomNormal", "mean", mean)
        self.stddev = _check_real("RandomNormal", "stddev", stddev)
        super().__init__(seed)

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        shape, dt = self._prepare(shape, dtype)
        return self._rng().normal(self.mean, self.stddev, size=shape).astype(dt)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(_Random):
    """Normal samples ``N(mean, stddev**2)``; values more than 2 stddev from ``mean`` are redrawn."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = _check_real("TruncatedNormal", "mean", mean)
        self.stddev = _check_real("TruncatedNormal", "stddev", stddev)
        super().__init__(seed)

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        shape, dt = self._prepare(shape, dtype)
        return truncated_normal(self._rng(), shape, self.mean, self.stddev).astype(dt)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class RandomUniform(_Random):
    """Uniform samples in ``[minval, maxval)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        self.minval = _check_real("RandomUniform", "minval", minval)
        self.maxval = _check_real("RandomUniform", "maxval", maxval)
        if self.maxval < self.minval:
            raise ValueError(
                f"RandomUniform: `maxval` must be >= `minval`; received minval={minval!r}, maxval={maxval!r}"
            )
        super().__init__(seed)

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        shape, dt = self._prepare(shape, dtype)
        return self._rng().uniform(self.minval, self.maxval, size=shape).astype(dt)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(_Random):
    """Samples whose variance is ``scale / n``, ``n`` from the weight's fans.

    ``n = max(1, fan_in)`` (``mode="fan_in"``), ``max(1, fan_out)`` (``"fan_out"``) or
    ``max(1, (fan_in + fan_out) / 2)`` (``"fan_avg"``). Distributions:

    - ``"truncated_normal"`` (alias ``"normal"``): normal with stddev
      ``sqrt(scale / n) / 0.87962566103423978`` truncated at 2 stddev, so that the
      truncated samples have stddev ``sqrt(scale / n)``;
    - ``"untruncated_normal"``: normal with stddev ``sqrt(scale / n)``;
    - ``"uniform"``: uniform in ``[-limit, limit]``, ``limit = sqrt(3 * scale / n)``.
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        owner = type(self).__name__
        self.scale = _check_real(owner, "scale", scale, positive=True)
        if mode not in self._MODES:
            raise ValueError(f"{owner}: `mode` must be one of {list(self._MODES)}; received mode={mode!r}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(
                f"{owner}: `distribution` must be one of {list(self._DISTRIBUTIONS)} (or 'normal'); "
                f"received distribution={distribution!r}"
            )
        self.mode = mode
        self.distribution = dist
        super().__init__(seed)

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        shape, dt = self._prepare(shape, dtype)
        fan_in, fan_out = compute_fans(shape)
        if self.mode == "fan_in":
            n = max(1.0, fan_in)
        elif self.mode == "fan_out":
            n = max(1.0, fan_out)
        else:
            n = max(1.0, (fan_in + fan_out) / 2.0)
        variance = self.scale / n
        rng = self._rng()
        if self.distribution == "truncated_normal":
            values = truncated_normal(rng, shape, 0.0, math.sqrt(variance) / TRUNCATED_STDDEV_FACTOR)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(variance), size=shape)
        else:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        return values.astype(dt)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution}


class _FixedVarianceScaling(VarianceScaling):
    """A named VarianceScaling whose only argument is ``seed``."""

    _ARGS: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        scale, mode, distribution = self._ARGS
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``; Keras' default kernel initializer."""

    _ARGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))`` after truncation."""

    _ARGS = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    _ARGS = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / fan_in)`` after truncation."""

    _ARGS = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""

    _ARGS = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(1 / fan_in)`` after truncation."""

    _ARGS = (1.0, "fan_in", "truncated_normal")


_CLASSES: tuple[type[Initializer], ...] = (
    Zeros,
    Ones,
    Constant,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# Keras' lookup table: class names, their snake_case names and a few aliases.
_ALIASES = {RandomUniform: ("uniform",), RandomNormal: ("normal",), Ones: ("one",), Zeros: ("zero",)}
for _cls in _CLASSES:
    registry.register("initializer", _snake_case(_cls.__name__), *_ALIASES.get(_cls, ()))(_cls)


def serialize(initializer: Initializer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of an initializer (Keras' layout)."""
    if not isinstance(initializer, Initializer):
        raise TypeError(f"serialize: expected an Initializer; received {type(initializer).__name__}")
    return registry.serialize(initializer)


def deserialize(config: Mapping[str, Any]) -> Initializer:
    """The initializer described by ``{"class_name": ..., "config": ...}``."""
    return registry.deserialize("initializer", config)


def get(identifier: Any) -> Initializer | None:
    """An initializer from a name (``"glorot_uniform"``, ``"GlorotUniform"``, ``"zeros"``, ...),
    a ``{"class_name", "config"}`` dict, an Initializer class or instance, or any callable
    ``f(shape, dtype=None)`` (returned as is). ``None`` gives ``None``.

    >>> get("he_normal")
    HeNormal(seed=None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return registry.lookup("initializer", identifier)()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(
        f"could not interpret initializer identifier {identifier!r}; expected a name such as "
        "'glorot_uniform', a config dict, or an Initializer"
    )
