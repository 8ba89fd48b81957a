"""Training curves: loss and every metric per epoch, training and validation, from a History,
its dict, or the CSV that ``CSVLogger`` (and ``faltung train``) writes."""
from __future__ import annotations

import csv
import math
import os
from typing import Any

import numpy as np

from ._draw import grid_shape
from ._figure import DEFAULT_DPI, finish, new_figure

NOT_PLOTTED = ("epoch", "learning_rate", "lr")  # bookkeeping, not a measure of the model


def read_history(history: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(epochs, values)``: epochs counted from 1 (as fit's progress prints them), and each logged
    quantity as a float array (NA / missing cells are NaN).

    ``history``: a ``History`` (``fit``'s return value), its ``.history`` dict, or the path of a
    CSVLogger file (header ``epoch,<keys>``, epochs counted from 0).
    """
    if isinstance(history, (str, os.PathLike)):
        return _read_csv(os.fspath(history))
    if hasattr(history, "history") and isinstance(history.history, dict):
        logs, epochs = history.history, list(getattr(history, "epoch", []) or [])
    elif isinstance(history, dict):
        logs, epochs = history, []
    else:
        raise ValueError(f"history must be a History, a dict of lists or a CSV path; got {type(history).__name__}")
    if not logs:
        raise ValueError("the history is empty: no epoch was recorded")
    lengths = {k: len(v) for k, v in logs.items()}
    n = max(lengths.values())
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every quantity in a history needs one value per epoch; got lengths {lengths}")
    values = {k: np.asarray([_number(x) for x in v], dtype=float) for k, v in logs.items()}
    first = np.asarray(epochs[:n] if len(epochs) >= n else range(n), dtype=float)
    return first + 1, values


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _read_csv(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such history file (faltung train writes <out>.history.csv)")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0] or rows[0][0] != "epoch":
        raise ValueError(f"{path}: not a CSVLogger history: the header must start with 'epoch'; "
                         f"got {rows[0][:4] if rows else 'an empty file'}")
    header, body = rows[0], [r for r in rows[1:] if r]
    if not body:
        raise ValueError(f"{path}: the history has a header but no epochs")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {number}: {len(row)} fields; the header has {len(header)}")
    columns = {name: np.asarray([_number(r[i]) for r in body]) for i, name in enumerate(header)}
    return columns.pop("epoch") + 1, columns


def plot_history(history: Any, columns: int = 3, path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Draw loss and every metric per epoch, training (solid) and validation (dashed) on one axis each.

    ``history``: a ``History``, its ``.history`` dict or a CSVLogger CSV path. The learning rate
    is left out. Axes: one per quantity (``loss``, ``accuracy``, ...), at most ``columns`` per row,
    loss first. Returns the Figure; saves it to ``path`` if given.
    """
    epochs, values = read_history(history)
    names = []
    for key in values:
        base = key[4:] if key.startswith("val_") else key
        if base not in NOT_PLOTTED and base not in names:
            names.append(base)
    names.sort(key=lambda name: (name != "loss", name))
    if not names:
        raise ValueError(f"the history has no loss or metric to plot; its keys are {list(values)}")
    rows, cols = grid_shape(len(names), columns)
    width, height = 3.6 * cols, 2.8 * rows + 0.2
    fig = new_figure(width, height)
    fig.subplots_adjust(left=0.55 / width, right=1 - 0.15 / width, bottom=0.55 / height, top=1 - 0.35 / height,
                        wspace=0.3, hspace=0.5)
    for k, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, k + 1)
        for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "--")):
            if key in values and not np.all(np.isnan(values[key])):
                ax.plot(epochs, values[key], style, marker="o", markersize=3, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if len(epochs) <= 12:  # whole epochs only; matplotlib would otherwise tick 1.5, 2.5, ...
            ax.set_xticks(epochs)
        ax.legend(fontsize=8)
    return finish(fig, path, dpi)
