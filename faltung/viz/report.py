"""A training report: every picture of faltung.viz for one trained model, written as PNG files into a
folder with an ``index.html`` that shows them beside the run's settings and final metrics.

The page is plain static HTML (no script, no server): open it from the file system.
"""
from __future__ import annotations

import datetime
import html
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ._figure import DEFAULT_DPI, close, finish
from ..image_input import input_image_shape
from ._layers import is_conv, is_map_layer
from .correlation import plot_correlation
from .evaluation import plot_confusion_matrix, plot_predictions
from .feature_maps import plot_feature_maps
from .filters import plot_filters
from .history import read_history, plot_history

MAX_FILTER_PICTURES = 3  # the first few Conv2D layers: deeper kernels are hard to read anyway


def _grey(image: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W) in 0..1 for uint8 (the scale a Rescaling(1/255) layer gives the first conv)."""
    image = np.asarray(image, dtype=float) / (255.0 if np.asarray(image).dtype == np.uint8 else 1.0)
    return image.mean(axis=-1) if image.ndim == 3 else image


def _most_selective_filter(image: np.ndarray, kernel: np.ndarray) -> int:
    """Index r of the filter (kh, kw, r) whose cross-correlation with ``image`` stands out most:
    peak above the median response, per unit of filter norm. (The plain highest peak picks an
    all-positive blur, which answers to brightness anywhere rather than to a feature.)"""
    from ..functional.conv import correlate2d
    scores = []
    for r in range(kernel.shape[-1]):
        response = correlate2d(kernel[:, :, r], image)
        scores.append((float(np.max(response)) - float(np.median(response)))
                      / (float(np.linalg.norm(kernel[:, :, r])) or 1.0))
    return int(np.argmax(scores))


def write_report(directory: Any, model: Any, x_test: Any, y_test: Any,
                 class_names: Sequence[str] | None = None, history: Any = None,
                 settings: Mapping[str, Any] | None = None, metrics: Mapping[str, Any] | None = None,
                 image_index: int = 0, title: str | None = None, dpi: int = DEFAULT_DPI) -> str:
    """Write the pictures of ``model`` into ``directory`` and an ``index.html`` showing them; return its path.

    ``x_test`` (N, H, W, C) and ``y_test`` (N,): images (raw, as the model takes them) and labels
    for the confusion matrix and the prediction grid; image ``image_index`` is the one whose
    feature maps and cross-correlation are drawn. ``history``: a History, its dict or a
    CSVLogger path (training curves, and the last epoch's values as metrics). ``settings`` and
    ``metrics`` are shown as tables. Existing files of the same names are overwritten.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    x_test = np.asarray(x_test)
    if not 0 <= image_index < len(x_test):
        raise ValueError(f"image_index must be within the {len(x_test)} test images; got {image_index}")
    probabilities = np.asarray(model.predict(x_test, batch_size=256, verbose=0))
    image = x_test[image_index]
    pictures: list[tuple[str, str, str]] = []  # (file, heading, caption)

    def draw(name: str, heading: str, caption: str, plot: Callable[[], Any]) -> None:
        fig = plot()
        try:
            finish(fig, os.path.join(directory, name), dpi)
        finally:
            close(fig)
        pictures.append((name, heading, caption))

    metrics = dict(metrics or {})
    if history is not None:
        epochs, values = read_history(history)
        for key, column in values.items():
            metrics.setdefault(f"{key} (epoch {int(epochs[-1])})", float(column[-1]))
        draw("history.png", "Training history", "Loss and metrics per epoch: training solid, validation dashed.",
             lambda: plot_history(history))
    draw("confusion.png", "Confusion matrix",
         f"Rows: true class, columns: predicted class, over {len(x_test)} test images.",
         lambda: plot_confusion_matrix(model, x_test, y_test, class_names, probabilities=probabilities))
    draw("predictions.png", "Predictions", "The first test images with the predicted class and its probability; "
         "wrong ones are framed in red with the true class.",
         lambda: plot_predictions(model, x_test, y_test, class_names, probabilities=probabilities))
    convs = [l for l in model.layers if is_conv(l)]
    for layer in convs[:MAX_FILTER_PICTURES]:
        first = layer is convs[0]
        draw(f"filters-{layer.name}.png", f"Filters of {layer.name}",
             "Learned kernels, one patch per filter, on one colour scale centred at 0"
             + ("." if first else " (summed over the input channels)."),
             lambda layer=layer: plot_filters(model, layer))
    try:
        input_image_shape(model)
        one_image_input = True
    except ValueError:  # several inputs, or not images: no single picture to follow through the layers
        one_image_input = False
    if one_image_input and any(is_map_layer(l) for l in model.layers):
        draw("feature-maps.png", "Feature maps", f"What each convolution and pooling layer outputs for test "
             f"image {image_index} (first 16 channels of each).",
             lambda: plot_feature_maps(model, image, max_maps=16))
    if one_image_input and convs:
        kernel = np.asarray(convs[0].kernel.data, dtype=float).sum(axis=2)  # (kh, kw, C_out)
        grey = _grey(image)
        r = _most_selective_filter(grey, kernel)
        draw("correlation.png", "Cross-correlation", f"The lecture's Definition 1, C = A ∗ B, for test image "
             f"{image_index} (pixels scaled to 0..1{', channels averaged' if image.shape[-1] > 1 else ''}) "
             f"and filter {r} of {convs[0].name}{', summed over its input channels' if image.shape[-1] > 1 else ''}, "
             "the one whose peak stands out most from its typical response (before bias, stride and activation).",
             lambda: plot_correlation(grey, kernel[:, :, r]))
    index = os.path.join(directory, "index.html")
    page = _page(title or f"faltung report: {model.name}", model, settings or {}, metrics, pictures, directory)
    temporary = index + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(temporary, index)  # a reader never sees half a page
    return index


def _value(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"  # 0.9123, 1.994, 0.001, 13.3
    return str(value)


def _table(rows: Mapping[str, Any]) -> str:
    if not rows:
        return "<p>(none)</p>"
    body = "\n".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_value(v))}</td></tr>"
                     for k, v in rows.items())
    return f"<table>\n{body}\n</table>"


