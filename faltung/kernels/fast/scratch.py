"""Reusable scratch buffers for the fast kernels, keyed by purpose, shape and dtype; bounded and freeable.

Fresh large allocations cost page faults on every call (measured here: a step that
allocates its big temporaries afresh can run 2x slower than one that reuses them).
Only arrays that never leave a kernel (column buffers, padded copies) come from
here; results that the tape keeps are always new arrays. One set per thread, so
kernels running on a thread pool never share a buffer. Each thread's set holds at most
LIMIT_BYTES (least recently used buffers go first), and ``release_all`` drops every
thread's set: ``faltung.backend.scope`` calls it when the outermost scope (a ``fit``,
``evaluate`` or ``predict``) ends, so memory is kept only while faltung is working.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np

from ..padding import Pads

LIMIT_BYTES = 64 * 2**20  # per thread: VGG-small's largest set is about 30 MiB (chunks of 4 MiB)


class _Buffers:
    """One thread's buffers, least recently used first."""

    def __init__(self):
        self.cache: OrderedDict = OrderedDict()


_local = threading.local()  # .buffers: this thread's _Buffers
_all: weakref.WeakSet = weakref.WeakSet()  # every thread's, weakly: a finished thread's set goes with it
_all_lock = threading.Lock()


def buffer(purpose: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array of ``shape`` reserved for ``purpose`` on this thread (contents undefined)."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = _Buffers()
        with _all_lock:
            _all.add(buffers)
    cache = buffers.cache
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


def held_bytes() -> int:
    """Bytes held in scratch buffers, all threads together."""
    with _all_lock:
        sets = list(_all)
    return sum(a.nbytes for buffers in sets for a in list(buffers.cache.values()))


def release_all() -> None:
    """Drop every thread's buffers (a kernel still running keeps the arrays it holds)."""
    with _all_lock:
        sets = list(_all)
    for buffers in sets:
        buffers.cache = OrderedDict()  # one assignment: a thread inside buffer() finishes on the old dict


def pad_into_buffer(x: np.ndarray, pads: Pads, purpose: str, value: float = 0.0) -> np.ndarray:
    """``x`` (N, H, W, C) padded by ``pads`` rows/columns of ``value``, written into this thread's reused
    buffer for ``purpose`` (no fresh allocation per call); ``x`` itself when there is no padding."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    xp = buffer(purpose, (n, h + top + bottom, w + left + right, c), x.dtype)
    # fill only the border: the interior is overwritten
    xp[:, :top] = value
    xp[:, top + h:] = value
    xp[:, top:top + h, :left] = value
    xp[:, top:top + h, left + w:] = value
    xp[:, top:top + h, left:left + w] = x
    return xp
