"""Keras 3's random image layers RandomRotation, RandomZoom, RandomContrast and RandomBrightness:
each image of a batch gets its own random draw while training; at inference they pass images through.

Each layer's ``transform(x, params)`` applies given per-image parameters (angles in radians, zoom
factors, contrast factors, brightness deltas); ``call`` draws them, so the two halves are tested
apart: the draws against Keras' ranges, the transform against Keras' own with the same parameters.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from ..functional.affine import FILL_MODES, INTERPOLATIONS, affine_sample, rotation_transforms, zoom_transforms
from .augmentation import RandomLayer
from .base import register
from .convolutional import check_data_format


def keras_factor(factor: Any, name: str, bounds: tuple[float, float] = (-1.0, 1.0)) -> tuple[float, float]:
    """Keras' factor rule: a number f gives (max(-|f|, low), |f|); a pair is sorted; values within ``bounds``."""
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(isinstance(v, (int, float)) for v in factor) \
                or factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(f"{name} must be a number or a pair of numbers in [{bounds[0]}, {bounds[1]}]; "
                             f"got {factor!r}")
        low, high = sorted(float(v) for v in factor)
        return low, high
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not bounds[0] <= factor <= bounds[1]:
        raise ValueError(f"{name} must be a number or a pair of numbers in [{bounds[0]}, {bounds[1]}]; "
                         f"got {factor!r}")
    f = abs(float(factor))
    return max(-f, bounds[0]), f


def _as_json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_choice(value: Any, name: str, choices: tuple) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _value_range(value_range: Any) -> tuple[float, float]:
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"value_range must be a pair (low, high), e.g. (0, 255); got {value_range!r}")
    low, high = sorted(float(v) for v in value_range)
    return low, high


class _Geometric(RandomLayer):
    def __init__(self, fill_mode: str, interpolation: str, seed: Any, fill_value: float, data_format: Any,
                 **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        check_data_format(data_format, type(self).__name__)
        self.fill_mode = _check_choice(fill_mode, "fill_mode", FILL_MODES)
        self.interpolation = _check_choice(interpolation, "interpolation", INTERPOLATIONS)
        self.fill_value = float(fill_value)

    def _sample(self, x, transforms):
        return affine_sample(x, transforms, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


@register
class RandomRotation(_Geometric):
    """Rotate each image by a random angle in ``factor · 2π`` (a number f means [-f, f]·2π, a pair
    (lower, upper) that range), counter-clockwise for positive angles, about the image centre."""

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear", seed: Any = None,
                 fill_value: float = 0.0, value_range: Any = (0, 255), data_format: Any = None, **kwargs: Any):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._range = keras_factor(factor, "factor")
        self.value_range = _value_range(value_range)

    def transform(self, x, angles):
        """Rotate image n of x (N, H, W, C) by ``angles[n]`` radians."""
        self._check_images(x)
        return self._sample(x, rotation_transforms(np.asarray(angles, np.float64), x.shape[1], x.shape[2]))

    def call(self, x, training=False):
        self._check_images(x)
        if not training:
            return x
        low, high = self._range
        return self.transform(x, self.rng.uniform(low, high, x.shape[0]) * 2 * math.pi)

    def get_config(self):
        return {**super().get_config(), "factor": _as_json(self.factor), "value_range": list(self.value_range)}


@register
class RandomZoom(_Geometric):
    """Zoom each image by a random factor: the image reads a window ``1 + u`` times its size, u drawn
    from ``height_factor`` (a number f: [-f, f]); positive u zooms out, negative zooms in.
    ``width_factor=None`` keeps the aspect ratio (the same draw for both axes)."""

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Any = None, fill_value: float = 0.0, data_format: Any = None,
                 **kwargs: Any):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = keras_factor(height_factor, "height_factor", (-1.0, math.inf))
        self._width = None if width_factor is None else keras_factor(width_factor, "width_factor", (-1.0, math.inf))

    def transform(self, x, height_zoom, width_zoom):
        """Zoom image n of x (N, H, W, C) by (height_zoom[n], width_zoom[n]); 1 leaves it as it is."""
        self._check_images(x)
        return self._sample(x, zoom_transforms(np.asarray(height_zoom, np.float64), np.asarray(width_zoom, np.float64),
                                               x.shape[1], x.shape[2]))

    def call(self, x, training=False):
        self._check_images(x)
        if not training:
            return x
        n = x.shape[0]
        height = 1.0 + self.rng.uniform(*self._height, n)
        width = height if self._width is None else 1.0 + self.rng.uniform(*self._width, n)
        return self.transform(x, height, width)

    def get_config(self):
        return {**super().get_config(), "height_factor": _as_json(self.height_factor),
                "width_factor": _as_json(self.width_factor)}


@register
class RandomContrast(RandomLayer):
    """Scale each image's deviation from its per-channel mean by a random factor in
    [1 - lower, 1 + upper] (Keras 3: a number f gives [1, 1 + f]), then clip to ``value_range``."""

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: Any = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self._range = keras_factor(factor, "factor", (0.0, 1.0))
        self.value_range = _value_range(value_range)

    def transform(self, x, factors):
        """(x - mean) · factors[n] + mean for image n (mean over height and width), clipped."""
        self._check_images(x)
        mean = x.mean(axis=(1, 2), keepdims=True)
        f = np.asarray(factors, dtype=x.dtype).reshape(-1, 1, 1, 1)
        return F.clip((x - mean) * f + mean, *self.value_range)

    def call(self, x, training=False):
        self._check_images(x)
        if not training:
            return x
        low, high = self._range
        return self.transform(x, self.rng.uniform(1.0 - low, 1.0 + high, x.shape[0]))

    def get_config(self):
        return {**super().get_config(), "factor": _as_json(self.factor), "value_range": list(self.value_range)}


@register
class RandomBrightness(RandomLayer):
    """Add a random delta to every pixel of an image: ``factor`` (a number f: [-f, f]) times the width
    of ``value_range``, then clip to ``value_range``."""

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: Any = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self._range = keras_factor(factor, "factor")
        self.value_range = _value_range(value_range)

    def transform(self, x, deltas):
        """x + deltas[n] for image n, clipped to value_range (deltas in pixel units)."""
        self._check_images(x)
        return F.clip(x + np.asarray(deltas, dtype=x.dtype).reshape(-1, 1, 1, 1), *self.value_range)

    def call(self, x, training=False):
        self._check_images(x)
        if not training:
            return x
        low, high = self._range
        width = self.value_range[1] - self.value_range[0]
        return self.transform(x, self.rng.uniform(low, high, x.shape[0]) * width)

    def get_config(self):
        return {**super().get_config(), "factor": _as_json(self.factor), "value_range": list(self.value_range)}
