"""Max and average pooling over NHWC images, forward and backward, as compiled loops (numba).

The lecture's max pooling, ``Z[i, j, r] = max_{i', j' in [0, m)} X[s·i + i', s·j + j', r]``,
and average pooling, the mean over the same window, with Keras/TensorFlow's padding: padded
cells never win a max and are not counted in an average. The loops (``pooling_loops``) run
with the channels innermost (contiguous in NHWC, so LLVM vectorises them) and skip the padding
instead of materialising it; a forward reads each input cell once per window that holds it, a
backward writes each input cell's gradient once, gathered from those windows. The batch is cut
into one share per worker of faltung's thread pool; the loops release the GIL, so the shares
run on all cores at once.

Max pooling's forward hands its backward ``took`` (N, out_h, out_w, C): the position
``t = i'·m_w + j'`` of each window's winner, int8 (int32 for windows of more than 127 cells).

Without numba each function is the reference kernel (``compiled.say_fallback`` says so once).
"""
from __future__ import annotations

import functools

import numpy as np

from .. import reference
from . import compiled, pooling_loops as loops, scratch
from ..padding import Pads
from ..reference.pooling import real_cell_counts
from .parallel import map_chunks, threads


def _share(n: int) -> int:
    """Images per chunk: one share of the batch per worker. The loops stream through memory once,
    so smaller, cache-sized chunks gain nothing here, and each call costs a few microseconds."""
    return max(1, -(-n // threads()))


@functools.lru_cache(maxsize=64)
def _cell_counts(in_hw, pool, strides, pads: Pads, out_hw, dtype) -> np.ndarray:
    """(out_h, out_w): each window's number of real cells (``reference.pooling.real_cell_counts``),
    kept for the next call with the same geometry (a training step repeats it; computing it
    anew took 0.13 ms, a quarter of the 2x2 average pooling it serves)."""
    counts = real_cell_counts(in_hw, pool, strides, pads, out_hw, dtype)[:, :, 0]
    counts.flags.writeable = False
    return counts


def position_dtype(pool: tuple[int, int]) -> np.dtype:
    """The smallest integer type that holds every position ``t`` of a window of ``pool`` cells."""
    return np.dtype(np.int8 if pool[0] * pool[1] <= 127 else np.int32)


def is_2x2(pool, strides, pads: Pads) -> bool:
    """Whether the windows are the usual 2x2 at stride 2, unpadded (``pooling_loops.max_pool_2x2``)."""
    return tuple(pool) == tuple(strides) == (2, 2) and pads == ((0, 0), (0, 0))


def max_pool_into(x: np.ndarray, pool, strides, pads: Pads, out: np.ndarray, took: np.ndarray) -> None:
    """Max pooling of a few images ``x`` (m, H, W, C) into ``out`` and ``took`` (m, out_h, out_w, C)
    on this thread (see ``pooling_loops.max_pool``)."""
    if is_2x2(pool, strides, pads):
        loops.max_pool_2x2(x, out, took)
    else:
        loops.max_pool(x, pool[0], pool[1], strides[0], strides[1], pads[0][0], pads[1][0], out, took)


def avg_pool_into(x: np.ndarray, pool, strides, pads: Pads, counts: np.ndarray, out: np.ndarray) -> None:
    """Average pooling of a few images ``x`` (m, H, W, C) into ``out`` (m, out_h, out_w, C) on this thread;
    ``counts`` (out_h, out_w): each window's real cells."""
    if is_2x2(pool, strides, pads):
        loops.avg_pool_2x2(x, out)
    else:
        loops.avg_pool(x, pool[0], pool[1], strides[0], strides[1], pads[0][0], pads[1][0], counts, out)


def max_pool_backward_into(dx: np.ndarray, g: np.ndarray, took: np.ndarray, pool, strides, pads: Pads) -> None:
    """Max pooling's backward for a few images on this thread: ``dx`` (m, H, W, C) gets each value of
    ``g`` (m, out_h, out_w, C) on its window's winning cell (``took``), 0 elsewhere."""
    loops.pool_backward(g, took, loops.NO_COUNTS, pool[0], pool[1], strides[0], strides[1],
                        pads[0][0], pads[1][0], dx)


def max_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C) -> (Z (N, out_h, out_w, C), took (N, out_h, out_w, C)): the maximum of each
    window's real cells and the position of the first of them in row-major window order (NaN
    wins, as in the reference's ``argmax``)."""
    if not compiled.available():
        compiled.say_fallback()
        return reference.max_pool_forward(x, pool, strides, pads, out_hw)
    n, c = x.shape[0], x.shape[3]
    out = scratch.result((n, *out_hw, c), x.dtype)
    took = scratch.result(out.shape, position_dtype(pool))
    map_chunks(lambda a, b: max_pool_into(x[a:b], pool, strides, pads, out[a:b], took[a:b]), n, _share(n))
    return out, took


def max_pool_backward(grad: np.ndarray, took: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """dL/dX (N, H, W, C): each output's gradient ``grad`` (N, out_h, out_w, C) on the cell that won its
    window, 0 on the others (overlapping windows add up)."""
    if not compiled.available():
        compiled.say_fallback()
        return reference.max_pool_backward(grad, took, x_shape, pool, strides, pads)
    dx = scratch.result(x_shape, grad.dtype)
    map_chunks(lambda a, b: max_pool_backward_into(dx[a:b], grad[a:b], took[a:b], pool, strides, pads),
               x_shape[0], _share(x_shape[0]))
    return dx


def avg_pool_forward(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], pads: Pads,
                     out_hw: tuple[int, int]) -> np.ndarray:
    """x (N, H, W, C) -> (N, out_h, out_w, C): each window's sum over its real (unpadded) cells, divided
    by their number."""
    if not compiled.available():
        compiled.say_fallback()
        return reference.avg_pool_forward(x, pool, strides, pads, out_hw)
    n = x.shape[0]
    counts = _cell_counts(tuple(x.shape[1:3]), tuple(pool), tuple(strides), pads, tuple(out_hw), x.dtype)
    out = scratch.result((n, *out_hw, x.shape[3]), x.dtype)
    map_chunks(lambda a, b: avg_pool_into(x[a:b], pool, strides, pads, counts, out[a:b]), n, _share(n))
    return out


def avg_pool_backward(grad: np.ndarray, x_shape: tuple[int, ...], pool: tuple[int, int],
                      strides: tuple[int, int], pads: Pads) -> np.ndarray:
    """dL/dX (N, H, W, C): each output's gradient ``grad`` (N, out_h, out_w, C), divided by its window's
    number of real cells, on each of them (overlapping windows add up)."""
    if not compiled.available():
        compiled.say_fallback()
        return reference.avg_pool_backward(grad, x_shape, pool, strides, pads)
    counts = _cell_counts(tuple(x_shape[1:3]), tuple(pool), tuple(strides), pads, tuple(grad.shape[1:3]), grad.dtype)
    dx = scratch.result(x_shape, grad.dtype)
    map_chunks(lambda a, b: loops.pool_backward(grad[a:b], loops.NO_WINNERS, counts, pool[0], pool[1], strides[0],
                                                strides[1], pads[0][0], pads[1][0], dx[a:b]),
               x_shape[0], _share(x_shape[0]))
    return dx
