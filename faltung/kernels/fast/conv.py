"""Convolutional layer kernels, forward and backward: Winograd for 3x3 stride-1 layers, cache-blocked
im2col + matrix products for the others.

The same results as ``reference.conv`` (the lecture's formula, ``Z = im2col(x) · F + b``;
read that first), computed faster: the batch is cut
into chunks whose buffers fit in cache; everything a chunk needs happens while it is
there (one trip through main memory per big array, not one per operation):

- forward (``Forward``): 3x3 filters at stride 1 by Winograd's minimal filtering
  (``winograd``), else im2col and the product; + b, and the fused max(Z, 0);
- backward (``Gradients``): the relu mask on dZ, db = Σ dZ, dW (Winograd's dU, or
  colsᵀ · dZ), and dx, either col2im(dZ · Wᵀ) (one strided add per kernel tap) or, for
  stride 1 on large images with enough channels or Winograd's shapes, a forward
  convolution of the zero-padded dZ with the kernel rotated by 180° and its channel axes
  swapped (no scatter).

Chunks run on faltung's thread pool (``parallel``); buffers are per thread (``scratch``).
"""
from __future__ import annotations

import numpy as np

from . import col2im, compiled, scratch, winograd
from .parallel import images_per_chunk, map_chunks
from ..padding import Pads
from ..reference.im2col import add_windows, tap_slices, windows
from .scratch import pad_or_crop

CHUNK_BYTES = 4 * 2**20  # a chunk's buffers: measured best here among 1-8 MiB (L2 is 2 MiB a core, L3 shared)
# The correlation form of dx is one product with C_in output columns over every input pixel: BLAS
# is efficient only when C_in is not tiny (first layers on grey or RGB images), and, measured
# here (whole backward, batch 128), it beats col2im from 16x16 images on (16x16x32->64: 29 vs 32 ms,
# 16x16x64->64: 47 vs 54), not below (13x13x32->64: 16.5 vs 16.1; 8x8x128->256: 79 vs 66).
MIN_CHANNELS_FOR_CORRELATION = 16
MIN_PIXELS_FOR_CORRELATION = 256
# im2col copies each window as kh·kw runs of C_in values. On one-channel (grey) images a run is a
# single value: there the columns are built transposed, a tap at a time, each copy moving runs of
# out_w values (37x28x28x1, 3x3: 0.15 against 0.36 ms as rows; the kernel gradient's product
# 0.66 against 0.89 ms); from 3 channels on, the window copy is faster (16x32x32x3: 0.55 vs 1.5 ms).


