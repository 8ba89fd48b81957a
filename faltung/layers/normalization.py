"""BatchNormalization: per-channel normalisation with learned scale and shift, Keras' defaults."""
from __future__ import annotations

from typing import Any

from .. import functional as F
from .base import Layer, register


@register
class BatchNormalization(Layer):
    """Normalise each channel (the last axis) with batch statistics while training, moving ones otherwise.

    Weights in Keras' order: gamma, beta (trainable), moving_mean, moving_variance
    (non-trainable, updated as ``moving = moving·momentum + batch·(1 - momentum)``).
    A frozen layer (trainable=False) runs in inference mode, as in Keras.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones", **kwargs: Any):
        super().__init__(**kwargs)
        # Keras files (TF 2's above all) may name the last axis by its index; build() checks it is the last
        if axis != -1 and not (isinstance(axis, int) and not isinstance(axis, bool) and axis > 0):
            raise ValueError(f"axis must be -1 or the index of the last axis (channels last); got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0; got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = dict(beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                                 moving_mean_initializer=moving_mean_initializer,
                                 moving_variance_initializer=moving_variance_initializer)

    def build(self, input_shape):
        if self.axis not in (-1, len(input_shape) - 1):
            raise ValueError(f"BatchNormalization {self.name!r}: axis must be the last (-1 or "
                             f"{len(input_shape) - 1}, channels last); got {self.axis}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"BatchNormalization {self.name!r} needs a known channel axis; got {input_shape}")
        init = self.initializers
        self.gamma = self.add_weight("gamma", (channels,), init["gamma_initializer"]) if self.scale else None
        self.beta = self.add_weight("beta", (channels,), init["beta_initializer"]) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (channels,), init["moving_mean_initializer"],
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (channels,),
                                               init["moving_variance_initializer"], trainable=False)

    def call(self, x, training=False):
        return F.batch_norm(x, self.gamma, self.beta, self.moving_mean.data, self.moving_variance.data,
                            training=training and self.trainable, momentum=self.momentum, epsilon=self.epsilon)

    def get_config(self):
        from .core import initializer_config
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                **{k: initializer_config(v) for k, v in self.initializers.items()}}
