"""Max and average pooling kernels over NHWC images, forward and backward.

The lecture's max pooling, ``Z[i, j, r] = max_{i', j' in [0, m)} X[s·i + i', s·j + j', r]``,
and average pooling, the mean over the same window. With 'same' padding,
padded cells never win a max (they are -inf) and an average divides by the
number of real cells in its window (Keras/TensorFlow semantics).

Pooling is memory-bound: every kernel runs over cache-sized chunks of the batch on
faltung's thread pool, each chunk's passes done while it is in cache.
"""
from __future__ import annotations

import numpy as np

from . import scratch
from . import tiled_pooling as tiled
from ..padding import Pads
from ..reference.im2col import tap_slices
from ..reference.pooling import real_cell_counts
from .parallel import images_per_chunk, map_chunks
from .scratch import pad_into_buffer

CHUNK_BYTES = 2**20  # of input per chunk (measured here among 0.25-4 MiB on 128x26x26x32 and 32x32x64)


def _in_chunks(fn, shape: tuple[int, ...], itemsize: int) -> None:
    """``fn(start, stop)`` over chunks of a batch of images of ``shape`` (N, H, W, C), about CHUNK_BYTES
    of them each, on the thread pool."""
    map_chunks(fn, shape[0], images_per_chunk(CHUNK_BYTES, int(np.prod(shape[1:])) * itemsize, shape[0]))


def _taps(xp: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], out_hw: tuple[int, int]) -> list:
    """One strided view (N, out_h, out_w, C) of ``xp`` per window tap, in row-major window order."""
    return [xp[(slice(None),) + tap_slices(divmod(t, pool[1]), out_hw, strides, (1, 1))]
            for t in range(pool[0] * pool[1])]


def gradient_target(dx: np.ndarray, pool, strides, pads: Pads, out_hw, purpose: str) -> np.ndarray:
    """Where a backward chunk writes its window gradients: ``dx`` itself, or a reused padded buffer,
    zeroed unless the windows cover every cell of it exactly once (then each cell is assigned)."""
    (top, bottom), (left, right) = pads
    m, h, w, c = dx.shape
    target = dx if top == bottom == left == right == 0 else \
        scratch.buffer(purpose, (m, h + top + bottom, w + left + right, c), dx.dtype)
    covered = tiled.tiles(pool, strides) and target.shape[1:3] == (out_hw[0] * pool[0], out_hw[1] * pool[1])
    if not covered:
        target[...] = 0
    return target


def crop_into(dx: np.ndarray, target: np.ndarray, pads: Pads) -> None:
    """Copy the unpadded interior of ``target`` into ``dx`` (nothing to do when it is ``dx``)."""
    if target is not dx:
        (top, _), (left, _) = pads
        dx[...] = target[:, top:top + dx.shape[1], left:left + dx.shape[2]]


def running_max(xp: np.ndarray, pool, strides, out_hw, out: np.ndarray, took: np.ndarray) -> None:
    """Max pooling of a few -inf-padded images ``xp`` (m, Hp, Wp, C) into ``out`` (m, out_h, out_w, C):
    a running maximum over the window's T taps, one strided view each (no window copy).
    ``took[t-1]`` (T-1, m, out_h, out_w, C) records where tap t was strictly greater than the taps
    before it, so the winner is the last tap that took the lead: the first maximum in row-major
    window order, as in PyTorch."""
    taps = _taps(xp, pool, strides, out_hw)
    np.copyto(out, taps[0])
    for t, view in enumerate(taps[1:]):
        np.greater(view, out, out=took[t])
        np.maximum(out, view, out=out)


def route_to_winners(g: np.ndarray, took: np.ndarray, target: np.ndarray, pool, strides) -> None:
    """Put each value of ``g`` (m, out_h, out_w, C) into the cell of ``target`` (m, Hp, Wp, C) that won
    its window (``took`` from ``running_max``), walking the taps backwards: the last tap that took
    the lead is the winner. Overlapping windows add; others assign."""
    views = _taps(target, pool, strides, g.shape[1:3])
    overlapping = strides[0] < pool[0] or strides[1] < pool[1]
    remaining = scratch.buffer("pool.remaining", g.shape, g.dtype)
    np.copyto(remaining, g)
    routed = scratch.buffer("pool.routed", g.shape, g.dtype)
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


def max_pool_backward_into(dx: np.ndarray, g: np.ndarray, took: np.ndarray, pool, strides, pads: Pads) -> None:
    """Max pooling's backward for a few images: ``dx`` (m, H, W, C) gets each value of ``g``
    (m, out_h, out_w, C) in its window's winning cell and 0 elsewhere."""
    target = gradient_target(dx, pool, strides, pads, g.shape[1:3], "pool.dxp")
    route_to_winners(g, took, target, pool, strides)
    crop_into(dx, target, pads)


def max_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C) -> (out (N, out_h, out_w, C), took (T-1, N, out_h, out_w, C) bools);
    see ``running_max``."""
    n, c = x.shape[0], x.shape[3]
    out = scratch.result((n, *out_hw, c), x.dtype)
    took = scratch.result((pool[0] * pool[1] - 1,) + out.shape, bool)
    _in_chunks(lambda start, stop: running_max(pad_into_buffer(x[start:stop], pads, "pool.xp", -np.inf), pool,
                                               strides, out_hw, out[start:stop], took[:, start:stop]),
               x.shape, x.itemsize)
    return out, took


def max_pool_backward(grad: np.ndarray, took: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """Route each output's gradient to the one input cell that won its max."""
    dx = scratch.result(x_shape, grad.dtype)
    _in_chunks(lambda start, stop: max_pool_backward_into(dx[start:stop], grad[start:stop], took[:, start:stop],
                                                          pool, strides, pads),
               x_shape, grad.itemsize)
    return dx


def avg_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> np.ndarray:
    """x (N, H, W, C) -> (N, out_h, out_w, C): each window's sum over its real (unpadded) cells,
    divided by their number. The sum runs over the taps, one strided view each (in two passes,
    along rows then down columns, when the windows tile the image)."""
    counts = real_cell_counts(x.shape[1:3], pool, strides, pads, out_hw, x.dtype)
    out = scratch.result((x.shape[0], *out_hw, x.shape[3]), x.dtype)

    def chunk(start: int, stop: int) -> None:
        xp, sums = pad_into_buffer(x[start:stop], pads, "pool.xp"), out[start:stop]
        if tiled.tiles(pool, strides):
            tiled.window_sums(xp, pool, sums)
        else:
            taps = _taps(xp, pool, strides, out_hw)
            np.copyto(sums, taps[0])
            for view in taps[1:]:
                sums += view
        sums /= counts
    _in_chunks(chunk, x.shape, x.itemsize)
    return out


def avg_pool_backward(grad: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """Spread each output's gradient evenly over the real cells of its window."""
    out_hw = grad.shape[1:3]
    counts = real_cell_counts(x_shape[1:3], pool, strides, pads, out_hw, grad.dtype)
    dx = scratch.result(x_shape, grad.dtype)

    def chunk(start: int, stop: int) -> None:
        target = gradient_target(dx[start:stop], pool, strides, pads, out_hw, "pool.dxp")
        share = np.divide(grad[start:stop], counts, out=scratch.buffer("pool.share", grad[start:stop].shape,
                                                                         grad.dtype))
        if tiled.tiles(pool, strides):
            tiled.spread(share, pool, target)
        else:
            for view in _taps(target, pool, strides, out_hw):
                view += share
        crop_into(dx[start:stop], target, pads)
    _in_chunks(chunk, x_shape, grad.itemsize)
    return dx
