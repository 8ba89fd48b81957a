"""Elementwise maximum of two tensors (Keras' Maximum merge layer)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, Tensor, unbroadcast
from ._checks import float_tensor, same_dtype


class MaximumOp(Function):
    """max(a, b); the gradient goes to the larger input, and is split in half where they tie
    (as PyTorch's ``maximum``)."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        self.share_a = (a > b) + (a == b) * a.dtype.type(0.5)
        return np.maximum(a, b)

    def backward(self, g):
        ga = g * self.share_a
        return unbroadcast(ga, self.shapes[0]), unbroadcast(g - ga, self.shapes[1])


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum, broadcasting like NumPy."""
    a, b = float_tensor(a, "a"), float_tensor(b, "b")
    same_dtype(a=a, b=b)
    return MaximumOp.apply(a, b)
