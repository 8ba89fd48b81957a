"""Memory the fast kernels reuse from call to call instead of allocating afresh; bounded and freeable.

Fresh large allocations cost page faults on every call: glibc maps the pages of a big
array afresh each time and hands them back on ``free`` (measured here: a LeNet training
step allocating its kernels' results afresh took about 2,000 page faults and 15 % longer;
a step that allocates its temporaries afresh can run 2x slower than one that reuses them).
Two kinds:

- ``buffer``: scratch that never leaves a kernel (column buffers, padded copies), one set
  per thread, so kernels running on the thread pool never share one; at most LIMIT_BYTES a
  thread, the least recently used going first.
- ``result``: a kernel's result, which the tape and the user may keep. An earlier result
  of the same shape is handed out again only when nothing else holds it any more (by
  Python's reference count): after a training step has dropped its tape, the next step
  gets the same arrays back. At most RESULT_LIMIT_BYTES are kept for reuse.

``release_all`` lets go of both: ``faltung.backend.scope`` calls it when the outermost
``fit``, ``evaluate`` or ``predict`` ends, so the memory is kept only while faltung works.
This is also why faltung need not change the process's allocator settings (which it
cannot undo) to train fast.
"""
from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

from ..padding import Pads

LIMIT_BYTES = 64 * 2**20  # per thread: a VGG-small training step (batch 128) holds about 34 MiB
RESULT_LIMIT_BYTES = 512 * 2**20  # all results kept for reuse: a VGG-small training step (batch 128) has 69 MiB
MIN_RESULT_BYTES = 2**17  # smaller arrays come from glibc's heap without page faults anyway (its mmap threshold)


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


_results: dict[tuple, list[np.ndarray]] = {}  # (shape, dtype) -> results handed out, reusable once unheld
_results_bytes = 0
_results_lock = threading.Lock()


def result(shape: tuple[int, ...], dtype) -> np.ndarray:
    """A new array for a kernel's result (contents undefined): an earlier one of this shape and dtype that
    nothing holds any more, or a fresh one."""
    global _results_bytes
    dtype = np.dtype(dtype)
    key = (tuple(shape), dtype.str)
    with _results_lock:  # one thread at a time, so that two callers never both take the same free array
        for array in _results.get(key, ()):
            if sys.getrefcount(array) == 3:  # the list, ``array`` and getrefcount's argument: no one else's
                return array
        array = np.empty(shape, dtype)
        if array.nbytes >= MIN_RESULT_BYTES and _results_bytes + array.nbytes <= RESULT_LIMIT_BYTES:
            _results.setdefault(key, []).append(array)
            _results_bytes += array.nbytes
        return array


def held_bytes() -> int:
    """Bytes held for reuse, all threads' buffers and the results together."""
    with _all_lock:
        sets = list(_all)
    return sum(a.nbytes for buffers in sets for a in list(buffers.cache.values())) + _results_bytes


def release_all() -> None:
    """Let go of every thread's buffers and of the results kept for reuse (arrays still in use stay
    alive with their users)."""
    global _results_bytes
    with _all_lock:
        sets = list(_all)
    for buffers in sets:
        buffers.cache = OrderedDict()  # one assignment: a thread inside buffer() finishes on the old dict
    with _results_lock:
        _results.clear()
        _results_bytes = 0


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


def pad_or_crop(x: np.ndarray, pads: Pads, purpose: str) -> np.ndarray:
    """Like ``pad_into_buffer`` but a negative entry removes rows/columns instead."""
    (top, bottom), (left, right) = pads
    h, w = x.shape[1:3]
    x = x[:, max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    return pad_into_buffer(x, ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))), purpose)
