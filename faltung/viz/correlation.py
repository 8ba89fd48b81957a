"""The lecture's Definition 1 as a picture: image B, filter A and their cross-correlation C = A * B
side by side, with the values in the cells when they fit, and the window of the strongest response."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._draw import draw_matrix
from ._figure import DEFAULT_DPI, finish, new_figure

#: Named 3×3 filters for ``faltung show correlation --filter NAME`` (and the lecture's 5×5 corner).
#: Oriented for cross-correlation: a positive response means dark-to-bright left-to-right (x) or
#: top-to-bottom (y).
FILTERS: dict[str, np.ndarray] = {
    "vertical-edge": np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=float),
    "horizontal-edge": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], dtype=float),
    "sobel-x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "sobel-y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    "laplace": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
}


def named_filter(name: str) -> np.ndarray:
    """A filter by name: one of ``FILTERS`` or ``"corner"`` (the lecture's 5×5 lower-left corner)."""
    if name == "corner":
        from ..lecture import CORNER_FILTER
        return CORNER_FILTER.copy()
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; expected one of {', '.join(['corner', *FILTERS])} "
                         "or a .npy file")
    return FILTERS[name].copy()


def _matrix(value: Any, what: str) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{what} must be a 2-D matrix (H, W) or (H, W, 1); got shape {np.shape(value)}")
    return array


def plot_correlation(image: Any, filter: Any, annotate: bool | None = None, highlight_max: bool = True,
                     path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Draw image ``B`` (H, W), filter ``A`` (m, m') and ``C = A * B`` ((H-m+1), (W-m'+1)) side by side.

    Values are written in the cells when every matrix has at most 16 rows and columns
    (``annotate=None``; True/False forces it). Signed matrices get a colour scale centred at 0
    (blue negative, red positive); unsigned ones are grey. With ``highlight_max`` the output's
    largest cell and the image window that produced it are outlined. Returns the Figure, with
    three axes in the order image, filter, output; saves it to ``path`` (.png, .svg) if given.

    >>> from faltung import lecture
    >>> fig = plot_correlation(lecture.IMAGE, lecture.CORNER_FILTER)   # the lecture's slide; max 19.3
    """
    from ..functional.conv import correlate2d
    from matplotlib.patches import Rectangle

    b = _matrix(image, "image")
    a = _matrix(filter, "filter")
    if a.shape[0] > b.shape[0] or a.shape[1] > b.shape[1]:
        raise ValueError(f"the filter {a.shape} must fit inside the image {b.shape}")
    c = np.asarray(correlate2d(a, b), dtype=float)
    if annotate is None:
        annotate = max(b.shape) <= 16
    # Equal cell sizes in all three panels, so the filter looks as big as the window it covers.
    columns = b.shape[1] + a.shape[1] + c.shape[1]
    cell = min(0.45 if annotate else 0.3, 12.0 / columns)
    fig = new_figure(cell * (columns + 4), cell * b.shape[0] + 0.9)
    grid = fig.add_gridspec(1, 3, width_ratios=[b.shape[1], a.shape[1], c.shape[1]], wspace=0.25,
                            left=0.02, right=0.98, bottom=0.02, top=1 - 0.6 / (cell * b.shape[0] + 0.9))
    axes = [fig.add_subplot(grid[0, k]) for k in range(3)]
    size = 7.0 if cell >= 0.4 else 5.5
    for ax, matrix, title in ((axes[0], b, f"image B ({b.shape[0]}×{b.shape[1]})"),
                              (axes[1], a, f"filter A ({a.shape[0]}×{a.shape[1]})"),
                              (axes[2], c, f"C = A ∗ B ({c.shape[0]}×{c.shape[1]})")):
        draw_matrix(ax, matrix, annotate, fontsize=size)
        ax.set_title(title, fontsize=10)
    if highlight_max:
        i, j = np.unravel_index(int(np.argmax(c)), c.shape)
        style = dict(fill=False, edgecolor="#ff7f0e", linewidth=2.5)
        axes[2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, **style))
        axes[0].add_patch(Rectangle((j - 0.5, i - 0.5), a.shape[1], a.shape[0], **style))
        axes[2].set_xlabel(f"max {c[i, j]:.3g} at row {i}, column {j}", fontsize=9)
    return finish(fig, path, dpi)
