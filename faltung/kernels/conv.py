"""Convolutional layer kernels (im2col + one matrix product), forward and backward.

The lecture's convolutional layer on 3-D input with r filters and a bias:

    Z[i, j, r] = sum_{i', j', k} x[s·i + d·i', s·j + d·j', k] · f[i', j', k, r] + b[r]

computed for a batch of NHWC images as ``cols @ f.reshape(kh·kw·C_in, C_out)``
where ``cols`` holds every window of the zero-padded input as one row.
"""
from __future__ import annotations

import numpy as np

from .im2col import add_windows, crop, pad, padded_zeros, windows
from .padding import Pads


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple[int, int],
                   dilation: tuple[int, int], pads: Pads, out_hw: tuple[int, int]) -> np.ndarray:
    """x (N, H, W, C_in), w (kh, kw, C_in, C_out), b (C_out,) or None -> (N, out_h, out_w, C_out)."""
    kh, kw, c_in, c_out = w.shape
    n = x.shape[0]
    cols = windows(pad(x, pads), (kh, kw), strides, dilation, out_hw).reshape(-1, kh * kw * c_in)
    out = cols @ w.reshape(-1, c_out)
    if b is not None:
        out += b
    return out.reshape(n, out_hw[0], out_hw[1], c_out)


def conv2d_backward(grad: np.ndarray, x: np.ndarray, w: np.ndarray, strides: tuple[int, int],
                    dilation: tuple[int, int], pads: Pads, need: tuple[bool, bool, bool] = (True, True, True)):
    """Gradients (dx, dw, db) of ``conv2d_forward`` given dL/dZ ``grad`` (N, out_h, out_w, C_out).

    dw = colsᵀ · grad and dx = col2im(grad · fᵀ): the chain rule through the same
    windows the forward pass read. Entries of ``need`` that are False come back None.
    """
    kh, kw, c_in, c_out = w.shape
    n, out_h, out_w, _ = grad.shape
    g2 = grad.reshape(-1, c_out)
    dx = dw = db = None
    if need[2]:
        db = g2.sum(axis=0)
    if need[1]:
        cols = windows(pad(x, pads), (kh, kw), strides, dilation, (out_h, out_w)).reshape(-1, kh * kw * c_in)
        dw = (cols.T @ g2).reshape(w.shape)
    if need[0]:
        dwin = (g2 @ w.reshape(-1, c_out).T).reshape(n, out_h, out_w, kh, kw, c_in)
        dxp = padded_zeros(x.shape, pads, grad.dtype)
        add_windows(dxp, dwin, strides, dilation)
        dx = crop(dxp, pads)
    return dx, dw, db
