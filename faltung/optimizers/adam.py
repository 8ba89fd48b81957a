"""Adam and AdamW, as ``keras.optimizers.Adam`` and ``keras.optimizers.AdamW``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import LearningRate, Optimizer


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

    beta_1: float
    beta_2: float
    epsilon: float
    amsgrad: bool

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "adam", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self._set_hyperparameters(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad)

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


class AdamW(Adam):
    """AdamW, as ``keras.optimizers.AdamW``: Adam with decoupled weight decay (default 0.004).

    Each step first decays ``w <- w - w * weight_decay * lr``, then applies :class:`Adam`'s
    update. (Keras applies the same decay in every optimizer given ``weight_decay``;
    AdamW only makes it mandatory.)
    """

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "adamw", **kwargs: Any) -> None:
        # Checked before anything else: the decay is what makes AdamW, so None is refused up front.
        if weight_decay is None:
            raise ValueError("AdamW: `weight_decay` must be a float >= 0; received weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
