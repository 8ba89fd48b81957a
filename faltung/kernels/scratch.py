"""Reusable scratch buffers for kernels, keyed by purpose, shape and dtype.

Fresh large allocations cost page faults on every call (measured here: a step that
allocates its big temporaries afresh can run 2x slower than one that reuses them).
Only arrays that never leave a kernel (column buffers, padded copies) come from
here; results that the tape keeps are always new arrays. One set per thread, so
kernels running on a thread pool never share a buffer.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

LIMIT_BYTES = 256 * 2**20  # beyond this the least recently used buffers are dropped
_local = threading.local()


def buffer(purpose: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array of ``shape`` reserved for ``purpose`` on this thread (contents undefined)."""
    cache: OrderedDict = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = OrderedDict()
    dtype = np.dtype(dtype)
    key = (purpose, tuple(shape), dtype.str)
    array = cache.get(key)
    if array is None:
        array = np.empty(shape, dtype)
        cache[key] = array
        total = sum(a.nbytes for a in cache.values())
        while total > LIMIT_BYTES and len(cache) > 1:
            _, dropped = cache.popitem(last=False)
            total -= dropped.nbytes
    else:
        cache.move_to_end(key)
    return array


def clear() -> None:
    """Release this thread's buffers."""
    _local.cache = OrderedDict()
