"""Differentiable conv (+ relu) followed by max pooling in one operation: one kernel in the fast set,
the two reference kernels one after the other in the reference set."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function, Tensor
from .conv import conv_arguments
from .pooling import pool_geometry


class Conv2DMaxPool2DOp(Function):
    def forward(self, x, w, b, conv, pool, relu):
        self.kernels = backend.active_kernels()  # the backward runs on the set the forward ran on
        self.x, self.w, self.geometry, self.relu = x, w, (conv, pool), relu
        self.pooled, self.state = self.kernels.conv2d_max_pool_forward(x, w, b, conv, pool, relu)
        return self.pooled

    def backward(self, grad):
        return self.kernels.conv2d_max_pool_backward(grad, self.pooled, self.state, self.x, self.w, *self.geometry,
                                                     self.relu, need=self.needs_grad)


def conv2d_max_pool2d(x: Any, w: Any, b: Any = None, strides: Any = 1, padding: Any = "valid",
                      dilation_rate: Any = 1, relu: bool = False, pool_size: Any = 2, pool_strides: Any = None,
                      pool_padding: str = "valid") -> Tensor:
    """``max_pool2d(conv2d(x, w, b, ..., relu=relu), pool_size, pool_strides, pool_padding)`` as one
    operation, with its results (to the rounding of sums): the fast kernel pools the conv output
    chunk by chunk in cache and never stores it (what a model runs for Conv2D followed by MaxPooling2D).

    x: (N, H, W, C_in); w: (kh, kw, C_in, C_out); b: (C_out,) or None -> (N, p_h, p_w, C_out).

    >>> conv2d_max_pool2d(np.ones((1, 6, 6, 1)), np.ones((3, 3, 1, 2)), relu=True).shape
    (1, 2, 2, 2)
    """
    x, w, b, conv = conv_arguments(x, w, b, strides, padding, dilation_rate)
    pool = pool_geometry(conv[3], pool_size, pool_strides, pool_padding)
    return Conv2DMaxPool2DOp.apply(x, w, b, conv=conv, pool=pool, relu=bool(relu))
