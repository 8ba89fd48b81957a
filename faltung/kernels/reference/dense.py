"""The dense (fully connected) layer: one matrix product, forward and backward.

    y[n, u] = sum_v x[n, v] · W[v, u] + b[u]

Backpropagation: dL/dx = dL/dy · Wᵀ, dL/dW = xᵀ · dL/dy, dL/db = the sum of dL/dy over the batch.
"""
from __future__ import annotations

import numpy as np


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y = x · W + b``: x (N, in), w (in, out), b (out,) or None -> (N, out)."""
    y = x @ w
    if b is not None:
        y += b
    return y


def dense_backward(grad: np.ndarray, x: np.ndarray, w: np.ndarray,
                   need: tuple[bool, bool, bool] = (True, True, True)) -> tuple:
    """(dx (N, in), dW (in, out), db (out,)) from dL/dy ``grad`` (N, out); None where ``need`` is False."""
    need_dx, need_dw, need_db = need
    return (grad @ w.T if need_dx else None,
            x.T @ grad if need_dw else None,
            grad.sum(axis=0) if need_db else None)
