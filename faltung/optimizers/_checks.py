"""Argument checks shared by the optimizers and the learning-rate schedules."""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def is_real(value: Any) -> bool:
    # bool is an Integral in Python, but `momentum=True` is a mistake, not 1.0.
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_real(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """Return ``value`` as a float after checking it is a finite real number in range."""
    if value is None and allow_none:
        return None
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if low is not None and high is not None:
        expected = f"a float in {lo}{low:g}, {high:g}{hi}"
    elif low is not None:
        expected = f"a float {'>' if low_open else '>='} {low:g}"
    else:
        expected = "a finite float"
    if allow_none:
        expected += " or None"
    bad = not is_real(value) or not math.isfinite(float(value))
    if not bad:
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            bad = True
        if high is not None and (v > high or (high_open and v == high)):
            bad = True
    if bad:
        raise ValueError(f"{owner}: `{name}` must be {expected}; received {name}={value!r}")
    return float(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{name}` must be a bool; received {name}={value!r}")
    return bool(value)
