"""Both cores for one kernel: batch chunks, or row blocks of a product, spread over a thread pool.

NumPy releases the GIL inside BLAS calls, large copies and ufunc loops, so Python
threads working on different chunks run at the same time. When the pool is used
(threadpoolctl installed, more than one core, ``FALTUNG_NUM_THREADS`` not 1), BLAS is
set to one thread for the whole process: measured here, a two-thread BLAS call
anywhere in a training step leaves OpenBLAS's threads spinning for ~0.1 s, stealing
a core from the pool's next kernel (a conv layer's forward+backward took 1.6x as
long). Without threadpoolctl, chunks run one after another on BLAS's own threads.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

_pool: ThreadPoolExecutor | None = None
_threads: int | None = None
_blas_limit: Any = None  # kept alive: the one-thread BLAS setting lasts as long as the process


def threads() -> int:
    """Worker threads for chunked kernels: $FALTUNG_NUM_THREADS, else the CPU count, at most 8;
    1 when threadpoolctl is missing (BLAS then parallelises each product itself)."""
    global _threads, _blas_limit
    if _threads is None:
        wanted = int(os.environ.get("FALTUNG_NUM_THREADS", "0") or 0) or min(os.cpu_count() or 1, 8)
        if wanted > 1:
            try:
                from threadpoolctl import threadpool_limits
                _blas_limit = threadpool_limits(limits=1, user_api="blas")
            except ImportError:
                wanted = 1
        _threads = wanted
    return _threads


def _run(tasks: list[Callable[[], Any]]) -> list:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="faltung")
    return list(_pool.map(lambda task: task(), tasks))


def map_chunks(fn: Callable[[int, int], Any], n: int, chunk: int) -> list:
    """``[fn(start, stop) for each chunk of range(n)]``; with several threads, each takes one
    contiguous share of the chunks (one hand-off per thread, not per chunk)."""
    spans = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    workers = min(threads(), len(spans))
    if workers < 2:
        return [fn(a, b) for a, b in spans]
    shares = [spans[i * len(spans) // workers:(i + 1) * len(spans) // workers] for i in range(workers)]
    results = _run([lambda share=share: [fn(a, b) for a, b in share] for share in shares])
    return [r for share in results for r in share]


def images_per_chunk(budget_bytes: int, bytes_per_image: int, n: int) -> int:
    """How many of ``n`` images a chunk takes so that its buffers stay within ``budget_bytes`` (at least 1)."""
    return max(1, min(n, budget_bytes // max(bytes_per_image, 1)))


MIN_PARALLEL_FLOPS = 2 * 2**20  # below this a product is over before the threads would start


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays (into ``out`` if given), row blocks of ``a`` on the pool when the
    product is big enough."""
    rows = a.shape[0]
    workers = threads()
    if out is None:
        out = np.empty((rows, b.shape[1]), dtype=np.result_type(a, b))
    if workers < 2 or rows < 2 * workers or 2 * rows * a.shape[1] * b.shape[1] < MIN_PARALLEL_FLOPS:
        return np.matmul(a, b, out=out)
    cuts = [rows * i // workers for i in range(workers + 1)]
    _run([lambda lo=lo, hi=hi: np.matmul(a[lo:hi], b, out=out[lo:hi]) for lo, hi in zip(cuts, cuts[1:])])
    return out
