"""Max and average pooling kernels over NHWC images, forward and backward.

The lecture's max pooling, ``Z[i, j, r] = max_{i', j' in [0, m)} X[s·i + i', s·j + j', r]``,
and average pooling, the mean over the same window. With 'same' padding,
padded cells never win a max (they are -inf) and an average divides by the
number of real cells in its window (Keras/TensorFlow semantics).
"""
from __future__ import annotations

import numpy as np

from . import tiled_pooling as tiled
from .im2col import crop, pad, padded_zeros, tap_slices
from .padding import Pads


def _taps(xp: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], out_hw: tuple[int, int]):
    """(tap index, strided view (N, out_h, out_w, C) of that tap's cells), in row-major window order."""
    for t in range(pool[0] * pool[1]):
        rows, cols = tap_slices(divmod(t, pool[1]), out_hw, strides, (1, 1))
        yield t, xp[:, rows, cols, :]


def max_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C) -> (out (N, out_h, out_w, C), took (T-1, N, out_h, out_w, C) bools).

    A running maximum over the window's T taps, one strided view each (no window
    copy). ``took[t-1]`` records where tap t was strictly greater than the taps before
    it, so the winner is the last tap that took the lead: the first maximum in
    row-major window order, as in PyTorch.
    """
    xp = pad(x, pads, -np.inf)
    taps = [view for _, view in _taps(xp, pool, strides, out_hw)]
    out = taps[0].copy()
    took = np.empty((len(taps) - 1,) + out.shape, dtype=bool)
    for t, view in enumerate(taps[1:]):
        np.greater(view, out, out=took[t])
        np.maximum(out, view, out=out)
    return out, took


def max_pool_backward(grad: np.ndarray, took: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """Route each output's gradient to the one input cell that won its max (walking the taps backwards:
    the last tap that took the lead is the winner)."""
    dxp = padded_zeros(x_shape, pads, grad.dtype)
    out_hw = grad.shape[1:3]
    overlapping = strides[0] < pool[0] or strides[1] < pool[1]
    views = [view for _, view in _taps(dxp, pool, strides, out_hw)]
    remaining = grad.copy()
    routed = np.empty_like(grad)
    for t in range(len(views) - 1, -1, -1):
        if t > 0:
            np.multiply(remaining, took[t - 1], out=routed)
            remaining -= routed  # exactly 0 where routed, unchanged elsewhere (copyto(where=) is 10x slower)
        else:
            routed = remaining
        if overlapping:
            views[t] += routed
        else:  # windows do not overlap: each cell belongs to one window, so assign
            views[t][...] = routed
    return crop(dxp, pads)


def avg_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> np.ndarray:
    """x (N, H, W, C) -> (N, out_h, out_w, C): each window's sum over its real (unpadded) cells,
    divided by their number. The sum runs over the taps, one strided view each (in two passes,
    along rows then down columns, when the windows tile the image)."""
    counts = real_cell_counts(x.shape[1:3], pool, strides, pads, out_hw, x.dtype)
    if tiled.tiles(pool, strides):
        return tiled.avg_pool_forward(x, pool, pads, out_hw, counts)
    taps = [view for _, view in _taps(pad(x, pads), pool, strides, out_hw)]
    out = taps[0].copy()
    for view in taps[1:]:
        out += view
    out /= counts
    return out


def avg_pool_backward(grad: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """Spread each output's gradient evenly over the real cells of its window."""
    out_hw = grad.shape[1:3]
    counts = real_cell_counts(x_shape[1:3], pool, strides, pads, out_hw, grad.dtype)
    if tiled.tiles(pool, strides):
        return tiled.avg_pool_backward(grad, x_shape, pool, pads, counts)
    share = grad / counts
    dxp = padded_zeros(x_shape, pads, grad.dtype)
    for i in range(pool[0]):
        for j in range(pool[1]):
            rows, cols = tap_slices((i, j), out_hw, strides, (1, 1))
            dxp[:, rows, cols, :] += share
    return crop(dxp, pads)


def real_cell_counts(in_hw, pool, strides, pads, out_hw, dtype) -> np.ndarray:
    """(out_h, out_w, 1) count of input cells (not padding) inside each window."""
    counts = []
    for n, k, s, (before, _), size in zip(in_hw, pool, strides, pads, out_hw):
        start = np.arange(size) * s - before
        counts.append(np.clip(start + k, 0, n) - np.clip(start, 0, n))
    return np.outer(counts[0], counts[1]).astype(dtype)[:, :, None]
