"""Window arithmetic shared by convolution and pooling: output sizes and Keras/TensorFlow padding.

Per spatial axis of size ``n``, kernel ``k``, stride ``s``, dilation ``d`` and
effective kernel ``k' = d(k-1)+1``:

- ``valid``: no padding, ``floor((n - k') / s) + 1`` outputs;
- ``same``: ``ceil(n / s)`` outputs; ``pad_total = max((ceil(n/s) - 1)·s + k' - n, 0)``,
  ``pad_before = pad_total // 2``, the extra pixel going after (bottom/right);
- explicit: an int for all four sides, or ``((top, bottom), (left, right))``.
"""
from __future__ import annotations

import numbers
from typing import Any

Pads = tuple[tuple[int, int], tuple[int, int]]

PADDING_CHOICES = "'valid', 'same', an int or ((top, bottom), (left, right))"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def normalize_pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (each >= minimum) as a pair: ``3 -> (3, 3)``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(_is_int(v) for v in items):
        raise ValueError(f"{name} must be an int or a pair of ints; got {value!r}")
    items = (int(items[0]), int(items[1]))
    if min(items) < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    return items


def normalize_padding(padding: Any, allow_explicit: bool = True) -> str | Pads:
    """``'valid'``/``'same'`` (any case) or explicit pads as ``((top, bottom), (left, right))``."""
    choices = PADDING_CHOICES if allow_explicit else "'valid' or 'same'"
    if isinstance(padding, str):
        mode = padding.lower()
        if mode in ("valid", "same"):
            return mode
        raise ValueError(f"padding must be {choices}; got {padding!r}")
    if allow_explicit:
        if _is_int(padding) and padding >= 0:
            return ((int(padding),) * 2,) * 2
        if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
                isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) and v >= 0 for v in p)
                for p in padding):
            return (int(padding[0][0]), int(padding[0][1])), (int(padding[1][0]), int(padding[1][1]))
    raise ValueError(f"padding must be {choices} (non-negative); got {padding!r}")


def same_pads(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis: (before, after), the extra pixel after."""
    k_eff = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def resolve_pads(padding: str | Pads, in_hw: tuple[int, int], kernel_hw: tuple[int, int],
                 strides: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> Pads:
    """Explicit ``((top, bottom), (left, right))`` pads for a normalized padding."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return (same_pads(in_hw[0], kernel_hw[0], strides[0], dilation[0]),
                same_pads(in_hw[1], kernel_hw[1], strides[1], dilation[1]))
    return padding


def output_size(in_hw: tuple[int, int], kernel_hw: tuple[int, int], strides: tuple[int, int],
                dilation: tuple[int, int], pads: Pads) -> tuple[int, int]:
    """Output height and width; a size below 1 is a ValueError naming the sizes (as Keras does)."""
    out = []
    for axis, n, k, s, d, (before, after) in zip(("height", "width"), in_hw, kernel_hw, strides,
                                                  dilation, pads):
        k_eff = d * (k - 1) + 1
        size = (n + before + after - k_eff) // s + 1 if n + before + after >= k_eff else 0
        if size < 1:
            raise ValueError(
                f"output {axis} would be {size}: input {axis} {n} padded by ({before}, {after}) "
                f"is smaller than the effective kernel size {k_eff} (kernel {k}, dilation {d})")
        out.append(size)
    return out[0], out[1]
