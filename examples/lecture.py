"""Reproduce the lecture's worked examples through faltung's public API.

Run: python examples/lecture.py
"""
import numpy as np

import faltung as ft
from faltung import lecture

np.set_printoptions(precision=2, suppress=True, linewidth=100)

print("Example 2: C = A * B (2-D cross-correlation, Definition 1)")
C = ft.correlate2d(lecture.EXAMPLE2_A, lecture.EXAMPLE2_B)
print(C)
print("matches the lecture:", bool(np.array_equal(C, lecture.EXAMPLE2_C)))

print("\nThe 12x12 image correlated with the 5x5 corner filter (8x8 output):")
out = ft.correlate2d(lecture.CORNER_FILTER, lecture.IMAGE)
print(out)
i, j = np.unravel_index(np.argmax(out), out.shape)
print(f"maximum {out[i, j]:.1f} at row {i}, column {j}: the filter's corner lies on the image's corner "
      f"(image rows {i}..{i + 4}, columns {j}..{j + 4})")
print("within 0.1 of the printed output:", bool(np.abs(out - lecture.PRINTED_OUTPUT).max() <= 0.1))
