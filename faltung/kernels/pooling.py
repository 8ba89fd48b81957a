"""Max and average pooling kernels over NHWC images, forward and backward.

The lecture's max pooling, ``Z[i, j, r] = max_{i', j' in [0, m)} X[s·i + i', s·j + j', r]``,
and average pooling, the mean over the same window. With 'same' padding,
padded cells never win a max (they are -inf) and an average divides by the
number of real cells in its window (Keras/TensorFlow semantics).
"""
from __future__ import annotations

import numpy as np

from .im2col import crop, pad, padded_zeros, tap_slices, windows
from .padding import Pads


def max_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C) -> (out (N, out_h, out_w, C), winner tap index per output, same shape).

    The winner is the first maximum in row-major window order, as in PyTorch.
    """
    n, _, _, c = x.shape
    win = windows(pad(x, pads, -np.inf), pool, strides, (1, 1), out_hw)
    flat = win.reshape(n, out_hw[0], out_hw[1], pool[0] * pool[1], c)
    arg = flat.argmax(axis=3)
    out = np.take_along_axis(flat, arg[:, :, :, None, :], axis=3)[:, :, :, 0, :]
    return out, arg


def max_pool_backward(grad: np.ndarray, arg: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """Route each output's gradient to the one input cell that won its max."""
    dxp = padded_zeros(x_shape, pads, grad.dtype)
    out_hw = grad.shape[1:3]
    for t in range(pool[0] * pool[1]):
        rows, cols = tap_slices(divmod(t, pool[1]), out_hw, strides, (1, 1))
        dxp[:, rows, cols, :] += np.where(arg == t, grad, 0)
    return crop(dxp, pads)


def avg_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> np.ndarray:
    """x (N, H, W, C) -> (N, out_h, out_w, C): each window's sum over its real (unpadded) cells."""
    win = windows(pad(x, pads), pool, strides, (1, 1), out_hw)
    return win.sum(axis=(3, 4)) / real_cell_counts(x.shape[1:3], pool, strides, pads, out_hw, x.dtype)


def avg_pool_backward(grad: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """Spread each output's gradient evenly over the real cells of its window."""
    out_hw = grad.shape[1:3]
    share = grad / real_cell_counts(x_shape[1:3], pool, strides, pads, out_hw, grad.dtype)
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
