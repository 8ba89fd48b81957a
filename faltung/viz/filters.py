"""The learned kernels of a Conv2D layer as a grid of small patches: what each filter looks for."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._draw import SIGNED_CMAP, grid_shape, panel_grid
from ._figure import DEFAULT_DPI, finish, new_figure
from ._layers import first_conv, is_conv, resolve_layer

MODES = ("auto", "rgb", "grey", "sum", "channels")


def plot_filters(model: Any, layer: Any = None, mode: str = "auto", max_filters: int = 64,
                 max_channels: int = 8, columns: int = 8, path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Draw the kernel ``(kh, kw, C_in, C_out)`` of a Conv2D ``layer`` (name, index or Layer; default:
    the model's first Conv2D), one patch per filter.

    ``mode``: ``"rgb"`` shows each filter's three input channels as one colour patch (a first layer
    on colour images); ``"grey"`` shows one-channel filters (a first layer on grey images);
    ``"sum"`` sums each filter over its input channels (deeper layers); ``"channels"`` draws one
    row per filter and one column per input channel (up to ``max_channels``). ``"auto"`` picks
    rgb/grey for the model's first Conv2D with 3/1 input channels and sum otherwise. All patches
    share one colour scale centred at 0 (mid-grey or white is 0), so filters compare at a glance.
    At most ``max_filters`` filters are drawn. Axes: one per patch, plus a colour bar except
    in rgb mode. Returns the Figure; saves it to ``path`` if given.
    """
    if layer is None:
        layer = first_conv(model)
    else:
        layer = resolve_layer(model, layer)
    if not is_conv(layer):
        convs = [l.name for l in model.layers if is_conv(l)]
        raise ValueError(f"plot_filters needs a Conv2D layer; {layer.name!r} is a {type(layer).__name__} "
                         f"(the Conv2D layers are {convs})")
    if not layer.built:
        raise ValueError(f"Conv2D {layer.name!r} is not built, so it has no kernel yet")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    kernel = np.asarray(layer.kernel.data, dtype=float)            # (kh, kw, C_in, C_out)
    kh, kw, c_in, c_out = kernel.shape
    if mode == "auto":
        first = layer is first_conv(model)
        mode = "rgb" if first and c_in == 3 else "grey" if first and c_in == 1 else "sum"
    if mode == "rgb" and c_in != 3:
        raise ValueError(f"mode 'rgb' needs 3 input channels; Conv2D {layer.name!r} has {c_in}")
    if mode == "grey" and c_in != 1:
        raise ValueError(f"mode 'grey' needs 1 input channel; Conv2D {layer.name!r} has {c_in}")
    shown = min(c_out, max_filters)
    channels = min(c_in, max_channels)
    kernel = kernel[..., :shown]
    if mode == "channels":
        patches = [kernel[:, :, k, r] for r in range(shown) for k in range(channels)]
        columns = channels
    elif mode == "rgb":
        patches = [kernel[:, :, :, r] for r in range(shown)]
    elif mode == "grey":
        patches = [kernel[:, :, 0, r] for r in range(shown)]
    else:
        patches = [kernel[:, :, :, r].sum(axis=2) for r in range(shown)]
    bound = max(float(np.max(np.abs(np.stack(patches)))), 1e-12)

    rows, cols = grid_shape(len(patches), columns)
    cell = 0.9 if mode != "channels" else 0.7
    colorbar = mode != "rgb"
    width, height = cols * cell + (1.0 if colorbar else 0.3), rows * cell + 0.8
    fig = new_figure(width, height)
    fig.subplots_adjust(left=0.15 / width, right=1 - (0.95 if colorbar else 0.15) / width,
                        bottom=0.1 / height, top=1 - 0.6 / height, wspace=0.15, hspace=0.3)
    axes = panel_grid(fig, len(patches), cols)
    image = None
    for k, (ax, patch) in enumerate(zip(axes, patches)):
        if mode == "rgb":
            ax.imshow(np.clip(0.5 + patch / (2 * bound), 0, 1), interpolation="nearest")  # 0 -> grey
        else:
            cmap = "gray" if mode == "grey" else SIGNED_CMAP
            image = ax.imshow(patch, cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest")
        if mode == "channels":
            r, c = divmod(k, cols)
            if r == 0:
                ax.set_title(f"in {c}", fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{r}", fontsize=7, rotation=0, labelpad=8, va="center")
        else:
            ax.set_title(str(k), fontsize=7, pad=2)
    if colorbar and image is not None:
        bar = fig.add_axes((1 - 0.75 / width, 0.1 / height, 0.15 / width, 1 - 0.7 / height))  # beside the grid
        fig.colorbar(image, cax=bar)
        bar.tick_params(labelsize=7)
    how = {"rgb": "as RGB", "grey": "", "sum": "summed over input channels",
           "channels": f"rows: filters, columns: input channels{'' if channels == c_in else f' (first {channels})'}"}
    count = f"{c_out} filters" if shown == c_out else f"first {shown} of {c_out} filters"
    fig.suptitle(f"{layer.name}: {count}, {kh}×{kw}×{c_in}" + (f", {how[mode]}" if how[mode] else ""),
                 fontsize=10)
    return finish(fig, path, dpi)
