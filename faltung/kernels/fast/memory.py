"""Keep freed memory for reuse instead of returning it to the operating system (glibc only): opt-in.

A training step frees and re-allocates the same large arrays (activations, gradients)
every batch. By default glibc hands arrays of more than 128 KiB (a threshold it raises
as it goes) back to the kernel on ``free`` and maps fresh pages on the next allocation,
so a step pays a page fault per 4 KiB touched. Raising the mmap and trim thresholds lets
the heap keep those pages. The fast kernels reuse their own results (``scratch.result``),
which took most of the cost away (about 15 % of a LeNet step); what this still saves is the
page faults of the other arrays a step allocates (elementwise ops, batch normalisation, the
optimizer): measured here, a few per cent of a ResNet-small step, nothing on LeNet. Peak
memory is unchanged (the same arrays are live at the peak); the process just keeps what
it peaked at.

These are settings of the whole process that glibc cannot report or undo, so faltung
never makes them on its own: ``faltung.backend.configure(keep_freed_memory=True)`` does,
once, for a program that trains and owns its process.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc refuses more on 64-bit systems (HEAP_MAX_SIZE / 2)

_tuned = False


def keep_freed_memory() -> bool:
    """Tune glibc's allocator (once per process); True if it is tuned, False where it cannot be (not glibc)."""
    global _tuned
    if not _tuned:
        _tuned = _mallopt([(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX), (M_TRIM_THRESHOLD, 2**30),
                           (M_TOP_PAD, 64 * 2**20)])
    return _tuned


def tuned() -> bool:
    """Whether this process's allocator was tuned by ``keep_freed_memory``."""
    return _tuned


def _mallopt(settings: list[tuple[int, int]]) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all(mallopt(option, value) == 1 for option, value in settings)
