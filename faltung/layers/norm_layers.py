"""LayerNormalization and GroupNormalization: per-sample normalisation with a learned scale and shift."""
from __future__ import annotations

from typing import Any

from .. import constraints, regularizers
from ..functional.standardize import group_norm, layer_norm
from .base import Layer, register
from .core import initializer_config


class _Affine(Layer):
    """Shared: gamma ('scale') and beta ('center') weights with Keras' initializer, regularizer and
    constraint options."""

    def _affine_options(self, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint, epsilon) -> None:
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0; got {epsilon!r}")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.beta_regularizer, self.gamma_regularizer = map(regularizers.get, (beta_regularizer, gamma_regularizer))
        self.beta_constraint, self.gamma_constraint = map(constraints.get, (beta_constraint, gamma_constraint))

    def _affine_weights(self, shape: tuple) -> None:
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None

    def _affine_config(self) -> dict:
        config = {"epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                  "beta_initializer": initializer_config(self.beta_initializer),
                  "gamma_initializer": initializer_config(self.gamma_initializer)}
        for name in ("beta_regularizer", "gamma_regularizer"):
            if getattr(self, name) is not None:
                config[name] = regularizers.serialize(getattr(self, name))
        for name in ("beta_constraint", "gamma_constraint"):
            if getattr(self, name) is not None:
                config[name] = constraints.serialize(getattr(self, name))
        return config


@register
class LayerNormalization(_Affine):
    """Normalise each sample over ``axis`` (default the last; a list for several), then scale by gamma
    and shift by beta (both shaped like those axes). Keras' epsilon 1e-3."""

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if rms_scaling:
            raise ValueError("LayerNormalization: rms_scaling=True is not supported by faltung")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)
        self._affine_options(center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint, epsilon)

    def _axes(self, rank: int) -> tuple:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank or a % rank == 0 for a in axes):
            raise ValueError(f"LayerNormalization {self.name!r}: axis {self.axis} must name non-batch axes of "
                             f"a rank-{rank} input")
        return tuple(sorted(a % rank for a in axes))

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"LayerNormalization {self.name!r} needs known sizes on axes {axes}; got {input_shape}")
        self._affine_weights(shape)

    def call(self, x, training=False):
        return layer_norm(x, self.gamma, self.beta, self._axes(x.ndim), self.epsilon)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, **self._affine_config()}


@register
class GroupNormalization(_Affine):
    """Split the channels (last axis) into ``groups`` groups; normalise each sample's group over its
    spatial axes and channels; then gamma and beta per channel. groups=-1 means one per channel."""

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"GroupNormalization: axis must be -1 (channels last); got {axis!r}")
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups < 1 and groups != -1):
            raise ValueError(f"groups must be a positive int or -1; got {groups!r}")
        self.groups, self.axis = groups, axis
        self._affine_options(center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint, epsilon)

    def _groups(self, channels: int) -> int:
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(f"GroupNormalization {self.name!r}: groups={groups} must divide the {channels} channels")
        return groups

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"GroupNormalization {self.name!r} needs known channels; got {input_shape}")
        self._groups(channels)
        self._affine_weights((channels,))

    def call(self, x, training=False):
        return group_norm(x, self._groups(x.shape[-1]), self.gamma, self.beta, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, **self._affine_config()}
