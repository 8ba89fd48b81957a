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

from . import scratch


def tiles(pool: tuple[int, int], strides: tuple[int, int]) -> bool:
    """Whether windows of ``pool`` at ``strides`` tile the image (no overlap, no gap)."""
    return tuple(pool) == tuple(strides)


def window_sums(xp: np.ndarray, pool: tuple[int, int], out: np.ndarray) -> None:
    """``out`` (N, out_h, out_w, C) = the sum of each ``pool`` window of the padded images ``xp``
    (N, Hp, Wp, C), row sums first (a reused buffer)."""
    (ph, pw), (oh, ow) = pool, out.shape[1:3]
    covered = xp[:, :oh * ph, :ow * pw]  # the rows/columns some window reaches
    rows = scratch.buffer("pool.rows", (xp.shape[0], oh * ph, ow, xp.shape[3]), xp.dtype)
    np.copyto(rows, covered[:, :, 0::pw])
    for j in range(1, pw):
        rows += covered[:, :, j::pw]
    np.copyto(out, rows[:, 0::ph])
    for i in range(1, ph):
        out += rows[:, i::ph]


def spread(share: np.ndarray, pool: tuple[int, int], dxp: np.ndarray) -> None:
    """Write ``share`` (N, out_h, out_w, C) into every cell of its window of ``dxp`` (N, Hp, Wp, C):
    one broadcast onto the (N, out_h, m_h, out_w, m_w, C) view of the cells the windows cover
    (the others are left as they are)."""
    (ph, pw), (oh, ow) = pool, share.shape[1:3]
    n, _, _, c = dxp.shape
    s_n, s_h, s_w, s_c = dxp.strides
    covered = as_strided(dxp, (n, oh, ph, ow, pw, c), (s_n, ph * s_h, s_h, pw * s_w, s_w, s_c))
    covered[...] = share[:, :, None, :, None, :]