def sum_rows(a: np.ndarray) -> np.ndarray:
    """a (rows, C) summed over rows, as a BLAS matrix-vector product: about 5x faster than
    ``a.sum(axis=0)`` on the tall arrays of bias gradients."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


def relu_passed(g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """dL/dZ of relu from dL/d(relu output) ``g``: zero where the output ``out`` was clipped (a reused buffer)."""
    passed = np.greater(out, 0, out=scratch.buffer("relu.passed", g.shape, bool))
    return np.multiply(g, passed, out=scratch.buffer("relu.grad", g.shape, g.dtype))


def _is_pointwise(kernel_hw, strides, pads, in_hw, out_hw) -> bool:
    """A 1×1 convolution over every pixel: a dense layer on each pixel's channels. (Not when only
    some outputs are computed, as the fused conv + pooling does.)"""
    return tuple(kernel_hw) == (1, 1) and tuple(strides) == (1, 1) and pads == ((0, 0), (0, 0)) \
        and tuple(in_hw) == tuple(out_hw)


def _columns(x: np.ndarray, kernel_hw, strides, dilation, pads: Pads, out_hw) -> np.ndarray:
    """The windows of a few images as rows (m·out_h·out_w, kh·kw·C_in): this thread's reused
    column buffer, or a plain reshape of ``x`` for a 1×1 convolution (a dense layer on pixels)."""
    if _is_pointwise(kernel_hw, strides, pads, x.shape[1:3], out_hw):
        return x.reshape(-1, x.shape[3])
    xp = pad_or_crop(x, pads, "conv.xp")
    m, c_in = xp.shape[0], xp.shape[3]
    taps, pixels = kernel_hw[0] * kernel_hw[1], m * out_hw[0] * out_hw[1]
    if c_in == 1:  # the columns' transpose, one tap a row: each copy moves runs of out_w values
        by_tap = scratch.buffer("conv.cols_by_tap", (taps, pixels), xp.dtype)
        for t in range(taps):
            rows, columns = tap_slices(divmod(t, kernel_hw[1]), out_hw, strides, dilation)
            by_tap[t].reshape(m, *out_hw)[...] = xp[:, rows, columns, 0]
        return by_tap.T  # BLAS reads the transposed view as it is
    cols = scratch.buffer("conv.cols", (pixels, taps * c_in), xp.dtype)
    np.copyto(cols.reshape(m, *out_hw, *kernel_hw, c_in), windows(xp, kernel_hw, strides, dilation, out_hw))
    return cols


class Forward:
    """The forward of one conv layer, a chunk of images at a time: ``chunk(x, out)`` computes the
    images x (m, H, W, C_in) into ``out`` (m, out_h, out_w, C_out), then max(·, 0) if ``relu``.

    3x3 filters with stride 1 on enough channels go through Winograd's F(2x2, 3x3) or F(4x4, 3x3)
    (``winograd``, compiled); others through im2col and one product with w (kh·kw·C_in, C_out)."""

    def __init__(self, w: np.ndarray, b: np.ndarray | None, strides, dilation, pads: Pads, out_hw,
                 relu: bool = False):
        self.kernel_hw, c_out = w.shape[:2], w.shape[3]
        self.geometry, self.out_hw, self.relu, self.b = (strides, dilation, pads), tuple(out_hw), relu, b
        self.w2 = w.reshape(-1, c_out)
        self.winograd = winograd.applies(w.shape, strides, dilation)
        if self.winograd:
            self.tiling = winograd.choose(out_hw)
            self.u = winograd.filter_transform(w, self.tiling)
            self.bias = np.zeros(c_out, w.dtype) if b is None else b.astype(w.dtype, copy=False)

    def chunk_images(self, n: int, itemsize: int) -> int:
        """Images per chunk: a chunk's columns (or tiles) and output fit CHUNK_BYTES."""
        taps_c_in, c_out = self.w2.shape
        pixels = self.out_hw[0] * self.out_hw[1]
        per_image = winograd.tile_values(self.out_hw, self.u.shape[1], c_out) + pixels * c_out if self.winograd \
            else pixels * (taps_c_in + c_out)
        return images_per_chunk(CHUNK_BYTES, per_image * itemsize, n)

    def chunk_max_pooled(self, x: np.ndarray, pooled: np.ndarray, took: np.ndarray, relu: bool) -> None:
        """The chunk's outputs max-pooled by 2x2 windows at stride 2 as they are computed (Winograd
        only: each tile's outputs are pooled in cache, ``winograd.convolve_max_pooled``)."""
        pads = self.geometry[2]
        winograd.convolve_max_pooled(x, self.u, self.tiling, self.bias, relu, pads[0][0], pads[1][0], pooled, took)

    def chunk(self, x: np.ndarray, out: np.ndarray) -> None:
        strides, dilation, pads = self.geometry
        if self.winograd:
            return winograd.convolve(x, self.u, self.tiling, self.bias, self.relu, pads[0][0], pads[1][0], out)
        out2 = out.reshape(-1, out.shape[3])
        np.matmul(_columns(x, self.kernel_hw, strides, dilation, pads, self.out_hw), self.w2, out=out2)
        if self.b is not None:
            out2 += self.b
        if self.relu:
            np.maximum(out2, 0, out=out2)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple[int, int],
                   dilation: tuple[int, int], pads: Pads, out_hw: tuple[int, int], relu: bool = False) -> np.ndarray:
    """x (N, H, W, C_in), w (kh, kw, C_in, C_out), b (C_out,) or None -> (N, out_h, out_w, C_out),
    then max(·, 0) if ``relu``."""
    n = x.shape[0]
    out = scratch.result((n, *out_hw, w.shape[3]), np.result_type(x, w))
    forward = Forward(w, b, strides, dilation, pads, out_hw, relu)
    # every layer on both cores: even a grey first layer (K=9), memory-bound, gains now that bias and
    # relu run per chunk (28x28x1->32 forward: 4.2 against 6.1 ms on one thread)
    map_chunks(lambda start, stop: forward.chunk(x[start:stop], out[start:stop]), n,
               forward.chunk_images(n, out.itemsize))
    return out


