"""Optimizers: Keras 3's gradient-descent update rules, learning-rate schedules and resumable optimizer state.

An optimizer updates *variables*: objects with a ``.data`` attribute (a float
``np.ndarray``, updated in place and kept in its dtype) and a ``.name``.

>>> opt = get("adam")                                # == Adam(learning_rate=0.001)
>>> opt.apply_gradients([(grad_w, w), (grad_b, b)])  # doctest: +SKIP

Every optimizer follows Keras 3 (``keras/src/optimizers/``) step for step:

1. ``None`` gradients are dropped (with a warning naming the variables);
2. gradients are clipped (``clipnorm`` per variable, ``global_clipnorm`` over all
   of them, or ``clipvalue`` element-wise; at most one of the three);
3. decoupled weight decay ``w <- w - w * weight_decay * lr`` is applied to every
   variable that has a gradient (for *all* optimizers, not only AdamW);
4. the optimizer's own update rule runs with ``t = iterations + 1``;
5. ``iterations`` increases by one.

The learning rate of a step is ``learning_rate`` as a float, or a schedule
evaluated at ``iterations`` (before the increment), as Keras does.
"""
from __future__ import annotations

import math
import numbers
import re
import sys
import types
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "LearningRateSchedule",
    "ExponentialDecay",
    "CosineDecay",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]


