"""Building layers without spending memory on their weights: zero-cost placeholders, sizes bounded.

A config read from a file can ask for any size (``Dense(units=10**12)``). Inside
``deferred_weights(max_bytes)`` every ``Layer.add_weight`` checks its shape, counts its bytes
against the limit and gets a read-only placeholder (``np.broadcast_to`` of one zero) instead of
an initialised array, so an absurd config is refused before any allocation, and a sane one
can be compared with a file's array headers before any weight's memory is spent.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any, Iterator

import numpy as np

from ..autograd import Parameter


class Deferral:
    """What ``deferred_weights`` records: the placeholders made so far, their initialisers, their bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self.created: list[tuple[Parameter, Any]] = []

    def placeholder(self, where: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """A read-only array of ``shape`` that costs no memory (every element is one zero), once
        the shape is known to be sane and the running total of real bytes within ``max_bytes``."""
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError(f"weight {where!r} would have shape {shape}; expected non-negative ints")
        nbytes = math.prod(int(d) for d in shape) * dtype.itemsize  # Python ints: no overflow
        self.total_bytes += nbytes
        if self.total_bytes > self.max_bytes:
            raise ValueError(f"the weights would need more than the limit of {self.max_bytes:,} bytes; weight "
                             f"{where!r} alone has shape {shape}, {nbytes:,} bytes of {dtype.name}")
        return np.broadcast_to(np.zeros((), dtype), shape)


_DEFERRAL: contextvars.ContextVar[Deferral | None] = contextvars.ContextVar("faltung_deferral", default=None)


def current_deferral() -> "Deferral | None":
    """The innermost active ``deferred_weights`` block's record, or None (weights are made for real)."""
    return _DEFERRAL.get()


@contextlib.contextmanager
def deferred_weights(max_bytes: int) -> Iterator[Deferral]:
    """Build layers without spending memory on weights, for configs that came from a file.

    Inside the block ``add_weight`` checks each shape, refuses once the weights would need more
    than ``max_bytes`` in all, and makes a zero-cost read-only placeholder of the right shape and
    dtype without running the initializer (so nothing is drawn from the random stream). The
    caller then either replaces every ``weight.data`` (loading a file) or calls
    ``initialize(deferral)``, which gives the weights exactly what an ordinary build would have.
    """
    token = _DEFERRAL.set(Deferral(max_bytes))
    try:
        yield _DEFERRAL.get()
    finally:
        _DEFERRAL.reset(token)


def initialize(deferral: Deferral) -> None:
    """Run the deferred initializers in creation order: the same random draws as an ordinary build."""
    for weight, initializer in deferral.created:
        shape, dtype = weight.data.shape, weight.data.dtype
        weight.data = np.asarray(initializer(shape, dtype=dtype), dtype=dtype)
