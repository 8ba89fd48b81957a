"""Compiled loops (numba), imported on first use and cached on disk.

``import faltung`` never imports numba: a function decorated with ``@compiled`` is compiled
the first time a fast kernel calls it (numba's ``njit``), and the machine code is cached
beside this package (``cache=True``), so later processes load it in milliseconds instead of
compiling again. The loops release the GIL (``nogil``), so the fast kernels' own thread
pool runs them on both cores; numba's own threading layer is never started, and nothing
process-wide is set.

Without numba (``pip install faltung[fast]`` brings it), ``available()`` is False, the
kernels that need it fall back to the reference kernels, and faltung says so once.
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import Callable

# Floating-point liberties for the loops: contraction into FMAs and reassociation let LLVM
# vectorise sums; not 'nnan'/'ninf', so NaN and inf still propagate as in NumPy.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

_numba = None  # the module once imported; False when it is not installed
_said = False


class KernelWarning(UserWarning):
    """faltung runs slower kernels than it could (numba missing), said once a process."""


def available() -> bool:
    """Whether numba can be imported (tried once; ``FALTUNG_NUMBA=0`` pretends it cannot)."""
    global _numba
    if _numba is None:
        try:
            if os.environ.get("FALTUNG_NUMBA", "1") == "0":
                raise ImportError("FALTUNG_NUMBA=0")
            import numba
            _numba = numba
        except ImportError:
            _numba = False
    return _numba is not False


def say_fallback() -> None:
    """Warn once a process that the compiled kernels are missing and which ones run instead."""
    global _said
    if not _said:
        _said = True
        warnings.warn("numba is not installed: faltung's fast kernels run their NumPy versions (3x3 convolutions "
                      "without Winograd, pooling and small-channel convolutions as the reference kernels); "
                      "pip install 'faltung[fast]' for the compiled ones", KernelWarning, stacklevel=3)


def compiled(fn: Callable) -> Callable:
    """``fn`` compiled by numba on its first call (no GIL, cached on disk); each distinct set of argument
    types compiles once. Kernels call it only where ``available()`` is True."""
    jitted = None

    @functools.wraps(fn)
    def call(*args):
        nonlocal jitted
        if jitted is None:
            if not available():
                raise RuntimeError(f"{fn.__name__} needs numba: pip install 'faltung[fast]'")
            jitted = _numba.njit(cache=True, nogil=True, fastmath=FASTMATH)(fn)
        return jitted(*args)
    call.python = fn  # the plain Python loops: for reading, and for tests of a loop's logic
    return call
