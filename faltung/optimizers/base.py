"""The optimizer base class: Keras 3's update procedure (clipping, weight decay, learning
rate, slots), argument checks, config and resumable state; subclasses add the update rule."""
from __future__ import annotations

import math
import re
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np

from . import schedules
from ._checks import check_bool, check_real, is_real
from .schedules import LearningRateSchedule

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

# The range of every checked optimizer argument (keyword arguments of `check_real`), or `bool`:
# one table for all optimizers, since a Keras name means the same range wherever it appears.
_NON_NEGATIVE = {"low": 0.0}
_UNIT = {"low": 0.0, "high": 1.0}
_BETA = {"low": 0.0, "high": 1.0, "high_open": True}  # < 1: Adam divides by 1 - beta**t
_CLIP = {"low": 0.0, "low_open": True, "allow_none": True}
_ARGUMENT_RANGES: dict[str, Any] = {
    "weight_decay": {**_NON_NEGATIVE, "allow_none": True},
    "clipnorm": _CLIP, "clipvalue": _CLIP, "global_clipnorm": _CLIP,
    "momentum": _UNIT, "rho": _UNIT, "beta_1": _BETA, "beta_2": _BETA,
    "epsilon": _NON_NEGATIVE, "initial_accumulator_value": _NON_NEGATIVE,
    "nesterov": bool, "amsgrad": bool, "centered": bool,
}


class Optimizer:
    """Base class: clipping, weight decay, learning rate, slots, config and state.

    Subclasses pass the common arguments on to ``__init__``, store their own with
    ``_set_hyperparameters``, set ``_slot_specs()`` (slot name -> initial value) and implement
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

    # The subclass's own arguments, in the order get_config lists them (set by _set_hyperparameters).
    _hyperparameters: tuple[str, ...] = ()

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
        self.weight_decay = self._check_argument("weight_decay", weight_decay)
        self.clipnorm = self._check_argument("clipnorm", clipnorm)
        self.clipvalue = self._check_argument("clipvalue", clipvalue)
        self.global_clipnorm = self._check_argument("global_clipnorm", global_clipnorm)
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
    def _check_argument(self, name: str, value: Any) -> Any:
        """``value`` checked against ``_ARGUMENT_RANGES[name]``, as a float (or None) or a bool."""
        spec = _ARGUMENT_RANGES[name]
        if spec is bool:
            return check_bool(type(self).__name__, name, value)
        return check_real(type(self).__name__, name, value, **spec)

    def _set_hyperparameters(self, **values: Any) -> None:
        """Check and store the subclass's own arguments, in the order given; ``get_config``
        lists them after the common ones in that order."""
        for name, value in values.items():
            setattr(self, name, self._check_argument(name, value))
        self._hyperparameters = (*self._hyperparameters, *values)

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
        if isinstance(value, LearningRateSchedule) or (callable(value) and not is_real(value)):
            return value
        return check_real(type(self).__name__, "learning_rate", value, low=0.0)

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
        """The constructor arguments as JSON-friendly values; a schedule is ``{"class_name", "config"}``.

        Keys: ``name``, ``learning_rate``, ``weight_decay``, ``clipnorm``, ``global_clipnorm``,
        ``clipvalue``, then the subclass's own arguments (e.g. ``momentum``, ``nesterov``).
        """
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr_config: Any = schedules.serialize(lr)
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
            **{name: getattr(self, name) for name in self._hyperparameters},
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Optimizer":
        """The optimizer ``get_config()`` describes (without its state)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), Mapping):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
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
