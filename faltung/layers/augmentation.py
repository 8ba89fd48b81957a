"""Data augmentation layers: random flips, translations and crops while training, identity (or a
deterministic centre view) at inference. Every sample of a batch gets its own random draw."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, distributed
from .base import Layer, register

FILL_MODES = ("reflect", "wrap", "nearest", "constant")


class RandomLayer(Layer):
    def __init__(self, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    @property
    def rng(self) -> np.random.Generator:
        return self._rng or backend.rng()

    def draw(self, method: str, *args: Any, n: int) -> np.ndarray:
        """``rng.<method>(*args, n)``: one value per sample of the batch (data-parallel: of the global batch's)."""
        return distributed.draw_per_sample(lambda k: getattr(self.rng, method)(*args, k), n)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    @staticmethod
    def _check_images(x) -> None:
        if x.ndim != 4:
            raise ValueError(f"expected images (N, H, W, C); got shape {x.shape}")


@register
class RandomFlip(RandomLayer):
    """Flip each image left-right and/or up-down with probability 1/2 (training only)."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, self.MODES))}; got {mode!r}")
        self.mode = mode

    def call(self, x, training=False):
        self._check_images(x)
        if not training:
            return x
        n, h, w, _ = x.shape
        rows = np.broadcast_to(np.arange(h)[None, :, None], (n, h, w))
        cols = np.broadcast_to(np.arange(w)[None, None, :], (n, h, w))
        if "horizontal" in self.mode:
            flip = self.draw("random", n=n) < 0.5
            cols = np.where(flip[:, None, None], w - 1 - cols, cols)
        if "vertical" in self.mode:
            flip = self.draw("random", n=n) < 0.5
            rows = np.where(flip[:, None, None], h - 1 - rows, rows)
        return x[np.arange(n)[:, None, None], rows, cols]

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _factor_range(factor: Any, name: str) -> tuple[float, float]:
    low, high = (factor if isinstance(factor, (tuple, list)) else (-factor, factor))
    low, high = float(low), float(high)
    if not -1 <= low <= high <= 1:
        raise ValueError(f"{name} must be a fraction in [0, 1] or a (lower, upper) pair in [-1, 1]; got {factor!r}")
    return low, high


def _fill_index(index: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Map out-of-range indices back inside (reflect/wrap/nearest); also says which were outside."""
    outside = (index < 0) | (index >= size)
    if mode == "wrap":
        index = index % size
    elif mode == "reflect":  # Keras' 'reflect' is (d c b a | a b c d | d c b a): the edge repeats
        period = 2 * size
        index = index % period
        index = np.where(index >= size, period - 1 - index, index)
    else:  # nearest, and constant (whose outside cells are overwritten afterwards)
        index = np.clip(index, 0, size - 1)
    return index, outside


@register
class RandomTranslation(RandomLayer):
    """Shift each image by a random fraction of its height and width (whole pixels), training only.

    ``height_factor=0.1`` draws shifts in [-10 %, +10 %] of the height; the uncovered border
    is filled by ``fill_mode`` ('reflect', 'wrap', 'nearest', or 'constant' with ``fill_value``).
    """

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "nearest", seed: int | None = None, fill_value: float = 0.0, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._ranges = (_factor_range(height_factor, "height_factor"), _factor_range(width_factor, "width_factor"))
        if fill_mode not in FILL_MODES:
            raise ValueError(f"fill_mode must be one of {', '.join(map(repr, FILL_MODES))}; got {fill_mode!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"interpolation must be 'nearest' or 'bilinear'; got {interpolation!r}")
        # whole-pixel shifts: nearest and bilinear interpolation coincide
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def call(self, x, training=False):
        self._check_images(x)
        if not training:
            return x
        n, h, w, _ = x.shape
        (hl, hh), (wl, wh) = self._ranges
        dy = np.round(self.draw("uniform", hl, hh, n=n) * h).astype(int)
        dx = np.round(self.draw("uniform", wl, wh, n=n) * w).astype(int)
        rows, out_r = _fill_index(np.arange(h)[None, :] - dy[:, None], h, self.fill_mode)
        cols, out_c = _fill_index(np.arange(w)[None, :] - dx[:, None], w, self.fill_mode)
        y = x[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
        if self.fill_mode == "constant":
            outside = (out_r[:, :, None] | out_c[:, None, :])[..., None]
            y = y * (~outside) + self.fill_value * outside
        return y

    def get_config(self):
        as_json = lambda f: list(f) if isinstance(f, (tuple, list)) else f  # noqa: E731
        return {**super().get_config(), "height_factor": as_json(self.height_factor),
                "width_factor": as_json(self.width_factor),
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value}


@register
class RandomCrop(RandomLayer):
    """A random ``height`` × ``width`` window of each image while training; at inference the
    central window (Keras resizes instead when aspect ratios differ; here the input must be
    at least the crop size)."""

    def __init__(self, height: int, width: int, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        if not all(isinstance(v, int) and v > 0 for v in (height, width)):
            raise ValueError(f"height and width must be positive ints; got {height!r}, {width!r}")
        self.height, self.width = height, width

    def build(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        if (h is not None and h < self.height) or (w is not None and w < self.width):
            raise ValueError(f"RandomCrop {self.name!r} crops {self.height}×{self.width} but images are {h}×{w}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def call(self, x, training=False):
        self._check_images(x)
        n, h, w, _ = x.shape
        self.build(x.shape)
        if training:
            top = self.draw("integers", 0, h - self.height + 1, n=n)
            left = self.draw("integers", 0, w - self.width + 1, n=n)
        else:
            top = np.full(n, (h - self.height) // 2)
            left = np.full(n, (w - self.width) // 2)
        rows = top[:, None] + np.arange(self.height)[None, :]
        cols = left[:, None] + np.arange(self.width)[None, :]
        return x[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
