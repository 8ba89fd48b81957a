"""The compiled loops of max and average pooling (``pooling`` calls them on a few images at a time).

Window (i, j) covers the input rows ``s_h·i - top + i'`` and columns ``s_w·j - left + j'``,
i' < m_h, j' < m_w; the loops visit only the part of it inside the image, so padding is never
read, never wins a max and is never counted in an average (Keras' semantics). The channel
loop is always innermost: C contiguous values in NHWC, which LLVM turns into vector
instructions. What costs here is less the arithmetic (4 vector operations a cell for C = 64)
than what surrounds it: each short channel loop's start, and a running maximum or sum read
from and written back to ``out`` once per window cell. So the loops are arranged to start as
few channel loops as they can; the measurements below are one thread's CPU time on the
benchmark's batch (64x32x32x64 float32, 2x2/2 windows).
"""
from __future__ import annotations

import numpy as np

from .compiled import compiled


@compiled
def max_pool(x, m_h, m_w, s_h, s_w, top, left, out, took):
    """``out[n, i, j, r] = max_{i', j'} x[n, s_h·i - top + i', s_w·j - left + j', r]`` over the real cells;
    ``took[n, i, j, r]`` = i'·m_w + j' of the first maximum in row-major window order. As the
    reference's argmax: a NaN wins over any number (the first NaN over later ones), and a window whose
    real cells are all -inf reports position 0 (a padding cell if the window starts in the padding: its
    gradient is dropped). x (m, H, W, C); out, took (m, out_h, out_w, C).

    (Taking the window's rows first, as ``avg_pool`` does, measured no faster here: 1.27 against
    1.32 ms, for a tie rule much harder to read.)"""
    images, height, width, channels = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for n in range(images):
        for i in range(out_h):
            row0 = s_h * i - top
            for j in range(out_w):
                col0 = s_w * j - left
                for r in range(channels):
                    out[n, i, j, r] = -np.inf
                    took[n, i, j, r] = 0
                for row in range(max(row0, 0), min(row0 + m_h, height)):
                    for col in range(max(col0, 0), min(col0 + m_w, width)):
                        t = (row - row0) * m_w + (col - col0)
                        for r in range(channels):
                            v, best = x[n, row, col, r], out[n, i, j, r]
                            if not v <= best and best == best:  # v greater or NaN, and no NaN won before
                                out[n, i, j, r] = v
                                took[n, i, j, r] = t


