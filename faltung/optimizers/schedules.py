"""Learning-rate schedules (``keras.optimizers.schedules``): ``schedule(step) -> float``,
evaluated by an optimizer at its ``iterations``."""
from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from .. import registry
from ._checks import check_bool, check_real, is_real

__all__ = ["LearningRateSchedule", "ExponentialDecay", "CosineDecay", "serialize", "deserialize"]


def _check_step(owner: str, step: Any) -> float:
    if isinstance(step, np.ndarray) and step.ndim == 0:
        step = step.item()
    if not is_real(step) or not math.isfinite(float(step)) or float(step) < 0:
        raise ValueError(f"{owner}: `step` must be a number >= 0; received step={step!r}")
    return float(step)


def _check_steps(owner: str, name: str, value: Any, *, low_open: bool = False) -> float | int:
    """A number of steps ``>= 0`` (``> 0`` with ``low_open``); an int stays an int, so that
    ``get_config`` gives back what Keras would write."""
    checked = check_real(owner, name, value, low=0.0, low_open=low_open)
    return int(value) if isinstance(value, numbers.Integral) else checked


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
        self.initial_learning_rate = check_real(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        self.decay_steps = _check_steps(owner, "decay_steps", decay_steps, low_open=True)
        self.decay_rate = check_real(owner, "decay_rate", decay_rate, low=0.0)
        self.staircase = check_bool(owner, "staircase", staircase)
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
        self.initial_learning_rate = check_real(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        self.decay_steps = _check_steps(owner, "decay_steps", decay_steps, low_open=True)
        self.alpha = check_real(owner, "alpha", alpha, low=0.0, high=1.0)
        self.name = name
        self.warmup_target = check_real(owner, "warmup_target", warmup_target, low=0.0, allow_none=True)
        self.warmup_steps = _check_steps(owner, "warmup_steps", warmup_steps)

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


registry.register("schedule")(ExponentialDecay)
registry.register("schedule")(CosineDecay)


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of a schedule (Keras' layout)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"expected a LearningRateSchedule; received {schedule!r}")
    return registry.serialize(schedule)


def deserialize(config: Mapping[str, Any]) -> LearningRateSchedule:
    """Rebuild a schedule from ``{"class_name": ..., "config": ...}``."""
    return registry.deserialize("schedule", config)
