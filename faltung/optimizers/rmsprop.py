"""RMSprop, as ``keras.optimizers.RMSprop``."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRate, Optimizer


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

    rho: float
    momentum: float
    epsilon: float
    centered: bool

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "rmsprop", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self._set_hyperparameters(rho=rho, momentum=momentum, epsilon=epsilon, centered=centered)

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
