"""Which array module faltung computes with, its default float type and its random generator.

NumPy is the engine today; everything else in faltung reaches the array module,
the default dtype and the random number generator through this file, so that
``set_seed`` makes initialisation, shuffling and dropout repeatable.
"""
from __future__ import annotations

import numpy as np

xp = np  # the array module; a GPU module with NumPy's API could stand here later

_floatx = np.dtype(np.float32)
_rng = np.random.default_rng()


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
