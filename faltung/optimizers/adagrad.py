"""Adagrad, as ``keras.optimizers.Adagrad``."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRate, Optimizer


class Adagrad(Optimizer):
    """Adagrad, as ``keras.optimizers.Adagrad``.

    With an accumulator ``acc`` (slot "accumulator", starting at ``initial_accumulator_value``)::

        acc <- acc + g**2
        w   <- w - lr * g / sqrt(acc + epsilon)

    ``epsilon`` sits *inside* the square root (PyTorch adds it outside).
    """

    initial_accumulator_value: float
    epsilon: float

    def __init__(self, learning_rate: LearningRate = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, name: str = "adagrad",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self._set_hyperparameters(initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)

    def _slot_specs(self) -> list[tuple[str, float]]:
        return [("accumulator", self.initial_accumulator_value)]

    def _update_step(self, g: np.ndarray, w: np.ndarray, slots: dict[str, np.ndarray], lr: float) -> None:
        dt = w.dtype.type
        acc = slots["accumulator"]
        acc += g * g
        w -= (dt(lr) * g) / np.sqrt(acc + dt(self.epsilon))
