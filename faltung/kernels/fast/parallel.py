"""Both cores for one kernel: batch chunks, or row blocks of a product, spread over a thread pool.

NumPy releases the GIL inside BLAS calls, large copies and ufunc loops, so Python
threads working on different chunks run at the same time. When the pool is used
(threadpoolctl installed, more than one core, ``num_threads`` not 1), NumPy's BLAS must
run one thread meanwhile: measured here, a two-thread BLAS call anywhere in a training
step leaves OpenBLAS's threads spinning for ~0.1 s, stealing a core from the pool's next
kernel (a conv layer's forward+backward took 1.6x as long). That limit holds only inside
``one_blas_thread()``: each fast kernel enters it, and ``faltung.backend.scope()`` (which
fit, evaluate and predict enter once) holds it for a whole run, so a training step does
not pay for it per kernel. When the outermost block ends, the BLAS's own setting comes
back: the user's process is left as it was. Without threadpoolctl, chunks run one after
another on BLAS's own threads.
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

import numpy as np

from . import scratch

_pool: ThreadPoolExecutor | None = None
_threads: int | None = None  # decided on first use: configure(num_threads=), $FALTUNG_NUM_THREADS or the CPUs
_blas: Any = None  # threadpoolctl's controller of the loaded BLAS: made once (about 1.5 ms), limited cheaply (6 us)
_depth = 0  # how many one_blas_thread() blocks are open, all threads together
_limiter: Any = None  # the open limit, restored when _depth returns to 0
_lock = threading.Lock()


def _has_threadpoolctl() -> bool:
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def threads() -> int:
    """Worker threads for chunked kernels: configure(num_threads=), else $FALTUNG_NUM_THREADS, else the
    CPU count, at most 8; 1 when threadpoolctl is missing (BLAS then parallelises each product itself)."""
    global _threads
    if _threads is None:
        wanted = int(os.environ.get("FALTUNG_NUM_THREADS", "0") or 0) or min(os.cpu_count() or 1, 8)
        _threads = wanted if wanted == 1 or _has_threadpoolctl() else 1
    return _threads


def set_threads(n: int) -> None:
    """Use ``n`` worker threads from now on."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"num_threads must be a positive int; got {n!r}")
    if n > 1 and not _has_threadpoolctl():
        raise ValueError(f"num_threads={n} needs threadpoolctl to keep BLAS on one thread per worker: "
                         "pip install threadpoolctl (or faltung[fast])")
    with _lock:
        if _depth:
            raise RuntimeError("num_threads cannot change while faltung's kernels are running")
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = n


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS on one thread for the block, when kernels run on the pool (``threads() > 1``).
    Blocks nest (an inner one costs a counter); the outermost restores the setting it found."""
    global _depth, _limiter, _blas
    with _lock:
        if _depth == 0 and threads() > 1:
            if _blas is None:
                from threadpoolctl import ThreadpoolController
                _blas = ThreadpoolController()
            _limiter = _blas.limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None


def depth() -> int:
    """How many ``one_blas_thread()`` blocks are open (0: faltung's kernels are not running)."""
    return _depth


def _run(tasks: list[Callable[[], Any]]) -> list:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="faltung")
    return list(_pool.map(lambda task: task(), tasks))


def map_chunks(fn: Callable[[int, int], Any], n: int, chunk: int,
               fold: Callable[[Any, Any], Any] | None = None) -> list:
    """``[fn(start, stop) for each chunk of range(n)]``; with several threads, each takes one
    contiguous share of the chunks (one hand-off per thread, not per chunk).

    With ``fold``, each share's results are folded as they come (``acc = fold(acc, result)``, acc
    None at first) and the list holds one result per share: the chunks' partial sums of a gradient
    add up in the thread that made them, in the same order whatever the timing."""
    spans = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    workers = min(threads(), len(spans))

    def run(share: list) -> list:
        if fold is None:
            return [fn(a, b) for a, b in share]
        acc = None
        for a, b in share:
            acc = fold(acc, fn(a, b))
        return [] if acc is None else [acc]
    if workers < 2:
        return run(spans)
    shares = [spans[i * len(spans) // workers:(i + 1) * len(spans) // workers] for i in range(workers)]
    return [r for results in _run([lambda share=share: run(share) for share in shares]) for r in results]


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
        out = scratch.result((rows, b.shape[1]), np.result_type(a, b))
    if workers < 2 or rows < 2 * workers or 2 * rows * a.shape[1] * b.shape[1] < MIN_PARALLEL_FLOPS:
        return np.matmul(a, b, out=out)
    cuts = [rows * i // workers for i in range(workers + 1)]
    _run([lambda lo=lo, hi=hi: np.matmul(a[lo:hi], b, out=out[lo:hi]) for lo, hi in zip(cuts, cuts[1:])])
    return out
