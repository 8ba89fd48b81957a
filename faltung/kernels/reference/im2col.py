"""Windows of NHWC images as rows of a matrix (im2col), and the adjoint that adds rows back (col2im).

The lecture's layer reads ``x[s·i + d·i', s·j + d·j', k]`` for every output (i, j) and
kernel tap (i', j'). ``windows`` is that as a 6-D view of the padded image, without
copying; ``im2col`` copies it into a matrix with one row per output pixel, so that a
convolution becomes one matrix product; ``col2im`` takes rows shaped like that matrix
and adds each back onto the pixels its window read (what the input gradient needs).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..padding import Pads


def pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """``x`` (N, H, W, C) with ``pads`` rows/columns of ``value`` around H and W (``x`` itself if none)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    out[:, top:top + h, left:left + w, :] = x
    return out


def windows(xp: np.ndarray, kernel_hw: tuple[int, int], strides: tuple[int, int],
            dilation: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """Read-only view (N, out_h, out_w, kh, kw, C) with ``[n, i, j, i', j', k] = xp[n, s·i + d·i', s·j + d·j', k]``."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    return as_strided(
        xp, shape=(n, out_hw[0], out_hw[1], kernel_hw[0], kernel_hw[1], c),
        strides=(s_n, s_h * strides[0], s_w * strides[1], s_h * dilation[0], s_w * dilation[1], s_c),
        writeable=False)


def im2col(x: np.ndarray, kernel_hw, strides, dilation, pads: Pads, out_hw, value: float = 0.0) -> np.ndarray:
    """Every window of the padded images as one row: x (N, H, W, C) -> (N·out_h·out_w, kh·kw·C),
    row ``(n, i, j)`` holding ``x[n, s·i + d·i', s·j + d·j', k]`` in (i', j', k) order."""
    kh, kw = kernel_hw
    return windows(pad(x, pads, value), kernel_hw, strides, dilation, out_hw).reshape(-1, kh * kw * x.shape[3])


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kernel_hw, strides, dilation, pads: Pads,
           out_hw) -> np.ndarray:
    """The adjoint of ``im2col``: cols (N·out_h·out_w, kh·kw·C) -> (N, H, W, C), each entry added onto
    the pixel its window read; what lands on padding is dropped."""
    n, h, w, c = x_shape
    (top, bottom), (left, right) = pads
    dxp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=cols.dtype)
    add_windows(dxp, cols.reshape(n, *out_hw, *kernel_hw, c), strides, dilation)
    return dxp[:, top:top + h, left:left + w]


def add_windows(dxp: np.ndarray, dwin: np.ndarray, strides: tuple[int, int],
                dilation: tuple[int, int]) -> None:
    """``dxp += col2im(dwin)`` in place: dxp (N, Hp, Wp, C), dwin (N, out_h, out_w, kh, kw, C).
    Windows overlap, so each kernel tap is added as one strided slice (a loop over taps, not pixels)."""
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
