"""Convolutional layer kernels: cache-blocked im2col + matrix products, forward and backward.

The lecture's convolutional layer on 3-D input with r filters and a bias:

    Z[i, j, r] = sum_{i', j', k} x[s·i + d·i', s·j + d·j', k] · f[i', j', k, r] + b[r]

computed for a batch of NHWC images as ``cols @ f.reshape(kh·kw·C_in, C_out)``, where
``cols`` holds every window of the zero-padded input as one row. The batch is cut
into chunks whose column buffer fits in cache and is reused across chunks and calls.

Backward: dW = colsᵀ · dZ (chunk by chunk). dx = col2im(dZ · Wᵀ), one strided add per
kernel tap; or, for stride 1 on large images with enough channels, dx as a correlation
itself, of the zero-padded dZ with the kernel rotated by 180° and its channel axes
swapped (no scatter). Chunks run on faltung's thread pool (``parallel``).
"""
from __future__ import annotations

import numpy as np

from . import scratch
from .parallel import map_chunks, matmul
from .im2col import add_windows, padded_zeros, windows
from .padding import Pads

CHUNK_BYTES = 2 * 2**20  # column buffer per chunk: about the size of the L2/L3 share of one core
# The correlation form of dx is one product with C_in output columns over every input pixel: BLAS
# is efficient only when C_in is not tiny (first layers on grey or RGB images), and, measured
# here, it beats col2im only on large images (32x32: 31 vs 40 ms; 13x13 and 16x16: 10.5 vs 8.8,
# 26 vs 21 ms; 8x8: equal).
MIN_CHANNELS_FOR_CORRELATION = 16
MIN_PIXELS_FOR_CORRELATION = 512
# Products with fewer multiply-adds per row than this (kh·kw·C_in·C_out) are memory-bound: measured
# here, running them on two threads is slower than on one (a first layer on grey images is).
MIN_WORK_FOR_THREADS = 4096


def sum_rows(a: np.ndarray) -> np.ndarray:
    """a (rows, C) summed over rows, as a BLAS matrix-vector product: about 5x faster than
    ``a.sum(axis=0)`` on the tall arrays of bias gradients."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


def _chunk_images(rows_per_image: int, row_bytes: int, n: int) -> int:
    return max(1, min(n, CHUNK_BYTES // max(rows_per_image * row_bytes, 1)))


def pad_into_buffer(x: np.ndarray, pads: Pads, purpose: str) -> np.ndarray:
    """``x`` zero-padded, written into a reused buffer (no fresh allocation per call)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    xp = scratch.buffer(purpose, (n, h + top + bottom, w + left + right, c), x.dtype)
    # zero only the border: the interior is overwritten
    xp[:, :top] = 0
    xp[:, top + h:] = 0
    xp[:, top:top + h, :left] = 0
    xp[:, top:top + h, left + w:] = 0
    xp[:, top:top + h, left:left + w] = x
    return xp


def pad_or_crop(x: np.ndarray, pads: Pads, purpose: str) -> np.ndarray:
    """Like ``pad_into_buffer`` but a negative entry removes rows/columns instead."""
    (top, bottom), (left, right) = pads
    h, w = x.shape[1:3]
    x = x[:, max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    return pad_into_buffer(x, ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))), purpose)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple[int, int],
                   dilation: tuple[int, int], pads: Pads, out_hw: tuple[int, int]) -> np.ndarray:
    """x (N, H, W, C_in), w (kh, kw, C_in, C_out), b (C_out,) or None -> (N, out_h, out_w, C_out)."""
    kh, kw, c_in, c_out = w.shape
    n = x.shape[0]
    out_h, out_w = out_hw
    w2 = w.reshape(-1, c_out)
    out = np.empty((n, out_h, out_w, c_out), dtype=np.result_type(x, w))
    out2 = out.reshape(-1, c_out)
    if kh == kw == 1 and strides == (1, 1) and pads == ((0, 0), (0, 0)):
        matmul(x.reshape(-1, c_in), w2, out=out2)  # a 1×1 convolution is a dense layer on pixels
    else:
        xp = pad_into_buffer(x, pads, "conv.xp")
        rows, k = out_h * out_w, kh * kw * c_in

        def chunk_product(start: int, stop: int) -> None:
            c = _im2col(xp[start:stop], (kh, kw), strides, dilation, out_hw)
            np.matmul(c, w2, out=out2[start * rows:stop * rows])
        map_chunks(chunk_product, n, _chunk_images(rows, k * x.itemsize, n), threaded=k * c_out >= MIN_WORK_FOR_THREADS)
    if b is not None:
        out2 += b
    return out


