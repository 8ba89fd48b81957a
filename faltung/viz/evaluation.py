"""How a classifier does on test images: the confusion matrix, and a grid of images with predicted
and true labels (wrong ones marked)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._draw import display_image, draw_matrix, panel_grid
from ._figure import DEFAULT_DPI, finish, new_figure

WRONG = "#d62728"
RIGHT = "#2ca02c"


def predicted_labels(probabilities: np.ndarray) -> np.ndarray:
    """(N,) class indices from a model's outputs: (N, K) scores -> argmax; (N,) or (N, 1) -> > 0.5."""
    p = np.asarray(probabilities)
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1)
    if p.ndim in (1, 2):
        return (p.reshape(-1) > 0.5).astype(np.int64)
    raise ValueError(f"model outputs must be (N, classes) or (N,); got shape {p.shape}")


def true_labels(y: Any, n: int) -> np.ndarray:
    """(N,) class indices from integer labels (N,) / (N, 1) or one-hot (N, K)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"y must hold one label per image: {n} images; got {y.shape[0]} labels")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError("y must be integer class labels or one-hot rows; got fractional values")
    return y.astype(np.int64)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def _names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(k) for k in range(num_classes)]
    names = [str(n) for n in class_names]
    if len(names) < num_classes:
        raise ValueError(f"class_names has {len(names)} names; the labels and predictions need {num_classes}")
    return names


def _predict(model: Any, x: Any, probabilities: Any, batch_size: int) -> np.ndarray:
    if probabilities is None:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    probabilities = np.asarray(probabilities)
    if probabilities.shape[0] != len(x):
        raise ValueError(f"probabilities must have one row per image: {len(x)} images; "
                         f"got shape {probabilities.shape}")
    return probabilities


def plot_confusion_matrix(model: Any, x: Any, y: Any, class_names: Sequence[str] | None = None,
                          normalize: bool = False, probabilities: Any = None, batch_size: int = 256,
                          path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Draw the confusion matrix of ``model`` on images ``x`` (N, H, W, C) with labels ``y`` (N,).

    Rows are true classes, columns predicted ones; counts are written in the cells (as fractions
    of each true class with ``normalize``) when there are at most 20 classes. ``probabilities``
    (N, K) reuses outputs already computed by ``model.predict(x)``. Axes: the matrix and its
    colour bar. Returns the Figure; saves it to ``path`` if given.
    """
    outputs = _predict(model, x, probabilities, batch_size)
    pred = predicted_labels(outputs)
    true = true_labels(y, len(pred))
    k = max(outputs.shape[1] if outputs.ndim == 2 and outputs.shape[1] > 1 else 2,
            int(true.max()) + 1, int(pred.max()) + 1)
    names = _names(class_names, k)[:k]
    matrix = confusion_matrix(true, pred, k)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    # Margins in inches: room for the longest class name on the left and (rotated) below.
    cell = 0.45 if k <= 20 else max(0.12, 9.0 / k)
    label = 0.4 + 0.065 * max(len(name) for name in names)
    left, bottom, top, right = label, 0.6 + 0.55 * label, 0.45, 1.0
    side = cell * k
    width, height = left + side + right, bottom + side + top
    fig = new_figure(width, height)
    ax = fig.add_axes((left / width, bottom / height, side / width, side / height))
    image = draw_matrix(ax, shown, annotate=k <= 20, cmap="Blues", fontsize=7 if k > 10 else 8)
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted class", fontsize=9)
    ax.set_ylabel("true class", fontsize=9)
    accuracy = float(np.trace(matrix)) / max(int(matrix.sum()), 1)
    ax.set_title(f"confusion matrix: {matrix.sum()} images, accuracy {accuracy:.3f}", fontsize=10)
    bar = fig.add_axes(((left + side + 0.2) / width, bottom / height, 0.15 / width, side / height))
    fig.colorbar(image, cax=bar).ax.tick_params(labelsize=7)
    return finish(fig, path, dpi)


def plot_predictions(model: Any, x: Any, y: Any, class_names: Sequence[str] | None = None, n: int = 16,
                     columns: int = 8, probabilities: Any = None, batch_size: int = 256, path: Any = None,
                     dpi: int = DEFAULT_DPI) -> Any:
    """Draw the first ``n`` images of ``x`` (N, H, W, C) with the predicted label, its probability
    and the true label; a wrong prediction gets a red frame and title, a right one a green title.

    Axes: one per image drawn (min(n, N)). Returns the Figure; saves it to ``path`` if given.
    """
    x = np.asarray(x)
    count = min(int(n), len(x))
    if count < 1:
        raise ValueError(f"plot_predictions needs at least one image; got n={n} and {len(x)} images")
    outputs = _predict(model, x[:count], None if probabilities is None else np.asarray(probabilities)[:count],
                       batch_size)
    pred = predicted_labels(outputs)
    true = true_labels(np.asarray(y)[:count], count)
    names = _names(class_names, max(int(true.max()), int(pred.max())) + 1)
    cols = min(columns, count)
    rows = -(-count // cols)
    width, height = 1.45 * cols, 1.75 * rows + 0.6
    fig = new_figure(width, height)
    fig.subplots_adjust(left=0.1 / width, right=1 - 0.1 / width, bottom=0.05 / height,
                        top=1 - 0.7 / height, wspace=0.1, hspace=0.75)
    wrong = 0
    for k, ax in enumerate(panel_grid(fig, count, cols)):
        pixels, style = display_image(x[k])
        ax.imshow(pixels, interpolation="nearest", **style)
        ok = pred[k] == true[k]
        wrong += not ok
        confidence = f" {outputs[k, pred[k]]:.0%}" if outputs.ndim == 2 and outputs.shape[1] > 1 else ""
        title = f"{names[pred[k]]}{confidence}" if ok else f"✗ {names[pred[k]]}{confidence}\ntrue: {names[true[k]]}"
        ax.set_title(title, fontsize=6.5, color=RIGHT if ok else WRONG)
        if not ok:
            for spine in ax.spines.values():
                spine.set_edgecolor(WRONG)
                spine.set_linewidth(2.5)
    fig.suptitle(f"predicted (true when wrong): {count - wrong} of {count} right", fontsize=10)
    return finish(fig, path, dpi)
