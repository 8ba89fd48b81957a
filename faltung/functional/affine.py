"""Affine resampling of images (rotation, zoom), differentiable with respect to the pixels.

Each image n gets a transform ``(a0, a1, a2, b0, b1, b2)`` that maps an output pixel (row i,
column j) to the input point ``(row, col) = (b0·j + b1·i + b2, a0·j + a1·i + a2)`` (TensorFlow's
and Keras' projective-transform convention, pixel centres at integer coordinates). The point is
read with 'nearest' (rounded, half to even) or 'bilinear' interpolation; a tap outside the image
is moved back inside by ``fill_mode`` ('reflect' mirrors with the edge repeated, 'wrap', 'nearest')
or, for 'constant', reads ``fill_value``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, Tensor
from ._checks import float_tensor

FILL_MODES = ("reflect", "wrap", "nearest", "constant")
INTERPOLATIONS = ("nearest", "bilinear")


def fix_index(index: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """``index`` moved inside [0, size) by ``mode``, and where it was inside in the first place."""
    inside = (index >= 0) & (index < size)
    if mode == "wrap":
        index = index % size
    elif mode == "reflect":  # (d c b a | a b c d | d c b a)
        index = index % (2 * size)
        index = np.where(index >= size, 2 * size - 1 - index, index)
    else:  # nearest; constant's outside taps are masked by the caller
        index = np.clip(index, 0, size - 1)
    return index, inside


def _taps(coord: np.ndarray, interpolation: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(integer index, weight) pairs that interpolate at real coordinates ``coord``."""
    if interpolation == "nearest":
        return [(np.round(coord).astype(np.int64), np.ones_like(coord))]
    low = np.floor(coord)
    frac = coord - low
    return [(low.astype(np.int64), 1.0 - frac), (low.astype(np.int64) + 1, frac)]


class AffineSampleOp(Function):
    """y[n, i, j, c] = Σ_taps w · x[n, r, q, c] (or w · fill_value for constant fill outside);
    backward scatters g · w back to the taps that were read (np.add.at: taps repeat)."""

    def forward(self, x, transforms, interpolation, fill_mode, fill_value):
        n, h, w, _ = x.shape
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        t = transforms.astype(np.float64)[:, :, None, None]
        src_col = t[:, 0] * cols + t[:, 1] * rows + t[:, 2]          # (N, H, W)
        src_row = t[:, 3] * cols + t[:, 4] * rows + t[:, 5]
        batch = np.broadcast_to(np.arange(n)[:, None, None], (n, h, w))
        self.reads, self.shape = [], x.shape
        out = np.zeros(x.shape, dtype=np.float64)
        for r, wr in _taps(src_row, interpolation):
            r_fixed, r_in = fix_index(r, h, fill_mode)
            for q, wq in _taps(src_col, interpolation):
                q_fixed, q_in = fix_index(q, w, fill_mode)
                weight = wr * wq
                if fill_mode == "constant":
                    inside = r_in & q_in
                    out += np.where(inside, weight, 0.0)[..., None] * x[batch, r_fixed, q_fixed]
                    out += np.where(inside, 0.0, weight * fill_value)[..., None]
                    weight = np.where(inside, weight, 0.0)
                else:
                    out += weight[..., None] * x[batch, r_fixed, q_fixed]
                self.reads.append((batch, r_fixed, q_fixed, weight))
        return out.astype(x.dtype)

    def backward(self, g):
        dx = np.zeros(self.shape, dtype=g.dtype)
        for batch, r, q, weight in self.reads:
            np.add.at(dx, (batch, r, q), (weight[..., None] * g).astype(g.dtype))
        return (dx,)


def affine_sample(x: Any, transforms: Any, interpolation: str = "bilinear", fill_mode: str = "reflect",
                  fill_value: float = 0.0) -> Tensor:
    """Resample each NHWC image by its transform: x (N, H, W, C), transforms (N, 6) -> (N, H, W, C)."""
    x = float_tensor(x, "x", 4, "(N, H, W, C)")
    transforms = np.asarray(transforms, dtype=np.float64)
    if transforms.shape != (x.shape[0], 6):
        raise ValueError(f"transforms must have shape (N, 6) = ({x.shape[0]}, 6); got {transforms.shape}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(map(repr, INTERPOLATIONS))}; got {interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {', '.join(map(repr, FILL_MODES))}; got {fill_mode!r}")
    return AffineSampleOp.apply(x, transforms=transforms, interpolation=interpolation, fill_mode=fill_mode,
                              fill_value=float(fill_value))


def rotation_transforms(angles: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 6) transforms that rotate images by ``angles`` (radians, counter-clockwise as Keras) about
    their centre ((width - 1)/2, (height - 1)/2)."""
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = np.cos(angles), np.sin(angles)
    a0, a1, b0, b1 = cos, -sin, sin, cos
    return np.stack([a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1], axis=1)


def zoom_transforms(height_zoom: np.ndarray, width_zoom: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 6) transforms that read a window ``zoom`` times the image's size about its centre:
    zoom > 1 zooms out, < 1 zooms in (Keras 3)."""
    zeros = np.zeros_like(height_zoom)
    return np.stack([width_zoom, zeros, (width - 1) / 2.0 * (1 - width_zoom),
                     zeros, height_zoom, (height - 1) / 2.0 * (1 - height_zoom)], axis=1)
