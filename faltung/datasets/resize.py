"""Resizing one image ``(h, w, C)`` float32 the way ``tf.image.resize`` does (half-pixel centres, no antialiasing).

"bilinear" and "nearest" follow TensorFlow's kernels exactly (the same as PyTorch's
``interpolate(..., align_corners=False)`` bilinear and "nearest-exact"); "bicubic", "area"
and "lanczos3" use Pillow's filters, close to TensorFlow's but not bit-identical.
"""
from __future__ import annotations

import numpy as np

EXACT = ("bilinear", "nearest")
VIA_PILLOW = {"bicubic": "BICUBIC", "area": "BOX", "lanczos3": "LANCZOS"}
INTERPOLATIONS = (*EXACT, *VIA_PILLOW)


def check_interpolation(interpolation: str) -> str:
    """The lower-cased name, or a ValueError listing the supported ones."""
    name = interpolation.lower() if isinstance(interpolation, str) else interpolation
    if name not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {list(INTERPOLATIONS)}; got {interpolation!r}")
    return name


def _source(n_in: int, n_out: int) -> np.ndarray:
    # TensorFlow's HalfPixelScaler in float32: (i + 0.5) * (n_in / n_out) - 0.5
    scale = np.float32(n_in) / np.float32(n_out)
    return (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)


def _linear(image: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    n_in = image.shape[axis]
    src = _source(n_in, n_out)
    floor = np.floor(src)
    lo = np.maximum(floor, 0).astype(np.intp)
    hi = np.minimum(np.ceil(src), n_in - 1).astype(np.intp)
    lerp = (src - floor).reshape([-1 if a == axis else 1 for a in range(image.ndim)])
    a, b = np.take(image, lo, axis=axis), np.take(image, hi, axis=axis)
    return a + (b - a) * lerp


def _nearest(image: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    n_in = image.shape[axis]
    scale = np.float32(n_in) / np.float32(n_out)
    index = np.floor((np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale)  # TF: floor((i + .5) * s)
    return np.take(image, np.clip(index, 0, n_in - 1).astype(np.intp), axis=axis)


def resize(image: np.ndarray, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """``image`` ``(h, w, C)`` resized to ``size = (height, width)``, float32 (values not rescaled)."""
    interpolation = check_interpolation(interpolation)
    image = np.asarray(image, dtype=np.float32)
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    if interpolation == "bilinear":
        return _linear(_linear(image, width, axis=1), height, axis=0)  # x first, as TensorFlow
    if interpolation == "nearest":
        return _nearest(_nearest(image, width, axis=1), height, axis=0)
    from PIL import Image

    resample = getattr(Image.Resampling, VIA_PILLOW[interpolation])
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c]))
                           .resize((width, height), resample=resample)) for c in range(image.shape[2])]
    return np.stack(channels, axis=-1).astype(np.float32, copy=False)


def crop_to_aspect_ratio(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The largest centred crop of ``image`` with the aspect ratio of ``size``, as Keras' ``smart_resize``."""
    h, w = image.shape[:2]
    th, tw = size
    crop_h = min(h, int(float(w * th) / tw))
    crop_w = min(w, int(float(h * tw) / th))
    top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
    return image[top:top + crop_h, left:left + crop_w]
