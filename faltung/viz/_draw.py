"""Drawing helpers shared by the plots: a matrix with its values in the cells, grids of small panels,
colour scales centred at 0 for signed values, and images as imshow wants them."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

SIGNED_CMAP = "RdBu_r"   # blue < 0 < red, white at 0: the sign is what a filter weight or a response says
UNSIGNED_CMAP = "gray"   # pixels: dark is 0, bright is large, like the image itself


def is_signed(array: np.ndarray) -> bool:
    return bool(np.nanmin(array) < 0) if array.size else False


def colour_scale(array: np.ndarray, signed: bool | None = None) -> dict:
    """imshow arguments: a symmetric range around 0 (diverging colours) for signed values, else 0..max."""
    array = np.asarray(array, dtype=float)
    signed = is_signed(array) if signed is None else signed
    if signed:
        bound = float(np.nanmax(np.abs(array))) if array.size else 1.0
        bound = bound or 1.0
        return {"cmap": SIGNED_CMAP, "vmin": -bound, "vmax": bound}
    low, high = (float(np.nanmin(array)), float(np.nanmax(array))) if array.size else (0.0, 1.0)
    low = min(low, 0.0)  # 0 is black, so a pixel's grey level means what its value says
    return {"cmap": UNSIGNED_CMAP, "vmin": low, "vmax": high if high > low else low + 1.0}


def decimals(array: np.ndarray) -> int:
    """Decimals that show about three significant digits of the largest value (0 for whole numbers):
    the lecture prints 0.56 for a pixel and 19.3 for a response."""
    array = np.asarray(array, dtype=float)
    if array.size == 0 or np.all(array == np.round(array)):
        return 0
    largest = float(np.nanmax(np.abs(array))) or 1.0
    return max(0, 2 - int(math.floor(math.log10(largest))))


def draw_matrix(ax: Any, array: np.ndarray, annotate: bool, signed: bool | None = None,
                cmap: str | None = None, fontsize: float = 7.0) -> Any:
    """Show a 2-D ``array`` (H, W) as coloured cells, with each value written in its cell if ``annotate``.

    Returns the AxesImage. Text is black or white, whichever reads better on the cell's colour.
    """
    array = np.asarray(array, dtype=float)
    scale = colour_scale(array, signed)
    if cmap is not None:
        scale["cmap"] = cmap
    image = ax.imshow(array, interpolation="nearest", **scale)
    ax.set_xticks([])
    ax.set_yticks([])
    if annotate:
        places = decimals(array)
        rgba = image.cmap(image.norm(array))
        luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        for (i, j), value in np.ndenumerate(array):
            ax.text(j, i, f"{value:.{places}f}", ha="center", va="center", fontsize=fontsize,
                    color="black" if luminance[i, j] > 0.5 else "white")
    return image


def grid_shape(n: int, columns: int) -> tuple[int, int]:
    """(rows, columns) of a grid holding ``n`` panels at most ``columns`` wide."""
    columns = max(1, min(columns, n))
    return max(1, math.ceil(n / columns)), columns


def panel_grid(fig: Any, n: int, columns: int) -> list:
    """``n`` bare axes in a grid on ``fig`` (a Figure or SubFigure), row by row; no empty axes are left."""
    rows, columns = grid_shape(n, columns)
    axes = []
    for k in range(n):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.set_xticks([])
        ax.set_yticks([])
        axes.append(ax)
    return axes


def display_image(image: np.ndarray) -> tuple[np.ndarray, dict]:
    """An (H, W, C) image as imshow takes it: grey (H, W) for one channel, RGB in 0..1 for three.

    uint8 pixels keep their 0..255 meaning; float images are stretched to their own range.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        if image.dtype == np.uint8:
            return image, {"cmap": "gray", "vmin": 0, "vmax": 255}
        return image.astype(float), {"cmap": "gray"}
    if image.ndim == 3 and image.shape[-1] == 3:
        if image.dtype == np.uint8:
            return image, {}
        image = image.astype(float)
        low, high = float(image.min()), float(image.max())
        return (image - low) / (high - low if high > low else 1.0), {}
    raise ValueError(f"an image to show must be (H, W), (H, W, 1) or (H, W, 3); got shape {image.shape}")
