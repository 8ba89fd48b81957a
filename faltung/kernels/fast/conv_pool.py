"""A convolutional layer (optionally with relu) followed by max pooling, as one kernel.

The lecture's pattern, conv -> relu -> max pool:

    P[n, i, j, r] = max_{i', j' in [0, m)} max(Z[n, s·i + i', s·j + j', r], 0)

Max and relu commute (relu is monotone), so P = max(max-pool(Z), 0): the pooling runs on Z and
relu on the pooled values, a quarter as many. A chunk of images goes through im2col, the product,
+ b and the pooling while its Z is in cache, so Z itself, the largest array of the pair, never
reaches main memory. Backward, dL/dZ is nonzero only at each window's winner, and only where the
pooled value is > 0 (the winner's relu passed); it is built per chunk in cache and handed straight
to the convolution's backward. The results are those of the two layers run apart (to the
rounding of sums, where outputs no pooling window reads are skipped).

The pooling is compiled (``pooling``); without numba the pair runs apart instead: this module's
convolution, then the reference pooling.
"""
from __future__ import annotations

import numpy as np

from .. import reference
from . import compiled, scratch
from .conv import Forward, Gradients, conv2d_backward, conv2d_forward, relu_passed
from .parallel import map_chunks
from .pooling import is_2x2, max_pool_backward_into, max_pool_into, position_dtype

ConvGeometry = tuple  # (strides, dilation, pads, out_hw) of the convolution
PoolGeometry = tuple  # (pool, strides, pads, out_hw) of the max pooling


def reached(conv_hw: tuple[int, int], pool: PoolGeometry) -> tuple[int, int]:
    """The rows and columns of the conv output that some pooling window reads: all of them but,
    with 'valid' pooling, those past the last window (LeNet's 11x11 -> 5x5 pooling reads 10x10, so
    the conv computes 17 % fewer outputs; the others could not change any result)."""
    pool_hw, strides, pads, pooled_hw = pool
    return tuple(min(n, (p - 1) * s - before + k)
                 for n, p, s, (before, _), k in zip(conv_hw, pooled_hw, strides, pads, pool_hw))


def conv2d_max_pool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, conv: ConvGeometry,
                            pool: PoolGeometry, relu: bool) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C_in), w (kh, kw, C_in, C_out), b (C_out,) or None -> (pooled (N, p_h, p_w, C_out),
    took (N, p_h, p_w, C_out)), ``took`` as in ``pooling.max_pool_forward``."""
    if not compiled.available():
        return _apart_forward(x, w, b, conv, pool, relu)
    strides, dilation, pads, out_hw = conv
    pool_hw, pool_strides, pool_pads, pooled_hw = pool
    out_hw = reached(out_hw, pool)
    n, c_out = x.shape[0], w.shape[3]
    forward = Forward(w, b, strides, dilation, pads, out_hw)
    pooled = scratch.result((n, *pooled_hw, c_out), np.result_type(x, w))
    took = scratch.result(pooled.shape, position_dtype(pool_hw))

    if forward.winograd and forward.tiling.m % 2 == 0 and is_2x2(pool_hw, pool_strides, pool_pads):
        # each tile's outputs pooled where they are computed: the conv output never leaves the tile
        map_chunks(lambda start, stop: forward.chunk_max_pooled(x[start:stop], pooled[start:stop], took[start:stop],
                                                                relu), n, forward.chunk_images(n, pooled.itemsize))
        return pooled, took

    def chunk(start: int, stop: int) -> None:
        z = scratch.buffer("conv_pool.z", (stop - start, *out_hw, c_out), pooled.dtype)
        forward.chunk(x[start:stop], z)
        max_pool_into(z, pool_hw, pool_strides, pool_pads, pooled[start:stop], took[start:stop])
        if relu:
            np.maximum(pooled[start:stop], 0, out=pooled[start:stop])
    map_chunks(chunk, n, forward.chunk_images(n, pooled.itemsize))
    return pooled, took


def conv2d_max_pool_backward(grad: np.ndarray, pooled: np.ndarray, took: np.ndarray, x: np.ndarray,
                             w: np.ndarray, conv: ConvGeometry, pool: PoolGeometry, relu: bool,
                             need: tuple[bool, bool, bool] = (True, True, True)) -> tuple:
    """(dx, dW, db) from dL/d(pooled) ``grad`` (N, p_h, p_w, C_out); None where ``need`` is False."""
    if not compiled.available():
        return _apart_backward(grad, took, x, w, conv, pool, relu, need)
    strides, dilation, pads, out_hw = conv
    pool_hw, pool_strides, pool_pads, _ = pool
    out_hw = reached(out_hw, pool)
    c_out = w.shape[3]
    grads = Gradients(x, w, strides, dilation, pads, out_hw, grad.dtype, need)

    def chunk(start: int, stop: int):
        g = grad[start:stop]
        if relu:  # the winner's relu passed exactly where the pooled value is > 0
            g = relu_passed(g, pooled[start:stop])
        dz = scratch.buffer("conv_pool.dz", (stop - start, *out_hw, c_out), g.dtype)
        max_pool_backward_into(dz, g, took[start:stop], pool_hw, pool_strides, pool_pads)
        return grads.chunk(start, stop, dz.reshape(-1, c_out))
    return grads.run(chunk)


def _apart_forward(x, w, b, conv: ConvGeometry, pool: PoolGeometry, relu: bool) -> tuple[np.ndarray, tuple]:
    """Without numba: this module's convolution, then the reference max pooling -> (pooled, (z, winner))."""
    compiled.say_fallback()
    z = conv2d_forward(x, w, b, *conv, relu=relu)
    pooled, winner = reference.max_pool_forward(z, *pool)
    return pooled, (z, winner)


def _apart_backward(grad, state: tuple, x, w, conv: ConvGeometry, pool: PoolGeometry, relu: bool, need) -> tuple:
    """The backward of ``_apart_forward``: the reference pooling's, then this module's convolution's."""
    z, winner = state
    dz = reference.max_pool_backward(grad, winner, z.shape, *pool[:3])
    return conv2d_backward(dz, x, w, *conv[:3], need=need, relu_out=z if relu else None)
