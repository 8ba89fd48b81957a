"""Sliding windows over NHWC images (im2col as a strided view) and their adjoint (col2im).

The lecture's cross-correlation reads ``x[s·i + d·i', s·j + d·j', k]`` for every
output (i, j) and kernel tap (i', j'). ``windows`` exposes exactly that as a
6-D view without copying; ``add_windows`` is its transpose, adding a gradient
laid out like the windows back onto the image, one kernel tap at a time.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import scratch
from .padding import Pads


def pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """``x`` (N, H, W, C) with ``pads`` rows/columns of ``value`` around H and W."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    out[:, top:top + h, left:left + w, :] = x
    return out


def pad_into_buffer(x: np.ndarray, pads: Pads, purpose: str, value: float = 0.0) -> np.ndarray:
    """``pad(x, pads, value)`` written into this thread's reused buffer for ``purpose`` (no fresh
    allocation per call); ``x`` itself when there is no padding."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    xp = scratch.buffer(purpose, (n, h + top + bottom, w + left + right, c), x.dtype)
    # fill only the border: the interior is overwritten
    xp[:, :top] = value
    xp[:, top + h:] = value
    xp[:, top:top + h, :left] = value
    xp[:, top:top + h, left + w:] = value
    xp[:, top:top + h, left:left + w] = x
    return xp


def windows(xp: np.ndarray, kernel_hw: tuple[int, int], strides: tuple[int, int],
            dilation: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """Read-only view (N, out_h, out_w, kh, kw, C) with ``[n, i, j, i', j', k] = xp[n, s·i + d·i', s·j + d·j', k]``."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    return as_strided(
        xp, shape=(n, out_hw[0], out_hw[1], kernel_hw[0], kernel_hw[1], c),
        strides=(s_n, s_h * strides[0], s_w * strides[1], s_h * dilation[0], s_w * dilation[1], s_c),
        writeable=False)


def add_windows(dxp: np.ndarray, dwin: np.ndarray, strides: tuple[int, int],
                dilation: tuple[int, int]) -> None:
    """``dxp += col2im(dwin)``: the adjoint of ``windows``, in place.

    dxp: (N, Hp, Wp, C); dwin: (N, out_h, out_w, kh, kw, C). Windows overlap, so
    each kernel tap is added as one strided slice (a loop over taps, not pixels).
    """
    _, out_h, out_w, kh, kw, _ = dwin.shape
    for i in range(kh):
        for j in range(kw):
            rows, cols = tap_slices((i, j), (out_h, out_w), strides, dilation)
            dxp[:, rows, cols, :] += dwin[:, :, :, i, j, :]


def tap_slices(tap: tuple[int, int], out_hw: tuple[int, int], strides: tuple[int, int],
               dilation: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns of the padded image that kernel tap (i', j') reads across all outputs."""
    (i, j), (out_h, out_w), (sh, sw), (dh, dw) = tap, out_hw, strides, dilation
    return (slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw))