# --------------------------------------------------------------------------- #
# Argument checking
# --------------------------------------------------------------------------- #
def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_real(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """Return ``value`` as a float after checking it is a finite real number in range."""
    if value is None and allow_none:
        return None
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if low is not None and high is not None:
        expected = f"a float in {lo}{low:g}, {high:g}{hi}"
    elif low is not None:
        expected = f"a float {'>' if low_open else '>='} {low:g}"
    else:
        expected = "a finite float"
    if allow_none:
        expected += " or None"
    bad = not _is_real(value) or not math.isfinite(float(value))
    if not bad:
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            bad = True
        if high is not None and (v > high or (high_open and v == high)):
            bad = True
    if bad:
        raise ValueError(f"{owner}: `{name}` must be {expected}; received {name}={value!r}")
    return float(value)


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{name}` must be a bool; received {name}={value!r}")
    return bool(value)


# --------------------------------------------------------------------------- #
# Learning-rate schedules
# --------------------------------------------------------------------------- #
def _check_step(owner: str, step: Any) -> float:
    if isinstance(step, np.ndarray) and step.ndim == 0:
        step = step.item()
    if not _is_real(step) or not math.isfinite(float(step)) or float(step) < 0:
        raise ValueError(f"{owner}: `step` must be a number >= 0; received step={step!r}")
    return float(step)


class LearningRateSchedule:
    """Base class of learning-rate schedules: ``schedule(step) -> float``.

    ``step`` is the optimizer's ``iterations`` (0 for the first update). Subclasses
    implement ``__call__`` and ``get_config``; ``from_config(config)`` is ``cls(**config)``.
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()`."
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LearningRateSchedule":
        return cls(**dict(config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``.

    >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
    0.025
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _check_real(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        self.decay_steps = _check_real(owner, "decay_steps", decay_steps, low=0.0, low_open=True)
        if isinstance(decay_steps, numbers.Integral):
            self.decay_steps = int(decay_steps)
        self.decay_rate = _check_real(owner, "decay_rate", decay_rate, low=0.0)
        self.staircase = _check_bool(owner, "staircase", staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = _check_step(type(self).__name__, step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts), with an optional linear warm-up.

    Without warm-up (``warmup_target=None``), with ``s = min(step, decay_steps)``::

        lr(step) = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)

    With warm-up, ``s = min(step, warmup_steps + decay_steps)``; for ``s < warmup_steps``
    the rate rises linearly ``initial_learning_rate + (warmup_target - initial_learning_rate)
    * s / warmup_steps``, then decays as above from ``warmup_target`` over ``s - warmup_steps``.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _check_real(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        self.decay_steps = _check_real(owner, "decay_steps", decay_steps, low=0.0, low_open=True)
        if isinstance(decay_steps, numbers.Integral):
            self.decay_steps = int(decay_steps)
        self.alpha = _check_real(owner, "alpha", alpha, low=0.0, high=1.0)
        self.name = name
        self.warmup_target = _check_real(owner, "warmup_target", warmup_target, low=0.0, allow_none=True)
        self.warmup_steps = _check_real(owner, "warmup_steps", warmup_steps, low=0.0)
        if isinstance(warmup_steps, numbers.Integral):
            self.warmup_steps = int(warmup_steps)

    def _decay(self, s: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        s = _check_step(type(self).__name__, step)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), self.initial_learning_rate)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (s / self.warmup_steps) + self.initial_learning_rate
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


_SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    "ExponentialDecay": ExponentialDecay,
    "CosineDecay": CosineDecay,
}


def _serialize_schedule(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of a schedule (Keras' layout)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"expected a LearningRateSchedule; received {schedule!r}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def _deserialize_schedule(config: Mapping[str, Any]) -> LearningRateSchedule:
    """Rebuild a schedule from ``{"class_name": ..., "config": ...}``."""
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise ValueError(
            f"a schedule config must be a dict with keys 'class_name' and 'config'; received {config!r}"
        )
    name = config["class_name"]
    cls = _SCHEDULES.get(name)
    if cls is None:
        raise ValueError(
            f"unknown learning-rate schedule class_name={name!r}; expected one of {sorted(_SCHEDULES)}"
        )
    return cls.from_config(config.get("config", {}))


# ``optimizers.schedules.ExponentialDecay`` and ``from faltung.optimizers.schedules import ...``
schedules = types.ModuleType(f"{__name__}.schedules", "Learning-rate schedules (``keras.optimizers.schedules``).")
schedules.LearningRateSchedule = LearningRateSchedule
schedules.ExponentialDecay = ExponentialDecay
schedules.CosineDecay = CosineDecay
schedules.serialize = _serialize_schedule
schedules.deserialize = _deserialize_schedule
sys.modules[schedules.__name__] = schedules


# --------------------------------------------------------------------------- #
# Optimizer base
# --------------------------------------------------------------------------- #
LearningRate = Union[float, LearningRateSchedule, Callable[[], float]]

# Keras 3 arguments faltung does not implement: accepted only at Keras' default,
# so that configs written by Keras still load.
_KERAS_ONLY_DEFAULTS: dict[str, Any] = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class Optimizer:
    """Base class: clipping, weight decay, learning rate, slots, config and state.

    Subclasses set ``_slot_specs()`` (slot name -> initial value) and implement
    ``_update_step(g, w, slots, lr)``, which must update ``w`` and the slots in place.

    Args:
        learning_rate: a float ``>= 0``, a ``LearningRateSchedule`` (called with
            ``iterations``), or a callable without arguments returning the rate.
        weight_decay: if set, ``w <- w - w * weight_decay * lr`` before every update.
        clipnorm: clip each gradient to an L2 norm of at most this.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to a global L2 norm of at most this.
        name: the optimizer's name.
    """

    def __init__(
        self,
        learning_rate: LearningRate,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        self._check_kwargs(kwargs)
        self.name = name if name is not None else owner.lower()
        self._learning_rate = self._check_learning_rate(learning_rate)
        self.weight_decay = _check_real(owner, "weight_decay", weight_decay, low=0.0, allow_none=True)
        self.clipnorm = _check_real(owner, "clipnorm", clipnorm, low=0.0, low_open=True, allow_none=True)
        self.clipvalue = _check_real(owner, "clipvalue", clipvalue, low=0.0, low_open=True, allow_none=True)
        self.global_clipnorm = _check_real(
            owner, "global_clipnorm", global_clipnorm, low=0.0, low_open=True, allow_none=True
        )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set; "
                f"received clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, global_clipnorm={global_clipnorm!r}"
            )
        self._iterations = 0
        # id(variable) -> (variable, {slot name: array}); the variable is kept so its id stays unique
        self._slots: dict[int, tuple[Any, dict[str, np.ndarray]]] = {}
        self._exclude_ids: set[int] = set()
        self._exclude_refs: list[Any] = []
        self._exclude_pattern: re.Pattern[str] | None = None

    # ---- arguments -------------------------------------------------------- #
    def _check_kwargs(self, kwargs: dict[str, Any]) -> None:
        owner = type(self).__name__
        if kwargs.get("decay", None) is not None:
            warnings.warn(f"{owner}: argument `decay` is no longer supported (as in Keras 3) and is ignored.")
        kwargs.pop("decay", None)
        unknown = sorted(k for k in kwargs if k not in _KERAS_ONLY_DEFAULTS)
        if unknown:
            raise TypeError(
                f"{owner}() got unexpected keyword argument(s) {unknown}; expected the arguments of "
                f"{owner}.__init__ (learning_rate, ..., weight_decay, clipnorm, clipvalue, global_clipnorm, name)"
            )
        for key, value in kwargs.items():
            default = _KERAS_ONLY_DEFAULTS[key]
            if value != default:
                raise ValueError(
                    f"{owner}: `{key}` is not implemented by faltung; received {key}={value!r}, "
                    f"expected {key}={default!r}"
                )

    def _check_learning_rate(self, value: Any) -> LearningRate:
        if isinstance(value, LearningRateSchedule) or (callable(value) and not _is_real(value)):
            return value
        return _check_real(type(self).__name__, "learning_rate", value, low=0.0)

    # ---- learning rate and counters --------------------------------------- #
    @property
    def iterations(self) -> int:
        """The number of update steps applied so far."""
        return self._iterations

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule) and not (
            isinstance(value, LearningRateSchedule) or callable(value)
        ):
            raise TypeError(
                f"{type(self).__name__}: this optimizer was created with a LearningRateSchedule "
                f"({type(self._learning_rate).__name__}), so its learning rate is not settable to a "
                f"number; received learning_rate={value!r}. Create the optimizer with a float "
                "learning_rate to set it later."
            )
        self._learning_rate = self._check_learning_rate(value)

    def exclude_from_weight_decay(
        self, var_list: Iterable[Any] | None = None, var_names: Iterable[str] | None = None
    ) -> None:
        """Exclude variables (by identity, or by a regex search of any of ``var_names`` in ``.name``)."""
        self._exclude_refs = list(var_list or [])
        self._exclude_ids = {id(v) for v in self._exclude_refs}
        names = list(var_names or [])
        self._exclude_pattern = re.compile("|".join(names)) if names else None

    def _use_weight_decay(self, variable: Any) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None and self._exclude_pattern.search(str(variable.name)):
            return False
        return True

    # ---- slots ------------------------------------------------------------ #
    def _slot_specs(self) -> list[tuple[str, float]]:
        """``[(slot name, initial value), ...]`` for this optimizer's configuration."""
        return []

    def _new_slots(self, variable: Any) -> dict[str, np.ndarray]:
        return {name: np.full_like(variable.data, init) for name, init in self._slot_specs()}

    def _get_slots(self, variable: Any) -> dict[str, np.ndarray]:
        entry = self._slots.get(id(variable))
        if entry is None or entry[0] is not variable:
            entry = (variable, self._new_slots(variable))
            self._slots[id(variable)] = entry
        return entry[1]

    def build(self, variables: Iterable[Any]) -> None:
        """Create the slots of ``variables`` now (otherwise they appear at their first update)."""
        for i, v in enumerate(variables):
            self._check_variable(v, i)
            self._get_slots(v)

    def _check_variable(self, variable: Any, index: int) -> None:
        data = getattr(variable, "data", None)
        if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
            what = type(data).__name__ if not isinstance(data, np.ndarray) else f"ndarray of {data.dtype}"
            raise TypeError(
                f"{type(self).__name__}: variable {index} ({getattr(variable, 'name', '?')!r}) must have "
                f"a `.data` attribute holding a float numpy array; received {what}"
            )

    # ---- the step --------------------------------------------------------- #
    def apply_gradients(self, grads_and_vars: Iterable[tuple[np.ndarray | None, Any]]) -> int:
        """Apply one update from ``[(gradient, variable), ...]``; returns ``iterations``."""
        pairs = list(grads_and_vars)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(
                    f"{type(self).__name__}.apply_gradients: item {i} must be a (gradient, variable) "
                    f"pair; received {type(pair).__name__}"
                )
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads: Sequence[np.ndarray | None], variables: Sequence[Any]) -> int:
        """Apply one update: ``variables[i].data`` moves along ``-grads[i]``; returns ``iterations``.

        Each gradient must have its variable's shape; it is cast to the variable's dtype.
        A ``None`` gradient leaves its variable untouched (no decay, no update).
        """
        owner = type(self).__name__
        grads, variables = list(grads), list(variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{owner}.apply: got {len(grads)} gradients for {len(variables)} variables; "
                "expected one gradient per variable"
            )
        if not grads:
            return self._iterations
        # Validate everything before touching any variable: a bad call changes nothing.
        kept_g: list[np.ndarray] = []
        kept_v: list[Any] = []
        missing: list[str] = []
        for i, (g, v) in enumerate(zip(grads, variables)):
            self._check_variable(v, i)
            if g is None:
                missing.append(str(v.name))
                continue
            g = np.asarray(g)
            if g.dtype.kind not in "fiu":
                raise TypeError(
                    f"{owner}: the gradient of variable {i} ({v.name!r}) must be a real numeric array; "
                    f"received dtype {g.dtype}"
                )
            if g.shape != v.data.shape:
                raise ValueError(
                    f"{owner}: the gradient of variable {i} ({v.name!r}) has shape {g.shape}; "
                    f"expected the variable's shape {v.data.shape}"
                )
            kept_g.append(g.astype(v.data.dtype, copy=False))
            kept_v.append(v)
        if not kept_g:
            raise ValueError(f"{owner}: no gradients provided for any variable; all of {missing} had None")
        if missing:
            warnings.warn(f"{owner}: gradients do not exist for variables {missing}; they were not updated.")

        lr = self.learning_rate
        kept_g = self._clip_gradients(kept_g)
        self._apply_weight_decay(kept_v, lr)
        for g, v in zip(kept_g, kept_v):
            self._update_step(g, v.data, self._get_slots(v), lr)
        self._iterations += 1
        return self._iterations

    def _clip_gradients(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        if self.clipnorm is not None:
            # Keras: g * clipnorm / max(||g||, clipnorm), per variable
            out = []
            for g in grads:
                flat = g.ravel().astype(np.float64)
                norm = math.sqrt(float(flat @ flat))
                out.append(g * g.dtype.type(self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            total = 0.0
            for g in grads:
                flat = g.ravel().astype(np.float64)
                total += float(flat @ flat)
            norm = math.sqrt(total)
            if not math.isfinite(norm):
                # Keras turns the scale into NaN when the global norm is inf/NaN
                return [g * g.dtype.type(np.nan) for g in grads]
            if norm > self.global_clipnorm:
                return [g * g.dtype.type(self.global_clipnorm / norm) for g in grads]
            return grads
        if self.clipvalue is not None:
            return [np.clip(g, g.dtype.type(-self.clipvalue), g.dtype.type(self.clipvalue)) for g in grads]
        return grads

    def _apply_weight_decay(self, variables: list[Any], lr: float) -> None:
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                w = v.data
                dt = w.dtype.type
                np.subtract(w, w * dt(self.weight_decay) * dt(lr), out=w)

    def _update_step(self, g: np.ndarray, w: np.ndarray, slots: dict[str, np.ndarray], lr: float) -> None:
        raise NotImplementedError

    # ---- config ----------------------------------------------------------- #
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as JSON-friendly values; a schedule is ``{"class_name", "config"}``."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr_config: Any = _serialize_schedule(lr)
        elif callable(lr):
            raise TypeError(
                f"{type(self).__name__}.get_config: a callable learning_rate ({lr!r}) cannot be "
                "serialized; use a float or a LearningRateSchedule"
            )
        else:
            lr_config = lr
        return {
            "name": self.name,
            "learning_rate": lr_config,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Optimizer":
        """The optimizer ``get_config()`` describes (without its state)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), Mapping):
            config["learning_rate"] = _deserialize_schedule(config["learning_rate"])
        return cls(**config)

    # ---- state ------------------------------------------------------------ #
    def _state_keys(self, n: int) -> list[tuple[str, int, str]]:
        return [(f"{name}/{i}", i, name) for i in range(n) for name, _ in self._slot_specs()]

    def get_state(self, variables: Sequence[Any]) -> dict[str, np.ndarray]:
        """The optimizer's state as plain arrays, keyed by the variables' positions.

        Keys: ``"iterations"`` (int64 scalar), ``"learning_rate"`` (float64 scalar; only
        when the learning rate is a plain float) and ``"<slot>/<i>"`` for slot ``<slot>``
        of ``variables[i]`` (e.g. ``"momentum/3"``, ``"velocity/3"``), in the variable's
        dtype. Slots of variables not yet updated are their initial values.
        """
        variables = list(variables)
        for i, v in enumerate(variables):
            self._check_variable(v, i)
        state: dict[str, np.ndarray] = {"iterations": np.array(self._iterations, dtype=np.int64)}
        if not callable(self._learning_rate):
            state["learning_rate"] = np.array(self._learning_rate, dtype=np.float64)
        for i, v in enumerate(variables):
            entry = self._slots.get(id(v))
            slots = entry[1] if entry is not None and entry[0] is v else self._new_slots(v)
            for name, arr in slots.items():
                state[f"{name}/{i}"] = arr.copy()
        return state

    def set_state(self, variables: Sequence[Any], state: Mapping[str, np.ndarray]) -> None:
        """Restore what ``get_state(variables)`` returned, exactly; a bad state changes nothing.

        Raises ``ValueError`` on missing or unexpected keys and on slots whose shape or
        dtype differs from their variable's.
        """
        owner = type(self).__name__
        variables = list(variables)
        for i, v in enumerate(variables):
            self._check_variable(v, i)
        if not isinstance(state, Mapping):
            raise TypeError(f"{owner}.set_state: `state` must be a dict of arrays; received {type(state).__name__}")
        slot_keys = self._state_keys(len(variables))
        expected = {"iterations"} | {k for k, _, _ in slot_keys}
        missing = sorted(expected - set(state))
        if missing:
            raise ValueError(
                f"{owner}.set_state: state for {len(variables)} variables is missing key(s) {missing[:8]}"
                f"{' ...' if len(missing) > 8 else ''}"
            )
        unexpected = sorted(set(state) - expected - {"learning_rate"})
        if unexpected:
            raise ValueError(
                f"{owner}.set_state: unexpected key(s) {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}; "
                f"expected 'iterations', 'learning_rate' and slots {[n for n, _ in self._slot_specs()]} "
                f"for {len(variables)} variables (was the state saved by another optimizer or model?)"
            )
        it = np.asarray(state["iterations"])
        if it.shape != () or it.dtype.kind not in "iu" or int(it) < 0:
            raise ValueError(
                f"{owner}.set_state: 'iterations' must be a non-negative integer scalar; "
                f"received shape {it.shape}, dtype {it.dtype}"
            )
        new_lr: float | None = None
        if "learning_rate" in state:
            lr = np.asarray(state["learning_rate"])
            if lr.shape != () or lr.dtype.kind != "f" or not math.isfinite(float(lr)) or float(lr) < 0:
                raise ValueError(
                    f"{owner}.set_state: 'learning_rate' must be a finite float scalar >= 0; "
                    f"received shape {lr.shape}, dtype {lr.dtype}"
                )
            if callable(self._learning_rate):
                raise ValueError(
                    f"{owner}.set_state: the state holds a float 'learning_rate' but this optimizer's "
                    f"learning rate is {type(self._learning_rate).__name__}; expected no 'learning_rate' key"
                )
            new_lr = float(lr)
        for key, i, _ in slot_keys:
            arr = np.asarray(state[key])
            v = variables[i]
            if arr.shape != v.data.shape or arr.dtype != v.data.dtype:
                raise ValueError(
                    f"{owner}.set_state: '{key}' has shape {arr.shape} and dtype {arr.dtype}; expected "
                    f"shape {v.data.shape} and dtype {v.data.dtype} of variable {i} ({v.name!r})"
                )
        # All checked: now commit.
        self._iterations = int(it)
        if new_lr is not None:
            self._learning_rate = new_lr
        for i, v in enumerate(variables):
            slots = {name: np.array(state[f"{name}/{i}"], copy=True) for name, _ in self._slot_specs()}
            self._slots[id(v)] = (v, slots)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except TypeError:
            args = f"name={self.name!r}"
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- #
# The optimizers
# --------------------------------------------------------------------------- #
class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as ``keras.optimizers.SGD``.

    With ``momentum == 0``::

        w <- w - lr * g

    otherwise, with a velocity ``v`` (slot ``"momentum"``, starting at 0)::

        v <- momentum * v - lr * g
        w <- w + v                              (nesterov=False)
        w <- w + momentum * v - lr * g          (nesterov=True)
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "SGD",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.momentum = _check_real("SGD", "momentum", momentum, low=0.0, high=1.0)
        self.nesterov = _check_bool("SGD", "nesterov", nesterov)

    def _slot_specs(self) -> list[tuple[str, float]]:
        return [("momentum", 0.0)] if self.momentum != 0 else []

    def _update_step(self, g: np.ndarray, w: np.ndarray, slots: dict[str, np.ndarray], lr: float) -> None:
        dt = w.dtype.type
        lr_t = dt(lr)
        if self.momentum == 0:
            w -= g * lr_t
            return
        mu = dt(self.momentum)
        v = slots["momentum"]
        v *= mu
        v -= g * lr_t
        if self.nesterov:
            w += v * mu - g * lr_t
        else:
            w += v

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class Adam(Optimizer):
    """Adam, as ``keras.optimizers.Adam`` (Kingma & Ba, with Keras' "epsilon hat").

    With ``t = iterations + 1`` and slots ``m`` ("momentum") and ``v`` ("velocity")::

        m     <- m + (g - m) * (1 - beta_1)
        v     <- v + (g**2 - v) * (1 - beta_2)
        v_hat <- max(v_hat, v); v <- v_hat      (amsgrad=True only; slot "velocity_hat")
        alpha  = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w     <- w - alpha * m / (sqrt(v) + epsilon)

    ``epsilon`` is added to the *uncorrected* ``sqrt(v)``; PyTorch adds it to the
    bias-corrected one, so the two agree exactly only for ``epsilon=0``.
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        owner = type(self).__name__
        self.beta_1 = _check_real(owner, "beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _check_real(owner, "beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _check_real(owner, "epsilon", epsilon, low=0.0)
        self.amsgrad = _check_bool(owner, "amsgrad", amsgrad)

    def _slot_specs(self) -> list[tuple[str, float]]:
        specs = [("momentum", 0.0), ("velocity", 0.0)]
        if self.amsgrad:
            specs.append(("velocity_hat", 0.0))
        return specs

    def _update_step(self, g: np.ndarray, w: np.ndarray, slots: dict[str, np.ndarray], lr: float) -> None:
        dt = w.dtype.type
        t = self._iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        m, v = slots["momentum"], slots["velocity"]
        m += (g - m) * dt(1.0 - self.beta_1)
        v += (g * g - v) * dt(1.0 - self.beta_2)
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        denom = np.sqrt(v)
        denom += dt(self.epsilon)
        w -= (m * dt(alpha)) / denom

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}
        )
        return config


class AdamW(Adam):
    """AdamW, as ``keras.optimizers.AdamW``: Adam with decoupled weight decay (default 0.004).

    Each step first decays ``w <- w - w * weight_decay * lr``, then applies :class:`Adam`'s
    update. (Keras applies the same decay in every optimizer given ``weight_decay``;
    AdamW only makes it mandatory.)
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adamw",
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("AdamW: `weight_decay` must be a float >= 0; received weight_decay=None")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )


class RMSprop(Optimizer):
    """RMSprop, as ``keras.optimizers.RMSprop`` (plain momentum, optional centering).

    With slots ``v`` ("velocity"), ``a`` ("average_gradient", centered only) and
    ``mom`` ("momentum", when ``momentum > 0``)::

        v   <- rho * v + (1 - rho) * g**2
        a   <- rho * a + (1 - rho) * g                       (centered)
        inc  = lr * g / sqrt(v - a**2 + epsilon)             (centered)
        inc  = lr * g / sqrt(v + epsilon)                    (otherwise)
        mom <- momentum * mom + inc;  w <- w - mom           (momentum > 0)
        w   <- w - inc                                       (otherwise)

    ``epsilon`` sits *inside* the square root (PyTorch adds it outside).
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "rmsprop",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.rho = _check_real("RMSprop", "rho", rho, low=0.0, high=1.0)
        self.momentum = _check_real("RMSprop", "momentum", momentum, low=0.0, high=1.0)
        self.epsilon = _check_real("RMSprop", "epsilon", epsilon, low=0.0)
        self.centered = _check_bool("RMSprop", "centered", centered)

    def _slot_specs(self) -> list[tuple[str, float]]:
        specs = [("velocity", 0.0)]
        if self.momentum > 0:
            specs.append(("momentum", 0.0))
        if self.centered:
            specs.append(("average_gradient", 0.0))
        return specs

    def _update_step(self, g: np.ndarray, w: np.ndarray, slots: dict[str, np.ndarray], lr: float) -> None:
        dt = w.dtype.type
        rho, one_minus_rho = dt(self.rho), dt(1.0 - self.rho)
        v = slots["velocity"]
        v *= rho
        v += one_minus_rho * (g * g)
        if self.centered:
            a = slots["average_gradient"]
            a *= rho
            a += one_minus_rho * g
            denom = v - a * a
            denom += dt(self.epsilon)
        else:
            denom = v + dt(self.epsilon)
        increment = (dt(lr) * g) / np.sqrt(denom)
        if self.momentum > 0:
            mom = slots["momentum"]
            mom *= dt(self.momentum)
            mom += increment
            w -= mom
        else:
            w -= increment

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}
        )
        return config


class Adagrad(Optimizer):
    """Adagrad, as ``keras.optimizers.Adagrad``.

    With an accumulator ``acc`` (slot "accumulator", starting at ``initial_accumulator_value``)::

        acc <- acc + g**2
        w   <- w - lr * g / sqrt(acc + epsilon)

    ``epsilon`` sits *inside* the square root (PyTorch adds it outside).
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adagrad",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.initial_accumulator_value = _check_real(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0
        )
        self.epsilon = _check_real("Adagrad", "epsilon", epsilon, low=0.0)

    def _slot_specs(self) -> list[tuple[str, float]]:
        return [("accumulator", self.initial_accumulator_value)]

    def _update_step(self, g: np.ndarray, w: np.ndarray, slots: dict[str, np.ndarray], lr: float) -> None:
        dt = w.dtype.type
        acc = slots["accumulator"]
        acc += g * g
        w -= (dt(lr) * g) / np.sqrt(acc + dt(self.epsilon))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}
        )
        return config


# --------------------------------------------------------------------------- #
# Lookup and serialization
# --------------------------------------------------------------------------- #
_OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of an optimizer (Keras' layout)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize: expected an Optimizer; received {type(optimizer).__name__}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: Mapping[str, Any]) -> Optimizer:
    """The optimizer described by ``{"class_name": ..., "config": ...}`` (class name case-insensitive)."""
    if not isinstance(config, Mapping) or not isinstance(config.get("class_name"), str):
        raise ValueError(
            f"deserialize: expected a dict with a string 'class_name' and a 'config'; received {config!r}"
        )
    name = config["class_name"]
    cls = _OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(_OPTIMIZERS)}")
    return cls.from_config(config.get("config", {}) or {})


def get(identifier: str | Mapping[str, Any] | Optimizer | None) -> Optimizer | None:
    """An optimizer from a name (``"adam"``, ``"SGD"``, ... case-insensitive, default
    arguments), a ``{"class_name", "config"}`` dict, or an instance (returned as is).

    >>> get("rmsprop").learning_rate
    0.001
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; expected one of {sorted(_OPTIMIZERS)}")
        return cls()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    raise ValueError(
        f"could not interpret optimizer identifier {identifier!r}; expected a name "
        f"({', '.join(sorted(_OPTIMIZERS))}), a config dict or an Optimizer instance"
    )
