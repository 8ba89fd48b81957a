"""The convolutional layer, forward and backward, as the lecture writes it: im2col + one matrix product.

The lecture's Definition 1 (2-D cross-correlation of a filter A with a matrix B),

    c[i, j] = sum_{i'=0}^{m-1} sum_{j'=0}^{m-1} a[i', j'] · b[i + i', j + j'],

grows into the convolutional layer on 3-D input with r filters and a bias, here with
stride s, dilation d and the input zero-padded (``pads``) first:

    Z[n, i, j, r] = sum_{i', j', k} x[n, s·i + d·i', s·j + d·j', k] · f[i', j', k, r] + b[r]

With every window of x as a row of ``cols = im2col(x)`` (N·out_h·out_w, kh·kw·C_in) and the
filters as a matrix ``F`` (kh·kw·C_in, C_out), that is ``Z = cols · F + b``. Backpropagation
differentiates that product: dF = colsᵀ · dZ, db = the sum of dZ over every output pixel, and
dx = col2im(dZ · Fᵀ), each window's gradient added back onto the pixels it read.
"""
from __future__ import annotations

import numpy as np

from ..padding import Pads
from .im2col import col2im, im2col


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple[int, int],
                   dilation: tuple[int, int], pads: Pads, out_hw: tuple[int, int], relu: bool = False) -> np.ndarray:
    """``Z[n, i, j, r] = sum_{i', j', k} x[n, s·i + d·i', s·j + d·j', k] · f[i', j', k, r] + b[r]``:
    Definition 1's ``c[i, j] = sum_{i', j'} a[i', j'] · b[i + i', j + j']`` for each filter r, summed
    over the input channels k, with stride s and dilation d, on x zero-padded by ``pads``.

    x (N, H, W, C_in), w = f (kh, kw, C_in, C_out), b (C_out,) or None -> Z (N, out_h, out_w, C_out);
    then max(Z, 0) if ``relu``. ``pads`` are ((top, bottom), (left, right)) rows/columns of zeros.
    """
    kh, kw, _, c_out = w.shape
    cols = im2col(x, (kh, kw), strides, dilation, pads, out_hw)  # (N·out_h·out_w, kh·kw·C_in)
    z = cols @ w.reshape(-1, c_out)                              # (N·out_h·out_w, C_out)
    if b is not None:
        z += b
    if relu:
        np.maximum(z, 0, out=z)
    return z.reshape(x.shape[0], *out_hw, c_out)


def conv2d_input_grad(grad: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], strides, dilation,
                      pads: Pads) -> np.ndarray:
    """``dL/dx = col2im(dZ · Fᵀ)``: each output pixel's gradient times the filters is the gradient of the
    window it read, added back onto that window's pixels. grad (N, out_h, out_w, C_out) -> (N, H, W, C_in)."""
    kh, kw, _, c_out = w.shape
    dcols = grad.reshape(-1, c_out) @ w.reshape(-1, c_out).T  # (N·out_h·out_w, kh·kw·C_in)
    return col2im(dcols, x_shape, (kh, kw), strides, dilation, pads, grad.shape[1:3])


def conv2d_kernel_grad(grad: np.ndarray, x: np.ndarray, w_shape: tuple[int, ...], strides, dilation,
                       pads: Pads) -> np.ndarray:
    """``dL/df[i', j', k, r] = sum_{n, i, j} x[n, s·i + d·i', s·j + d·j', k] · dZ[n, i, j, r]``, i.e.
    ``colsᵀ · dZ``. grad (N, out_h, out_w, C_out), x (N, H, W, C_in) -> (kh, kw, C_in, C_out)."""
    cols = im2col(x, w_shape[:2], strides, dilation, pads, grad.shape[1:3])
    return (cols.T @ grad.reshape(-1, w_shape[3])).reshape(w_shape)


def conv2d_bias_grad(grad: np.ndarray) -> np.ndarray:
    """``dL/db[r] = sum_{n, i, j} dZ[n, i, j, r]``: grad (N, out_h, out_w, C_out) -> (C_out,)."""
    return grad.sum(axis=(0, 1, 2))


def conv2d_backward(grad: np.ndarray, x: np.ndarray, w: np.ndarray, strides, dilation, pads: Pads,
                    need: tuple[bool, bool, bool] = (True, True, True), relu_out: np.ndarray | None = None):
    """(dx, dw, db) of ``conv2d_forward`` from dL/dZ ``grad`` (N, out_h, out_w, C_out); an entry of
    ``need`` that is False comes back None. ``relu_out``: the forward's output when it applied relu,
    whose derivative passes dZ only where the output is > 0."""
    if relu_out is not None:
        grad = grad * (relu_out > 0)
    need_dx, need_dw, need_db = need
    return (conv2d_input_grad(grad, w, x.shape, strides, dilation, pads) if need_dx else None,
            conv2d_kernel_grad(grad, x, w.shape, strides, dilation, pads) if need_dw else None,
            conv2d_bias_grad(grad) if need_db else None)
