"""Plain reference kernels: the lecture's formulas written as directly as possible.

Slow on purpose (a Python loop over output positions). The tests compare the
fast kernels against these, so an optimisation can never change a result.
"""
from __future__ import annotations

import numpy as np

from .im2col import pad
from .padding import Pads


def conv2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple[int, int],
                     dilation: tuple[int, int], pads: Pads) -> np.ndarray:
    """Z[n, i, j, r] = sum_{i', j', k} x[n, s·i + d·i', s·j + d·j', k] · f[i', j', k, r] + b[r]."""
    xp = pad(x, pads)
    kh, kw, _, c_out = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    out_h = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    out_w = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], out_h, out_w, c_out), dtype=np.result_type(x, w))
    for i in range(out_h):
        for j in range(out_w):
            patch = xp[:, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=3)
    return out if b is None else out + b


def pool_reference(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                   mode: str) -> np.ndarray:
    """Max or average over each window's real cells (padding never counts)."""
    xp = pad(x.astype(np.float64), pads, np.nan)
    (ph, pw), (sh, sw) = pool, strides
    out_h = (xp.shape[1] - ph) // sh + 1
    out_w = (xp.shape[2] - pw) // sw + 1
    reduce = np.nanmax if mode == "max" else np.nanmean
    out = np.empty((x.shape[0], out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = reduce(xp[:, i * sh:i * sh + ph, j * sw:j * sw + pw, :], axis=(1, 2))
    return out.astype(x.dtype)
