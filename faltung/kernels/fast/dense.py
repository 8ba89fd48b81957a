"""The dense layer's products (``reference.dense``) on the thread pool, and its bias gradient as a
matrix-vector product."""
from __future__ import annotations

import numpy as np

from .conv import sum_rows
from .parallel import matmul


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y = x · W + b``: x (N, in), w (in, out), b (out,) or None -> (N, out)."""
    y = matmul(x, w)
    if b is not None:
        y += b
    return y


def dense_backward(grad: np.ndarray, x: np.ndarray, w: np.ndarray,
                   need: tuple[bool, bool, bool] = (True, True, True)) -> tuple:
    """(dx (N, in), dW (in, out), db (out,)) from dL/dy ``grad`` (N, out); None where ``need`` is False."""
    need_dx, need_dw, need_db = need
    return (matmul(grad, w.T) if need_dx else None,
            matmul(x.T, grad) if need_dw else None,
            sum_rows(grad) if need_db else None)
