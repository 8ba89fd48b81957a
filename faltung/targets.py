"""Targets against predictions: the arrays and rank alignment that losses and metrics share (Keras')."""
from __future__ import annotations

from typing import Any

import numpy as np


def as_array(y: Any, name: str) -> np.ndarray:
    """The ndarray inside a Tensor, array or nested list, refusing non-numeric data."""
    a = np.asarray(getattr(y, "data", y))
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array or Tensor; got dtype {a.dtype}")
    return a


def same_rank(x1: Any, x2: Any, expand_rank_1: bool = True) -> tuple[Any, Any]:
    """Keras' ``squeeze_or_expand_to_same_rank``: when ranks differ by one and the longer one ends
    in a 1, drop that axis (or give a rank-1 partner a trailing 1). Works on Tensors and arrays."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2.reshape(tuple(x2.shape) + (1,))
        else:
            x1 = x1.reshape(tuple(x1.shape[:-1]))
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1.reshape(tuple(x1.shape) + (1,))
        else:
            x2 = x2.reshape(tuple(x2.shape[:-1]))
    return x1, x2
