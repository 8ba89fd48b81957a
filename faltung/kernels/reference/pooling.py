"""Max and average pooling, forward and backward, over the windows of NHWC images.

The lecture's max pooling with pool size m and stride s,

    Z[n, i, j, r] = max_{i', j' in [0, m)} X[n, s·i + i', s·j + j', r],

and average pooling, the mean over the same window. The windows are im2col's, one
channel at a time: ``windows`` (N, out_h, out_w, m_h, m_w, C). With 'same' padding
(Keras' semantics) padded cells never win a max (they are -inf) and an average divides
by the number of real cells in its window. Backward, each output's gradient goes back
to its window's cells through col2im: all of it to the window's first maximum, or an
equal share to each real cell of an average.
"""
from __future__ import annotations

import numpy as np

from ..padding import Pads
from .im2col import col2im, im2col


def _window_cells(x: np.ndarray, pool, strides, pads: Pads, out_hw, value: float) -> np.ndarray:
    """im2col with one channel at a time: the cells of every window, (N, out_h, out_w, m_h·m_w, C) in
    row-major window order, padding = ``value``."""
    cols = im2col(x, pool, strides, (1, 1), pads, out_hw, value)
    return cols.reshape(x.shape[0], *out_hw, pool[0] * pool[1], x.shape[3])


def _col2im(dcells: np.ndarray, x_shape, pool, strides, pads: Pads) -> np.ndarray:
    """Window-cell gradients (N, out_h, out_w, m_h·m_w, C) added back onto the cells they came from."""
    return col2im(dcells.reshape(-1, dcells.shape[3] * dcells.shape[4]), x_shape, pool, strides, (1, 1), pads,
                  dcells.shape[1:3])


def max_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``Z[n, i, j, r] = max_{i', j'} X[n, s·i + i', s·j + j', r]``: x (N, H, W, C) -> (Z (N, out_h, out_w, C),
    winner (N, out_h, out_w, 1, C)), ``winner`` the position in the window of its first maximum."""
    cells = _window_cells(x, pool, strides, pads, out_hw, -np.inf)
    winner = cells.argmax(axis=3)[:, :, :, None]  # argmax takes the first of tied maxima
    return np.take_along_axis(cells, winner, axis=3)[:, :, :, 0], winner


def max_pool_backward(grad: np.ndarray, winner: np.ndarray, x_shape: tuple[int, ...], pool, strides,
                      pads: Pads) -> np.ndarray:
    """dL/dX: each output's gradient ``grad`` (N, out_h, out_w, C) on the cell that won its window, 0 on
    the others (``winner`` from ``max_pool_forward``). -> (N, H, W, C)."""
    dcells = np.zeros((*grad.shape[:3], pool[0] * pool[1], grad.shape[3]), dtype=grad.dtype)
    np.put_along_axis(dcells, winner, grad[:, :, :, None], axis=3)
    return _col2im(dcells, x_shape, pool, strides, pads)


def real_cell_counts(in_hw, pool, strides, pads: Pads, out_hw, dtype) -> np.ndarray:
    """(out_h, out_w, 1): how many input cells (not padding) each window covers; per axis, a window
    starting at s·i - pad_before covers the part of [0, n) it overlaps."""
    counts = []
    for n, k, s, (before, _), size in zip(in_hw, pool, strides, pads, out_hw):
        start = np.arange(size) * s - before
        counts.append(np.clip(start + k, 0, n) - np.clip(start, 0, n))
    return np.outer(counts[0], counts[1]).astype(dtype)[:, :, None]


def avg_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> np.ndarray:
    """``Z[n, i, j, r] = (1 / #real cells) · sum_{i', j'} X[n, s·i + i', s·j + j', r]``, padding adding 0:
    x (N, H, W, C) -> (N, out_h, out_w, C)."""
    sums = _window_cells(x, pool, strides, pads, out_hw, 0.0).sum(axis=3)
    return sums / real_cell_counts(x.shape[1:3], pool, strides, pads, out_hw, x.dtype)


def avg_pool_backward(grad: np.ndarray, x_shape: tuple[int, ...], pool, strides, pads: Pads) -> np.ndarray:
    """dL/dX: each output's gradient ``grad`` (N, out_h, out_w, C), divided by its window's real cells,
    on every cell of the window (overlapping windows add up). -> (N, H, W, C)."""
    share = grad / real_cell_counts(x_shape[1:3], pool, strides, pads, grad.shape[1:3], grad.dtype)
    dcells = np.broadcast_to(share[:, :, :, None], (*grad.shape[:3], pool[0] * pool[1], grad.shape[3]))
    return _col2im(dcells, x_shape, pool, strides, pads)
