"""Argument checks shared by the functional ops: loud, early errors that name what was received."""
from __future__ import annotations

from typing import Any

from ..autograd import Tensor, tensor


def float_tensor(value: Any, name: str, rank: int | None = None, layout: str = "") -> Tensor:
    """``value`` as a float Tensor of the given rank, or a ValueError/TypeError saying what is wrong."""
    if value is None:
        raise TypeError(f"{name} must be an array or Tensor; got None")
    try:
        t = tensor(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array or Tensor; got {type(value).__name__} ({err})") from None
    if t.dtype.kind != "f":
        raise TypeError(f"{name} must have a float dtype; got {t.dtype}")
    if rank is not None and t.ndim != rank:
        shape_words = f" {layout}" if layout else ""
        raise ValueError(f"{name} must have rank {rank}{shape_words}; got shape {t.shape}")
    return t


def same_dtype(**named: Tensor | None) -> None:
    """All given tensors share one dtype (mixing float32 and float64 is a mistake, not a promotion)."""
    present = {k: v.dtype for k, v in named.items() if v is not None}
    if len(set(present.values())) > 1:
        described = ", ".join(f"{k} is {v}" for k, v in present.items())
        raise TypeError(f"dtypes must match: {described}; cast one of them with .astype()")


def check_choice(value: Any, name: str, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
