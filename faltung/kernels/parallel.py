"""Both cores for one kernel: batch chunks spread over a small thread pool.

NumPy releases the GIL inside BLAS calls, large copies and ufunc loops, so Python
threads working on different chunks of the batch run at the same time. While they
do, BLAS is held to one thread each (through threadpoolctl, an optional extra), so
the two levels of threading do not fight. Without threadpoolctl, or with
``FALTUNG_NUM_THREADS=1``, chunks run one after another on BLAS's own threads.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

_pool: ThreadPoolExecutor | None = None
_controller: Any = None  # threadpoolctl's controller, looked up once (the scan is slow)
_threads: int | None = None


def threads() -> int:
    """Worker threads for chunked kernels: $FALTUNG_NUM_THREADS, else the CPU count, at most 8;
    1 when threadpoolctl is missing (BLAS then parallelises each product itself)."""
    global _threads, _controller
    if _threads is None:
        wanted = int(os.environ.get("FALTUNG_NUM_THREADS", "0") or 0) or min(os.cpu_count() or 1, 8)
        if wanted > 1:
            try:
                from threadpoolctl import ThreadpoolController
                _controller = ThreadpoolController()
            except ImportError:
                wanted = 1
        _threads = wanted
    return _threads


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    with _controller.limit(limits=1, user_api="blas"):
        yield


def map_chunks(fn: Callable[[int, int], Any], n: int, chunk: int, threaded: bool = True) -> list:
    """``[fn(start, stop) for each chunk of range(n)]``; with several threads, each takes one
    contiguous share of the chunks (one hand-off per thread, not per chunk). ``threaded=False``
    for work too thin to gain from it (memory-bound products with few columns)."""
    spans = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    workers = min(threads(), len(spans)) if threaded else 1
    if workers < 2:
        return [fn(a, b) for a, b in spans]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="faltung")
    shares = [spans[i * len(spans) // workers:(i + 1) * len(spans) // workers] for i in range(workers)]
    with _single_threaded_blas():
        results = list(_pool.map(lambda share: [fn(a, b) for a, b in share], shares))
    return [r for share in results for r in share]