class Gradients:
    """The backward of one conv layer, a chunk of images at a time: given dL/dZ of the images
    ``start:stop`` as rows (m·out_h·out_w, C_out), ``chunk`` writes their dx and returns their
    share of db and dW; ``result`` adds the shares up. Entries of ``need`` (dx, dW, db) that are
    False come back None and are not computed.

    dW: Winograd's dU = Σ V[k]ᵀ · dM[k] where the forward used Winograd, else colsᵀ · dZ.
    dx: with stride 1 on large enough images, a forward convolution of the zero-padded dZ with the
    filters rotated by 180° and their channel axes swapped (``Forward``, so Winograd for 3x3);
    else col2im(dZ · Wᵀ)."""

    def __init__(self, x: np.ndarray, w: np.ndarray, strides, dilation, pads: Pads, out_hw, dtype,
                 need: tuple[bool, bool, bool] = (True, True, True)):
        kh, kw, c_in, c_out = w.shape
        self.x, self.w, self.geometry, self.out_hw, self.need = x, w, (strides, dilation, pads), out_hw, need
        self.dtype = np.dtype(dtype)
        self.w2 = w.reshape(-1, c_out)
        self.winograd = need[1] and winograd.applies(w.shape, strides, dilation)
        self.tiling = winograd.choose(out_hw) if self.winograd else None
        self.dx = scratch.result(x.shape, dtype) if need[0] else None
        self.by_correlation = need[0] and tuple(strides) == (1, 1) and (
            winograd.applies((kh, kw, c_out, c_in), strides, dilation)
            or c_in >= MIN_CHANNELS_FOR_CORRELATION and x.shape[1] * x.shape[2] >= MIN_PIXELS_FOR_CORRELATION)
        if self.by_correlation:
            (dh, dw_), ((top, _), (left, _)) = dilation, pads
            h, width = x.shape[1:3]
            back_pads = ((dh * (kh - 1) - top, h + top - out_hw[0]), (dw_ * (kw - 1) - left, width + left - out_hw[1]))
            flipped = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
            self.dx_forward = Forward(flipped, None, (1, 1), dilation, back_pads, (h, width))

    def chunk_images(self, n: int) -> int:
        """Images per backward chunk: its columns or tiles, two gradient blocks and any correlation
        buffers fit CHUNK_BYTES."""
        kh, kw, c_in, c_out = self.w.shape
        pixels = self.out_hw[0] * self.out_hw[1]
        per_image = pixels * 2 * c_out + (winograd.tile_values(self.out_hw, c_in, c_out) if self.winograd
                                          else pixels * kh * kw * c_in)
        if self.by_correlation:
            in_hw = self.x.shape[1:3]
            per_image += winograd.tile_values(in_hw, c_out, c_in) if self.dx_forward.winograd \
                else in_hw[0] * in_hw[1] * (kh * kw * c_out + c_in)
        return images_per_chunk(CHUNK_BYTES, per_image * self.dtype.itemsize, n)

    def chunk(self, start: int, stop: int, g: np.ndarray):
        """(db, dW) shares of images ``start:stop`` from their dL/dZ rows ``g``; their dx into ``self.dx``."""
        strides, dilation, pads = self.geometry
        kernel_hw = self.w.shape[:2]
        need_dx, need_dw, need_db = self.need
        g4 = g.reshape(-1, *self.out_hw, self.w.shape[3])
        db = sum_rows(g) if need_db else None
        if self.winograd:  # dU of the transformed filters; result() turns the sum into dW
            dw = winograd.filter_gradient_share(self.x[start:stop], g4, self.tiling, pads[0][0], pads[1][0])
        elif need_dw:
            cols = _columns(self.x[start:stop], kernel_hw, strides, dilation, pads, self.out_hw)
            dw = np.matmul(cols.T, g, out=scratch.buffer("conv.dw", self.w2.shape, g.dtype))
        else:
            dw = None
        if self.by_correlation:
            self.dx_forward.chunk(g4, self.dx[start:stop])
        elif need_dx:
            _input_grad_by_col2im(g, self.w2, kernel_hw, strides, dilation, pads, self.out_hw, self.dx[start:stop])
        return db, dw

    @staticmethod
    def fold(acc: tuple | None, part: tuple) -> tuple:
        """The (db, dW) shares of two runs of chunks added up (``parallel.map_chunks``' fold): the
        first copied (a chunk's shares may be its thread's reused buffers), the next added in place."""
        if acc is None:
            return tuple(None if p is None else p.copy() for p in part)
        for a, p in zip(acc, part):
            if a is not None:
                a += p
        return acc

    def result(self, parts: list) -> tuple:
        """(dx, dW, db) from the (db, dW) shares of the chunks or of the threads' runs of chunks."""
        c_out = self.w.shape[3]
        db = sum((p[0] for p in parts), np.zeros(c_out, self.dtype)) if self.need[2] else None
        if self.winograd:
            du = sum((p[1] for p in parts), np.zeros((self.tiling.alpha ** 2, *self.w.shape[2:]), self.dtype))
            dw = winograd.filter_gradient(du, self.tiling)
        elif self.need[1]:  # zeros for an empty batch
            dw = sum((p[1] for p in parts), np.zeros((self.w2.shape[0], c_out), self.dtype)).reshape(self.w.shape)
        else:
            dw = None
        return self.dx, dw, db

    def run(self, chunk) -> tuple:
        """(dx, dW, db) of the whole batch: ``chunk(start, stop)`` -> that chunk's (db, dW) shares,
        run over the batch on the thread pool."""
        n = self.x.shape[0]
        return self.result(map_chunks(chunk, n, self.chunk_images(n), self.fold))


