"""Feature maps: what each convolution and pooling layer outputs for one input image."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._draw import SIGNED_CMAP, display_image, grid_shape, panel_grid
from ._figure import DEFAULT_DPI, finish, new_figure
from ..image_input import as_batch
from ._layers import is_map_layer, layer_outputs, resolve_layer

MAP_CMAP = "viridis"  # activations after ReLU are >= 0: a sequential scale, dark = silent


def plot_feature_maps(model: Any, image: Any, layers: Sequence[Any] | None = None, max_maps: int = 32,
                      columns: int = 16, path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Draw the activations of each Conv2D and pooling layer of ``model`` for one ``image``.

    ``image``: (H, W, C) with the model's input shape, (1, H, W, C), or (H, W) for one channel;
    raw as the model takes it (e.g. uint8 when the model starts with Rescaling). ``layers``:
    names, indices or Layers whose outputs are (N, h, w, C) maps; default every Conv2D,
    MaxPooling2D and AveragePooling2D in order. Each layer gets a grid of its first
    ``max_maps`` channels, titled with its name and output shape (h, w, C); one colour
    scale per layer, so a silent channel looks dark beside a busy one. The input image is
    drawn on the left. Axes: 1 + the number of maps drawn. Returns the Figure; saves it to
    ``path`` if given.
    """
    batch = as_batch(model, image)
    if layers is None:
        chosen = [l for l in model.layers if is_map_layer(l)]
        if not chosen:
            raise ValueError(f"model {model.name!r} has no Conv2D or pooling layers; its layers are "
                             f"{[l.name for l in model.layers]}")
    else:
        chosen = [resolve_layer(model, l) for l in layers]
        if not chosen:
            raise ValueError("layers is empty; give at least one layer, or None for every conv and pooling layer")
    maps = layer_outputs(model, batch, chosen)
    for layer, value in zip(chosen, maps):
        if value.ndim != 3:
            raise ValueError(f"layer {layer.name!r} outputs shape {value.shape} per image, not (h, w, C) "
                             "feature maps; choose Conv2D or pooling layers")

    counts = [min(m.shape[-1], max_maps) for m in maps]
    rows = [grid_shape(n, columns)[0] for n in counts]
    cols = max(grid_shape(n, columns)[1] for n in counts)
    cell, title = 0.55, 0.35
    right_width = cols * cell
    left_width = max(1.6, 0.22 * right_width)
    height = sum(r * cell + title for r in rows) + 0.1
    fig = new_figure(left_width + right_width, max(height, 2.0))
    left, right = fig.subfigures(1, 2, width_ratios=[left_width, right_width], wspace=0)
    ax = left.add_subplot(1, 1, 1)
    pixels, style = display_image(batch[0])
    ax.imshow(pixels, interpolation="nearest", **style)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"input {tuple(batch.shape[1:])}", fontsize=9)
    blocks = right.subfigures(len(maps), 1, height_ratios=[r * cell + title for r in rows], hspace=0)
    blocks = np.atleast_1d(blocks)
    for block, layer, value, n, r in zip(blocks, chosen, maps, counts, rows):
        block.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - title / (r * cell + title),
                              wspace=0.08, hspace=0.08)
        signed = bool(value[..., :n].min() < 0)
        high = float(np.abs(value[..., :n]).max()) or 1.0
        scale = ({"cmap": SIGNED_CMAP, "vmin": -high, "vmax": high} if signed
                 else {"cmap": MAP_CMAP, "vmin": 0.0, "vmax": high})
        for k, ax in enumerate(panel_grid(block, n, cols)):
            ax.imshow(value[..., k], interpolation="nearest", **scale)
        shown = "" if n == value.shape[-1] else f", first {n} of {value.shape[-1]} maps"
        block.suptitle(f"{layer.name} {tuple(value.shape)}{shown}", fontsize=9, x=0.01, ha="left",
                       y=1 - 0.05 / (r * cell + title), va="top")
    return finish(fig, path, dpi)
