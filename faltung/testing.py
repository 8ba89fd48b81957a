"""Gradient checking: compare a hand-written backward with central finite differences, in float64."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .autograd import Tensor, no_grad


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, seed: int = 0) -> bool:
    """Check d(fn)/d(inputs) from ``backward()`` against central differences.

    ``fn`` maps Tensors to a Tensor; ``inputs`` are float64 arrays (each becomes a
    Tensor that requires a gradient). The output is weighted by fixed random
    numbers so every output entry's gradient is tested. Returns True, or raises
    AssertionError naming the input and the worst entry.

    >>> import faltung.functional as F
    >>> gradcheck(F.tanh, [np.linspace(-2, 2, 5)])
    True
    """
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    for i, a in enumerate(arrays):
        if not np.issubdtype(np.asarray(inputs[i]).dtype, np.floating) and np.asarray(inputs[i]).dtype != object:
            raise TypeError(f"input {i} must be a float array; got dtype {np.asarray(inputs[i]).dtype}")
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * weights).sum().backward()

    def objective() -> float:
        with no_grad():
            return float((fn(*[Tensor(a) for a in arrays]).data * weights).sum())

    for index, (array, t) in enumerate(zip(arrays, tensors)):
        analytic = np.zeros_like(array) if t.grad is None else t.grad
        numeric = np.zeros_like(array)
        for pos in np.ndindex(array.shape):
            original = array[pos]
            array[pos] = original + eps
            plus = objective()
            array[pos] = original - eps
            minus = objective()
            array[pos] = original
            numeric[pos] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), array.shape)
            raise AssertionError(
                f"gradient of input {index} (shape {array.shape}) differs at {bad.sum()} entries; "
                f"worst at {worst}: backward {analytic[worst]!r} vs finite difference {numeric[worst]!r}")
    return True
