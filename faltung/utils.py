"""Keras' small utilities: one-hot encoding of class labels and seeding every random generator.

>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np

from . import backend

__all__ = ["to_categorical", "set_random_seed", "image_dataset_from_directory", "plot_model"]


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray:
    """One-hot encode integer class labels, the class axis last.

    y: labels of any shape S; a trailing axis of 1 is dropped first, as Keras does, so
    (N,) and (N, 1) both give (N, num_classes), and (N, H, W) gives (N, H, W, num_classes).
    num_classes: None infers ``max(y) + 1``.

    >>> to_categorical([[1], [0]]).shape
    (2, 2)
    """
    labels = np.asarray(getattr(y, "data", y))
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical: y must hold integer class labels; got dtype {labels.dtype}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            raise ValueError("to_categorical: y contains NaN or infinite values; expected class labels")
        fractional = labels[labels != np.round(labels)]
        if fractional.size:
            raise ValueError(f"to_categorical: y must hold whole class numbers; got {fractional.flat[0].item()!r}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"to_categorical: dtype must be a NumPy dtype such as 'float32'; got {dtype!r}") from None

    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:  # (N, 1) labels, as Keras squeezes them
        shape = shape[:-1]
    flat = labels.reshape(-1).astype(np.int64)

    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: cannot infer num_classes from an empty y; pass num_classes")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive int or None; got {num_classes!r}")
    num_classes = int(num_classes)
    if flat.size and flat.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0; got {flat.min()}")
    if flat.size and flat.max() >= num_classes:
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}) for num_classes={num_classes}; "
                         f"got {flat.max()}")

    one_hot = np.zeros((flat.size, num_classes), dtype=out_dtype)
    one_hot[np.arange(flat.size), flat] = 1
    return one_hot.reshape(shape + (num_classes,))


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and faltung's own (as Keras seeds
    Python, NumPy and its backend), so initialisation, shuffling and dropout repeat exactly.

    >>> set_random_seed(0)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"set_random_seed: seed must be an int in [0, 2**32); got {seed!r}")
    seed = int(seed)
    backend.set_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def __getattr__(name: str):
    # Keras keeps these in keras.utils; they live elsewhere in faltung and load on first use.
    if name == "image_dataset_from_directory":
        from .datasets.image_folder import image_dataset_from_directory
        return image_dataset_from_directory
    if name == "plot_model":
        from .plot_model import plot_model
        return plot_model
    raise AttributeError(f"module 'faltung.utils' has no attribute {name!r}")
