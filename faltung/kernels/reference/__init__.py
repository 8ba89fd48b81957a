"""The reference kernels: the lecture's formulas in plain NumPy, im2col + one matrix product.

Each function computes one formula of the lecture for a whole batch at once and is
short enough to read beside it; ``faltung.kernels.fast`` has the same functions with
the same signatures and results (to float32 rounding), only faster. ``faltung.backend``
chooses which set the functional ops call (``FALTUNG_KERNELS=reference``).
"""
from __future__ import annotations

import contextlib

from .conv import (conv2d_backward, conv2d_bias_grad, conv2d_forward, conv2d_input_grad,
                   conv2d_kernel_grad)
from .conv_pool import conv2d_max_pool_backward, conv2d_max_pool_forward
from .dense import dense_backward, dense_forward
from .depthwise import depthwise_conv2d_backward, depthwise_conv2d_forward
from .im2col import col2im, im2col
from .pooling import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward


def scope(release_memory: bool = False) -> contextlib.AbstractContextManager:
    """Nothing to set up around a block of calls, nothing to release: these kernels run on the caller's
    thread with the caller's BLAS settings and keep no buffers."""
    return contextlib.nullcontext()


__all__ = ["scope", "conv2d_forward", "conv2d_backward", "conv2d_input_grad", "conv2d_kernel_grad",
           "conv2d_bias_grad", "max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
           "conv2d_max_pool_forward", "conv2d_max_pool_backward", "dense_forward", "dense_backward",
           "depthwise_conv2d_forward", "depthwise_conv2d_backward", "im2col", "col2im"]
