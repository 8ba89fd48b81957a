"""A convolutional layer (optionally with relu) followed by max pooling, the lecture's conv -> relu -> pool,
composed from the two reference kernels: the fast kernels run this pair as one operation, and the
reference composition is what they must equal."""
from __future__ import annotations

import numpy as np

from .conv import conv2d_backward, conv2d_forward
from .pooling import max_pool_backward, max_pool_forward


def conv2d_max_pool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, conv: tuple, pool: tuple,
                            relu: bool) -> tuple[np.ndarray, tuple]:
    """``P = max-pool(relu?(Z))`` with ``Z`` from ``conv2d_forward``: x (N, H, W, C_in), w (kh, kw, C_in, C_out)
    -> (P (N, p_h, p_w, C_out), state for the backward). ``conv`` = (strides, dilation, pads, out_hw) of
    the convolution, ``pool`` = (pool_size, strides, pads, out_hw) of the pooling."""
    z = conv2d_forward(x, w, b, *conv, relu=relu)
    pooled, winner = max_pool_forward(z, *pool)
    return pooled, (z, winner)


def conv2d_max_pool_backward(grad: np.ndarray, pooled: np.ndarray, state: tuple, x: np.ndarray, w: np.ndarray,
                             conv: tuple, pool: tuple, relu: bool,
                             need: tuple[bool, bool, bool] = (True, True, True)) -> tuple:
    """(dx, dW, db) from dL/dP ``grad`` (N, p_h, p_w, C_out): the pooling's backward, then the convolution's."""
    z, winner = state
    dz = max_pool_backward(grad, winner, z.shape, *pool[:3])
    return conv2d_backward(dz, x, w, *conv[:3], need=need, relu_out=z if relu else None)
