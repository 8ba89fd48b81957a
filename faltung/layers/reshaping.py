"""Layers that change the image grid: UpSampling2D (repeat or interpolate), Cropping2D, Resizing and
CenterCrop (Keras' preprocessing layers, differentiable here)."""
from __future__ import annotations

from typing import Any

from ..functional.resize import INTERPOLATIONS, aspect_crop, resize
from ..kernels.padding import normalize_pair
from .base import Layer, register
from .convolutional import check_data_format


def _check_interpolation(value: Any) -> str:
    if value not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(map(repr, INTERPOLATIONS))}; got {value!r}")
    return value


def _images(layer: Layer, x) -> None:
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} expects images (N, H, W, C); got shape {x.shape}")


@register
class UpSampling2D(Layer):
    """Enlarge images by ``size`` = (rows, cols): 'nearest' repeats each pixel, 'bilinear' interpolates
    (half-pixel centres, as Keras). (N, H, W, C) -> (N, H·rows, W·cols, C)."""

    def __init__(self, size: Any = (2, 2), data_format: Any = None, interpolation: str = "nearest", **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        self.size = normalize_pair(size, "size")
        self.interpolation = _check_interpolation(interpolation)

    def call(self, x, training=False):
        _images(self, x)
        return resize(x, (x.shape[1] * self.size[0], x.shape[2] * self.size[1]), self.interpolation)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


@register
class Cropping2D(Layer):
    """Remove rows and columns at the borders: ``cropping`` an int, (rows, cols) or
    ((top, bottom), (left, right)). (N, H, W, C) -> (N, H - top - bottom, W - left - right, C)."""

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        if isinstance(cropping, int) or (isinstance(cropping, (tuple, list)) and len(cropping) == 2
                                         and all(isinstance(c, int) for c in cropping)):
            rows, cols = normalize_pair(cropping, "cropping", minimum=0)
            cropping = ((rows, rows), (cols, cols))
        try:
            (top, bottom), (left, right) = cropping
            pairs = (normalize_pair((top, bottom), "cropping", 0), normalize_pair((left, right), "cropping", 0))
        except (TypeError, ValueError):
            raise ValueError(f"cropping must be an int, (rows, cols) or ((top, bottom), (left, right)) of ints "
                             f">= 0; got {cropping!r}") from None
        self.cropping = pairs

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.cropping
        n, h, w, c = input_shape
        out = [None if d is None else d - a - b for d, (a, b) in zip((h, w), self.cropping)]
        if any(d is not None and d < 1 for d in out):
            raise ValueError(f"Cropping2D {self.name!r} crops {self.cropping} from images of {h}×{w}: nothing is left")
        return (n, *out, c)

    build = compute_output_shape

    def call(self, x, training=False):
        _images(self, x)
        self.compute_output_shape(x.shape)
        (top, bottom), (left, right) = self.cropping
        return x[:, top:x.shape[1] - bottom, left:x.shape[2] - right, :]

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


@register
class Resizing(Layer):
    """Resize images to ``height`` × ``width`` (Keras' preprocessing layer; differentiable).

    interpolation 'bilinear' (default) or 'nearest'; ``crop_to_aspect_ratio=True`` first takes the
    largest central window with the target's aspect ratio, so nothing is distorted.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False, fill_mode: str = "constant", fill_value: float = 0.0,
                 antialias: bool = False, data_format: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)):
            raise ValueError(f"height and width must be positive ints; got {height!r}, {width!r}")
        if pad_to_aspect_ratio or antialias:
            raise ValueError("Resizing: pad_to_aspect_ratio and antialias are not supported by faltung; "
                             "use crop_to_aspect_ratio or a plain resize")
        self.height, self.width = height, width
        self.interpolation = _check_interpolation(interpolation)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)

    def call(self, x, training=False):
        _images(self, x)
        if self.crop_to_aspect_ratio:
            top, left, h, w = aspect_crop(x.shape[1:3], (self.height, self.width))
            x = x[:, top:top + h, left:left + w, :]
        return resize(x, (self.height, self.width), self.interpolation)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio}


@register
class CenterCrop(Layer):
    """The central ``height`` × ``width`` window of each image; an image smaller than that along an axis
    is instead cropped to the target's aspect ratio and resized (bilinear), as Keras does."""

    def __init__(self, height: int, width: int, data_format: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)):
            raise ValueError(f"height and width must be positive ints; got {height!r}, {width!r}")
        self.height, self.width = height, width

    def call(self, x, training=False):
        _images(self, x)
        h, w = x.shape[1:3]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return x[:, top:top + self.height, left:left + self.width, :]
        top, left, ch, cw = aspect_crop((h, w), (self.height, self.width))
        return resize(x[:, top:top + ch, left:left + cw, :], (self.height, self.width), "bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