def conv2d_backward(grad: np.ndarray, x: np.ndarray, w: np.ndarray, strides: tuple[int, int],
                    dilation: tuple[int, int], pads: Pads, need: tuple[bool, bool, bool] = (True, True, True),
                    relu_out: np.ndarray | None = None):
    """Gradients (dx, dw, db) of ``conv2d_forward`` given dL/dZ ``grad`` (N, out_h, out_w, C_out).

    ``relu_out``: the forward's output when it applied relu; dZ then passes only where it is > 0.
    Entries of ``need`` that are False come back None (and are not computed).
    """
    n, out_h, out_w, c_out = grad.shape
    rows = out_h * out_w
    g2 = grad.reshape(-1, c_out)
    mask2 = None if relu_out is None else relu_out.reshape(-1, c_out)
    grads = Gradients(x, w, strides, dilation, pads, (out_h, out_w), grad.dtype, need)

    def chunk(start: int, stop: int):
        g = g2[start * rows:stop * rows]
        if mask2 is not None:
            g = relu_passed(g, mask2[start * rows:stop * rows])
        return grads.chunk(start, stop, g)
    return grads.run(chunk)


def _input_grad_by_col2im(g: np.ndarray, w2: np.ndarray, kernel_hw, strides, dilation, pads: Pads, out_hw,
                          dx: np.ndarray) -> None:
    """dx = col2im(dZ · Wᵀ) for the few images of ``dx`` (m, H, W, C_in), the window gradient added
    one tap at a time into a reused padded buffer."""
    m, h, width, c_in = dx.shape
    (top, bottom), (left, right) = pads
    dwin = np.matmul(g, w2.T, out=scratch.buffer("conv.dwin", (g.shape[0], w2.shape[0]), g.dtype))
    if _is_pointwise(kernel_hw, strides, pads, (h, width), out_hw):
        dx.reshape(-1, c_in)[...] = dwin
        return
    # col2im as one compiled loop (col2im.py), but on grey images at stride 1, where NumPy's strided adds
    # move unit-stride runs along rows (64x28x28x1, 3x3: 0.86 against 1.20 ms); NumPy's also without numba
    if compiled.available() and (c_in > 1 or tuple(strides) != (1, 1)):
        return col2im.add_windows_into(dwin, kernel_hw, strides, dilation, pads, out_hw, dx)
    dxp = scratch.buffer("conv.dxp", (m, h + top + bottom, width + left + right, c_in), g.dtype)
    dxp[...] = 0
    add_windows(dxp, dwin.reshape(m, *out_hw, *kernel_hw, c_in), strides, dilation)
    dx[...] = dxp[:, top:top + h, left:left + width]