def conv2d_backward(grad: np.ndarray, x: np.ndarray, w: np.ndarray, strides: tuple[int, int],
                    dilation: tuple[int, int], pads: Pads, need: tuple[bool, bool, bool] = (True, True, True)):
    """Gradients (dx, dw, db) of ``conv2d_forward`` given dL/dZ ``grad`` (N, out_h, out_w, C_out).

    Entries of ``need`` that are False come back None (and are not computed).
    """
    kh, kw, c_in, c_out = w.shape
    n, out_h, out_w, _ = grad.shape
    g2 = grad.reshape(-1, c_out)
    db = sum_rows(g2) if need[2] else None
    dw = _kernel_grad(grad, x, w.shape, strides, dilation, pads) if need[1] else None
    dx = None
    if need[0]:
        if strides == (1, 1) and c_in >= MIN_CHANNELS_FOR_CORRELATION \
                and x.shape[1] * x.shape[2] >= MIN_PIXELS_FOR_CORRELATION:
            dx = _input_grad_by_correlation(grad, w, x.shape, dilation, pads)
        else:
            dx = _input_grad_by_col2im(grad, w, x.shape, strides, dilation, pads)
    return dx, dw, db


def _kernel_grad(grad, x, w_shape, strides, dilation, pads) -> np.ndarray:
    """dW[i', j', k, r] = sum over the batch and positions of x-window · dZ: colsᵀ · dZ, chunk by chunk."""
    kh, kw, c_in, c_out = w_shape
    n, out_h, out_w, _ = grad.shape
    g2 = grad.reshape(-1, c_out)
    if kh == kw == 1 and strides == (1, 1) and pads == ((0, 0), (0, 0)):
        return matmul(x.reshape(-1, c_in).T, g2).reshape(w_shape)
    xp = pad_into_buffer(x, pads, "conv.xp")
    rows, k = out_h * out_w, kh * kw * c_in

    def chunk_product(start: int, stop: int) -> np.ndarray:
        c = _im2col(xp[start:stop], (kh, kw), strides, dilation, (out_h, out_w))
        return c.T @ g2[start * rows:stop * rows]
    parts = map_chunks(chunk_product, n, _chunk_images(rows, k * x.itemsize, n),
                       threaded=k * c_out >= MIN_WORK_FOR_THREADS)
    return np.sum(parts, axis=0, dtype=grad.dtype).reshape(w_shape)


def _im2col(xp: np.ndarray, kernel_hw, strides, dilation, out_hw) -> np.ndarray:
    """The windows of a few padded images as rows of this thread's reused column buffer:
    (m·out_h·out_w, kh·kw·C_in)."""
    m, c_in = xp.shape[0], xp.shape[3]
    rows = m * out_hw[0] * out_hw[1]
    cols = scratch.buffer("conv.cols", (rows, kernel_hw[0] * kernel_hw[1] * c_in), xp.dtype)
    np.copyto(cols.reshape(m, *out_hw, *kernel_hw, c_in), windows(xp, kernel_hw, strides, dilation, out_hw))
    return cols


def _input_grad_by_correlation(grad, w, x_shape, dilation, pads) -> np.ndarray:
    """Stride 1: dx = dZ (zero-padded by d(k-1) minus the forward padding) ⋆ rot180(f) with C_in, C_out swapped."""
    kh, kw, _, _ = w.shape
    (dh, dw_), ((top, bottom), (left, right)) = dilation, pads
    h, width = x_shape[1:3]
    out_h, out_w = grad.shape[1:3]
    back_pads = ((dh * (kh - 1) - top, h + top - out_h), (dw_ * (kw - 1) - left, width + left - out_w))
    gp = pad_or_crop(grad, back_pads, "conv.gp")
    flipped = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return conv2d_forward(gp, flipped, None, (1, 1), dilation, ((0, 0), (0, 0)), (h, width))


def _input_grad_by_col2im(grad, w, x_shape, strides, dilation, pads) -> np.ndarray:
    """Strided: dx = col2im(dZ · Wᵀ), chunk by chunk, the window gradient added one tap at a time."""
    kh, kw, c_in, c_out = w.shape
    n, out_h, out_w, _ = grad.shape
    w2t = w.reshape(-1, c_out).T
    dxp = padded_zeros(x_shape, pads, grad.dtype)
    rows, k = out_h * out_w, kh * kw * c_in
    g2 = grad.reshape(-1, c_out)

    def chunk_scatter(start: int, stop: int) -> None:
        d = scratch.buffer("conv.dwin", ((stop - start) * rows, k), grad.dtype)
        np.matmul(g2[start * rows:stop * rows], w2t, out=d)
        add_windows(dxp[start:stop], d.reshape(stop - start, out_h, out_w, kh, kw, c_in), strides, dilation)
    map_chunks(chunk_scatter, n, _chunk_images(rows, k * grad.itemsize, n), threaded=k * c_out >= MIN_WORK_FOR_THREADS)
    (top, bottom), (left, right) = pads
    return np.ascontiguousarray(dxp[:, top:top + x_shape[1], left:left + x_shape[2]])