@compiled
def pool_backward(g, took, counts, m_h, m_w, s_h, s_w, top, left, dx):
    """Both poolings' backward. Max pooling (``took`` not empty): ``dx[n, row, col, r]`` = the sum of
    ``g[n, i, j, r]`` over the windows (i, j) that hold the cell and whose winner ``took[n, i, j, r]``
    it is. Average pooling (``took`` empty): the sum of ``g[n, i, j, r] / counts[i, j]`` over the
    windows that hold the cell. 0 for a cell that gets nothing. g, took (m, out_h, out_w, C);
    counts (out_h, out_w); dx (m, H, W, C).

    Each input cell is written once, gathering from the few windows that hold it (1 for 2x2/2):
    max 1.45 ms, against 2.1 ms adding each window's gradient onto its cells and 5.0 ms sending it
    straight to the winner's cell (an integer division per value, no vector instructions); average
    1.06 ms, against 1.32 ms adding each window's share onto its cells."""
    images, height, width, channels = dx.shape
    out_h, out_w = g.shape[1], g.shape[2]
    by_max = took.size > 0
    for n in range(images):
        for row in range(height):
            # the windows i with s_h·i - top <= row < s_h·i - top + m_h
            i_first, i_stop = max((row + top - m_h) // s_h + 1, 0), min((row + top) // s_h + 1, out_h)
            for col in range(width):
                j_first, j_stop = max((col + left - m_w) // s_w + 1, 0), min((col + left) // s_w + 1, out_w)
                for r in range(channels):
                    dx[n, row, col, r] = 0
                for i in range(i_first, i_stop):
                    for j in range(j_first, j_stop):
                        if by_max:
                            t = (row - s_h * i + top) * m_w + (col - s_w * j + left)  # the cell's place in (i, j)
                            for r in range(channels):
                                dx[n, row, col, r] += g[n, i, j, r] if took[n, i, j, r] == t else 0
                        else:
                            cells = counts[i, j]
                            for r in range(channels):
                                dx[n, row, col, r] += g[n, i, j, r] / cells


NO_WINNERS = np.zeros((0, 0, 0, 0), np.int8)  # ``pool_backward``'s took for average pooling
NO_COUNTS = np.zeros((0, 0))                   # and its counts for max pooling


@compiled
def avg_pool(x, m_h, m_w, s_h, s_w, top, left, counts, out):
    """``out[n, i, j, r] = (1 / counts[i, j]) · sum_{i', j'} x[n, s_h·i - top + i', s_w·j - left + j', r]``
    over the window's real cells (``counts[i, j]`` of them). x (m, H, W, C); counts (out_h, out_w);
    out (m, out_h, out_w, C).

    The window's rows are summed first, whole image rows at a time (one channel loop of W·C values
    per row), then each window's columns: 0.79 ms, against 1.26 ms summing cell by cell."""
    images, height, width, channels = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    column_sums = np.empty((width, channels), x.dtype)  # of the window rows of output row i
    for n in range(images):
        for i in range(out_h):
            first_row, row_stop = max(s_h * i - top, 0), min(s_h * i - top + m_h, height)
            for col in range(width):
                for r in range(channels):
                    column_sums[col, r] = x[n, first_row, col, r]
            for row in range(first_row + 1, row_stop):
                for col in range(width):
                    for r in range(channels):
                        column_sums[col, r] += x[n, row, col, r]
            for j in range(out_w):
                first_col, col_stop = max(s_w * j - left, 0), min(s_w * j - left + m_w, width)
                for r in range(channels):
                    out[n, i, j, r] = column_sums[first_col, r]
                for col in range(first_col + 1, col_stop):
                    for r in range(channels):
                        out[n, i, j, r] += column_sums[col, r]
                cells = counts[i, j]  # a local: LLVM cannot tell that writing ``out`` leaves ``counts`` alone
                for r in range(channels):
                    out[n, i, j, r] /= cells


@compiled
def max_pool_2x2(x, out, took):
    """``max_pool`` of 2x2 windows at stride 2, unpadded: the cells a b / c d compared in row-major order
    (the same winner, NaN included)."""
    images, out_h, out_w, channels = out.shape
    for n in range(images):
        for i in range(out_h):
            for j in range(out_w):
                for r in range(channels):
                    a, b = x[n, 2 * i, 2 * j, r], x[n, 2 * i, 2 * j + 1, r]
                    c, d = x[n, 2 * i + 1, 2 * j, r], x[n, 2 * i + 1, 2 * j + 1, r]
                    best, t = a, 0
                    if not b <= best and best == best:  # b greater or NaN, and no NaN won before
                        best, t = b, 1
                    if not c <= best and best == best:
                        best, t = c, 2
                    if not d <= best and best == best:
                        best, t = d, 3
                    out[n, i, j, r] = best
                    took[n, i, j, r] = t if best != -np.inf else 0


@compiled
def avg_pool_2x2(x, out):
    """``avg_pool`` of 2x2 windows at stride 2, unpadded: (a + b + c + d) / 4."""
    images, out_h, out_w, channels = out.shape
    for n in range(images):
        for i in range(out_h):
            for j in range(out_w):
                for r in range(channels):
                    out[n, i, j, r] = (x[n, 2 * i, 2 * j, r] + x[n, 2 * i, 2 * j + 1, r]
                                       + x[n, 2 * i + 1, 2 * j, r] + x[n, 2 * i + 1, 2 * j + 1, r]) / 4
