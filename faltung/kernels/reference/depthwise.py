"""Depthwise convolution: the lecture's convolution with one input channel, once per channel.

``Z[n, i, j, c·M + m] = sum_{i', j'} x[n, s·i + d·i', s·j + d·j', c] · f[i', j', c, m]``: each input
channel c is correlated with its own M filters. A loop over the kh·kw kernel taps, each one
vectorised over batch, pixels and channels (a depthwise layer has no big product for BLAS).
"""
from __future__ import annotations

import numpy as np

from .im2col import pad, tap_slices, windows
from ..padding import Pads


def depthwise_conv2d_forward(x: np.ndarray, w: np.ndarray, strides, dilation, pads: Pads,
                             out_hw) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C), w (kh, kw, C, M) -> (Z (N, out_h, out_w, C·M), the windows the backward reads)."""
    win = windows(pad(x, pads), w.shape[:2], strides, dilation, out_hw)  # (N, oh, ow, kh, kw, C)
    n, (kh, kw, c, m) = x.shape[0], w.shape
    out = np.zeros((n, *out_hw, c, m), dtype=np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            out += win[:, :, :, i, j, :, None] * w[i, j]
    return out.reshape(n, *out_hw, c * m), win


def depthwise_conv2d_backward(grad: np.ndarray, win: np.ndarray, x_shape: tuple, w: np.ndarray, strides,
                              dilation, pads: Pads, need: tuple[bool, bool] = (True, True)):
    """(dx, dw) from dL/dZ ``grad`` (N, out_h, out_w, C·M): dw[i', j'] sums windows times gradients,
    dx scatters each tap's gradient back (col2im, one tap at a time). Not needed: None."""
    kh, kw, c, m = w.shape
    out_hw = grad.shape[1:3]
    g = grad.reshape(grad.shape[0], *out_hw, c, m)
    dw = np.empty_like(w) if need[1] else None
    (top, bottom), (left, right) = pads
    n, h, width, _ = x_shape
    dxp = np.zeros((n, h + top + bottom, width + left + right, c), dtype=grad.dtype) if need[0] else None
    for i in range(kh):
        for j in range(kw):
            if dw is not None:
                dw[i, j] = np.einsum("nhwc,nhwcm->cm", win[:, :, :, i, j, :], g)
            if dxp is not None:
                rows, cols = tap_slices((i, j), out_hw, strides, dilation)
                dxp[:, rows, cols, :] += np.einsum("nhwcm,cm->nhwc", g, w[i, j])
    return (None if dxp is None else dxp[:, top:top + h, left:left + width]), dw