def _png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as f:
        header = f.read(24)
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _page(title: str, model: Any, settings: Mapping[str, Any], metrics: Mapping[str, Any],
          pictures: list[tuple[str, str, str]], directory: str) -> str:
    from .. import __version__
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    figures = []
    for name, heading, caption in pictures:
        width, height = _png_size(os.path.join(directory, name))
        anchor = os.path.splitext(name)[0]
        figures.append(
            f'<section id="{html.escape(anchor)}">\n<h3>{html.escape(heading)}</h3>\n<figure>\n'
            f'<img src="{html.escape(name)}" width="{width}" height="{height}" alt="{html.escape(heading)}">\n'
            f"<figcaption>{html.escape(caption)}</figcaption>\n</figure>\n</section>")
    contents = "\n".join(f'<li><a href="#{html.escape(os.path.splitext(n)[0])}">{html.escape(h)}</a></li>'
                         for n, h, _ in pictures)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
th, td {{ text-align: left; padding: 0.2em 1em 0.2em 0; border-bottom: 1px solid #ddd; }}
th {{ font-weight: 600; }}
img {{ max-width: 100%; height: auto; border: 1px solid #eee; }}
figure {{ margin: 0 0 2em 0; }}
figcaption {{ color: #555; font-size: 0.9em; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Written by faltung {html.escape(__version__)} on {when}.</p>
<h2>Settings</h2>
{_table(settings)}
<h2>Final metrics</h2>
{_table(metrics)}
<h2>Pictures</h2>
<ul>
{contents}
</ul>
{chr(10).join(figures)}
<h2>Model</h2>
<pre>{html.escape(chr(10).join(lines))}</pre>
</body>
</html>
"""
