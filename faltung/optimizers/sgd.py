"""SGD, as ``keras.optimizers.SGD``: gradient descent with optional (Nesterov) momentum."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import LearningRate, Optimizer


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as ``keras.optimizers.SGD``.

    With ``momentum == 0``::

        w <- w - lr * g

    otherwise, with a velocity ``v`` (slot ``"momentum"``, starting at 0)::

        v <- momentum * v - lr * g
        w <- w + v                              (nesterov=False)
        w <- w + momentum * v - lr * g          (nesterov=True)
    """

    momentum: float
    nesterov: bool

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, name: str = "SGD",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self._set_hyperparameters(momentum=momentum, nesterov=nesterov)

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
