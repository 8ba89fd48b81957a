"""Average pooling when the windows tile the image (strides equal to the pool size, the usual
2×2/2): each window's sum taken in two passes, first along each row, then down the columns.

The lecture's average pooling, the mean of ``X[m_h·i + i', m_w·j + j', r]`` over the window, is
the sum over i' of the row sums ``R[m_h·i + i', j, r] = sum_{j'} X[m_h·i + i', m_w·j + j', r]``.
The second pass reads whole image rows at a time (long contiguous runs) instead of one C-long
run per window cell. The backward writes the whole gradient in one sequential pass, a
broadcast of (N, out_h, 1, out_w, 1, C) onto the (N, out_h, m_h, out_w, m_w, C) view of dx,
instead of adding tap by tap into zeros: measured on 128×26×26×32, 1.5 against 5.5 ms.
(Two passes for max pooling measured no faster than its running maximum over taps.)
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .im2col import pad
from .padding import Pads


def tiles(pool: tuple[int, int], strides: tuple[int, int]) -> bool:
    """Whether windows of ``pool`` at ``strides`` tile the image (no overlap, no gap)."""
    return tuple(pool) == tuple(strides)


def avg_pool_forward(x: np.ndarray, pool: tuple[int, int], pads: Pads, out_hw: tuple[int, int],
                     counts: np.ndarray) -> np.ndarray:
    """x (N, H, W, C) -> (N, out_h, out_w, C): window sums (row sums first) divided by ``counts``,
    the real cells per window (out_h, out_w, 1)."""
    (ph, pw), (oh, ow) = pool, out_hw
    covered = pad(x, pads)[:, :oh * ph, :ow * pw]  # the rows/columns some window reaches
    rows = covered[:, :, 0::pw].copy()
    for j in range(1, pw):
        rows += covered[:, :, j::pw]
    out = rows[:, 0::ph].copy()
    for i in range(1, ph):
        out += rows[:, i::ph]
    out /= counts
    return out


def avg_pool_backward(grad: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int], pads: Pads,
                      counts: np.ndarray) -> np.ndarray:
    """dx (N, H, W, C): each output's gradient divided by its real cell count, in every cell of its
    window; 0 in the rows/columns no window reaches."""
    (ph, pw), (oh, ow) = pool, grad.shape[1:3]
    (top, bottom), (left, right) = pads
    n, h, w, c = x_shape
    share = (grad / counts)[:, :, None, :, None, :]
    hp, wp = h + top + bottom, w + left + right
    if (hp, wp) == (oh * ph, ow * pw):  # windows cover the padded image exactly: one sequential write
        dxp = np.empty((n, oh, ph, ow, pw, c), dtype=grad.dtype)
        dxp[...] = share
        dxp = dxp.reshape(n, hp, wp, c)
    else:
        dxp = np.zeros((n, hp, wp, c), dtype=grad.dtype)
        covered = as_strided(dxp, (n, oh, ph, ow, pw, c), (dxp.strides[0], ph * dxp.strides[1], dxp.strides[1],
                                                           pw * dxp.strides[2], dxp.strides[2], dxp.strides[3]))
        covered[...] = share
    if top == bottom == left == right == 0:
        return dxp
    return np.ascontiguousarray(dxp[:, top:top + h, left:left + w])
