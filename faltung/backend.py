"""The one seam between faltung and how it computes: which kernels, how they may use the process,
the array module, the default float type and the random generator.

Kernels. The functional ops ask ``active_kernels()`` for their kernel and never know which
set answers: ``"fast"`` (the default; chunked, threaded, fused, Winograd for 3x3, loops
compiled by numba where it is installed) or ``"reference"`` (the lecture's formulas in plain
NumPy, ``faltung.kernels.reference``). Both compute the same
results to float32 rounding. Choose with ``FALTUNG_KERNELS=reference|fast`` in the
environment, ``set_kernels("reference")``, or for a block, ``with kernels("reference"):``.

The user's process. faltung changes nothing process-wide on its own. The fast kernels set
NumPy's BLAS to one thread only while they run (``scope()``, entered by ``fit``,
``evaluate`` and ``predict``, holds that for the whole call, then restores the setting
it found and frees the kernels' scratch buffers). What cannot be undone is opt-in:
``configure(keep_freed_memory=True)`` tunes glibc's allocator for a program that trains
and owns its process (a few per cent on ResNet-small here, nothing measurable on LeNet).
"""
from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType
from typing import Any, Iterator

import numpy as np

xp = np  # the array module; a GPU module with NumPy's API (CuPy) would stand here, with kernels of its own

KERNEL_SETS = ("fast", "reference")


def _checked_kernels(name: Any, source: str) -> str:
    if name not in KERNEL_SETS:
        raise ValueError(f"{source} must be 'fast' or 'reference'; got {name!r}")
    return name


_kernels = _checked_kernels(os.environ.get("FALTUNG_KERNELS", "fast") or "fast", "FALTUNG_KERNELS")
_fusion = True
_floatx = np.dtype(np.float32)
_rng = np.random.default_rng()


# ----- kernels -----
def set_kernels(name: str) -> None:
    """Compute with the ``"fast"`` or the ``"reference"`` kernels from now on (this process, all threads)."""
    global _kernels
    _kernels = _checked_kernels(name, "kernels")


def get_kernels() -> str:
    """The name of the kernel set in use: ``"fast"`` or ``"reference"``."""
    return _kernels


@contextlib.contextmanager
def kernels(name: str) -> Iterator[None]:
    """Compute with the named kernel set inside the block, then with the previous one again.

    >>> with kernels("reference"):
    ...     get_kernels()
    'reference'
    """
    previous = _kernels
    set_kernels(name)
    try:
        yield
    finally:
        set_kernels(previous)


def active_kernels() -> ModuleType:
    """The module of the kernel set in use (``faltung.kernels.fast`` or ``faltung.kernels.reference``):
    what a functional op calls. An op keeps the module its forward used for its backward."""
    return importlib.import_module(f"faltung.kernels.{_kernels}")


def scope(release_memory: bool = False) -> contextlib.AbstractContextManager:
    """Hold what the kernels in use need for a block of calls, and give it back after the block:
    NumPy's BLAS thread count, and with ``release_memory`` the kernels' scratch buffers too.

    ``fit``, ``evaluate`` and ``predict`` run inside one (releasing memory), and so do
    ``train_on_batch`` and ``test_on_batch`` (keeping it for the next batch), so a training
    step does not pay for the settings kernel by kernel; a loop of your own over layers or
    functional ops may enter one too. Scopes nest; only the outermost gives back.
    """
    return active_kernels().scope(release_memory)


# ----- settings -----
def configure(num_threads: int | None = None, keep_freed_memory: bool | None = None,
              fusion: bool | None = None) -> dict:
    """Change how faltung computes; arguments left None stay as they are. Returns the settings.

    - ``num_threads``: worker threads of the fast kernels (default: $FALTUNG_NUM_THREADS, else the
      CPU count, at most 8; more than 1 needs threadpoolctl).
    - ``keep_freed_memory=True``: tune glibc's allocator to keep freed memory for reuse (no page
      faults re-mapping a step's big arrays). It affects the whole process and cannot be undone, so
      it is never done unless asked for here.
    - ``fusion``: whether models run Conv2D (linear or relu) + MaxPooling2D as one operation
      (default True; the results are the same to the rounding of sums).

    >>> configure()["kernels"] in KERNEL_SETS
    True
    """
    global _fusion
    from .kernels import fast
    settings = fast.configure(num_threads=num_threads, keep_freed_memory=keep_freed_memory)
    if fusion is not None:
        _fusion = bool(fusion)
    return {"kernels": _kernels, **settings, "fusion": _fusion}


def fusion() -> bool:
    """Whether models run Conv2D + MaxPooling2D as one operation (``configure(fusion=...)``)."""
    return _fusion


# ----- dtype and random numbers -----
def floatx() -> np.dtype:
    """The default float dtype for new parameters and for data given as Python lists."""
    return _floatx


def set_floatx(dtype) -> None:
    """Set the default float dtype (``"float32"`` or ``"float64"``)."""
    global _floatx
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"floatx must be 'float32' or 'float64'; got {dtype!r}")
    _floatx = dt


def set_seed(seed: int) -> None:
    """Seed faltung's random generator: initialisation, shuffling and dropout repeat exactly.

    >>> set_seed(0)
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    _rng = np.random.default_rng(int(seed))


def rng() -> np.random.Generator:
    """The generator every random choice in faltung draws from."""
    return _rng


# ----- Keras' ``keras.backend`` spellings (``import faltung as keras; keras.backend.clear_session()``) -----
_session_resets: list = []  # callbacks that upper layers register (imports point downwards only)


def clear_session() -> None:
    """Forget global state as Keras does: layer names start again at ``dense``, ``conv2d``, ..."""
    for reset in _session_resets:
        reset()


def epsilon() -> float:
    """Keras' fuzz factor, 1e-7 (used by Normalization and the norm constraints)."""
    return 1e-7


def image_data_format() -> str:
    """Always ``"channels_last"``: faltung's images are (N, H, W, C)."""
    return "channels_last"
