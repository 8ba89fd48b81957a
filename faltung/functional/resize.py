"""Image resizing as a linear map: ``y[n, :, :, c] = A_h · x[n, :, :, c] · A_wᵀ`` with interpolation
matrices A (out, in), so forward and backward are two matrix products each (backward: the transposes).

Pixel centres are half-integers (TensorFlow's ``half_pixel_centers``, PyTorch's
``align_corners=False``), output pixel i reads source coordinate ``(i + ½)·in/out - ½``:
'bilinear' mixes the two nearest rows (clamped at the border), 'nearest' takes row
``min(floor((i + ½)·in/out), in - 1)``. No antialiasing, as Keras' default.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, Tensor
from ._checks import float_tensor

INTERPOLATIONS = ("bilinear", "nearest")


def interpolation_matrix(n_in: int, n_out: int, interpolation: str, dtype=np.float64) -> np.ndarray:
    """(n_out, n_in) weights: row i holds how much each input row contributes to output row i."""
    a = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    scale = n_in / n_out
    if interpolation == "nearest":
        a[rows, np.minimum(np.floor((rows + 0.5) * scale).astype(int), n_in - 1)] = 1.0
    elif interpolation == "bilinear":
        src = np.maximum((rows + 0.5) * scale - 0.5, 0.0)
        low = np.minimum(np.floor(src).astype(int), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        frac = src - low
        np.add.at(a, (rows, low), 1.0 - frac)
        np.add.at(a, (rows, high), frac)
    else:
        raise ValueError(f"interpolation must be one of {', '.join(map(repr, INTERPOLATIONS))}; got {interpolation!r}")
    return a.astype(dtype)


class Resize2DOp(Function):
    def forward(self, x, a_h, a_w):
        self.a_h, self.a_w, self.shape = a_h, a_w, x.shape
        n, h, w, c = x.shape
        rows = np.matmul(a_h, x.reshape(n, h, w * c)).reshape(n, -1, w, c)      # (N, out_h, W, C)
        return np.einsum("jw,niwc->nijc", a_w, rows, optimize=True)

    def backward(self, g):
        n, h, w, c = self.shape
        cols = np.einsum("jw,nijc->niwc", self.a_w, g, optimize=True)           # (N, out_h, W, C)
        return (np.matmul(self.a_h.T, cols.reshape(n, -1, w * c)).reshape(self.shape),)


def resize(x: Any, size: Any, interpolation: str = "bilinear") -> Tensor:
    """Resize NHWC images to ``size`` = (height, width): (N, H, W, C) -> (N, height, width, C)."""
    x = float_tensor(x, "x", 4, "(N, H, W, C)")
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size)):
        raise ValueError(f"size must be a pair of positive ints (height, width); got {size!r}")
    a_h = interpolation_matrix(x.shape[1], int(size[0]), interpolation, x.dtype)
    a_w = interpolation_matrix(x.shape[2], int(size[1]), interpolation, x.dtype)
    return Resize2DOp.apply(x, a_h=a_h, a_w=a_w)


def aspect_crop(in_hw: tuple[int, int], target_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """The central window of an image of ``in_hw`` with the aspect ratio of ``target_hw``, as
    (top, left, height, width): Keras' crop_to_aspect_ratio and smart_resize."""
    (h, w), (th, tw) = in_hw, target_hw
    crop_h = min(h, int(float(w * th) / tw))
    crop_w = min(w, int(float(h * tw) / th))
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w
