"""The fast kernels: the reference kernels' functions, with their signatures and results (to float32
rounding), made fast.

What makes them fast stays in here: the batch cut into chunks whose buffers fit in cache
(``conv``, ``pooling``), the chunks spread over a thread pool with NumPy's BLAS on one
thread meanwhile (``parallel``), scratch buffers reused from call to call (``scratch``),
Winograd's minimal filtering for 3x3 stride-1 convolutions (``winograd``), the correlation
form of the input gradient and the thresholds that choose it, relu fused into the
convolution, conv + relu + max pooling as one kernel (``conv_pool``), and loops compiled by
numba where NumPy would need temporaries (``compiled``: the Winograd transforms, pooling).
Each op has one fast implementation, choosing its algorithm by shape; without numba the
compiled parts step back to NumPy (``compiled.say_fallback``).
``faltung.backend`` chooses these (the default) or ``faltung.kernels.reference``.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator

from .. import reference
from . import conv, conv_pool, dense, memory, parallel, pooling, scratch


def _one_blas_thread(kernel: Callable) -> Callable:
    """``kernel`` run inside ``parallel.one_blas_thread()``: called on its own, it sets NumPy's BLAS to
    one thread and back; inside ``scope()`` (a fit, an evaluate, a predict) that costs a counter."""
    @functools.wraps(kernel)
    def run(*args, **kwargs):
        with parallel.one_blas_thread():
            return kernel(*args, **kwargs)
    return run


conv2d_forward = _one_blas_thread(conv.conv2d_forward)
conv2d_backward = _one_blas_thread(conv.conv2d_backward)
max_pool_forward = _one_blas_thread(pooling.max_pool_forward)
max_pool_backward = _one_blas_thread(pooling.max_pool_backward)
avg_pool_forward = _one_blas_thread(pooling.avg_pool_forward)
avg_pool_backward = _one_blas_thread(pooling.avg_pool_backward)
conv2d_max_pool_forward = _one_blas_thread(conv_pool.conv2d_max_pool_forward)
conv2d_max_pool_backward = _one_blas_thread(conv_pool.conv2d_max_pool_backward)
dense_forward = _one_blas_thread(dense.dense_forward)
dense_backward = _one_blas_thread(dense.dense_backward)
# no faster depthwise convolution yet: the reference one (a loop over taps, no BLAS) serves both sets
depthwise_conv2d_forward = reference.depthwise_conv2d_forward
depthwise_conv2d_backward = reference.depthwise_conv2d_backward


@contextlib.contextmanager
def scope(release_memory: bool = False) -> Iterator[None]:
    """Hold what these kernels need for a block of calls (NumPy's BLAS on one thread while the pool
    works); when the outermost block ends, the BLAS's setting comes back, and with ``release_memory``
    the scratch buffers of every thread are freed too."""
    outermost = False
    try:
        with parallel.one_blas_thread():
            outermost = parallel.depth() == 1
            yield
    finally:
        if outermost and release_memory:
            scratch.release_all()


def configure(num_threads: int | None = None, keep_freed_memory: bool | None = None) -> dict:
    """``faltung.backend.configure``'s settings of these kernels (None: leave as it is); returns them."""
    if num_threads is not None:
        parallel.set_threads(num_threads)
    if keep_freed_memory:
        memory.keep_freed_memory()
    elif keep_freed_memory is not None and memory.tuned():
        raise ValueError("keep_freed_memory cannot be turned off: glibc cannot undo its allocator settings")
    return {"num_threads": parallel.threads(), "keep_freed_memory": memory.tuned()}


__all__ = ["scope", "configure", "conv2d_forward", "conv2d_backward", "max_pool_forward", "max_pool_backward",
           "avg_pool_forward", "avg_pool_backward", "conv2d_max_pool_forward", "conv2d_max_pool_backward",
           "dense_forward", "dense_backward", "depthwise_conv2d_forward", "depthwise_conv2d_backward"]
