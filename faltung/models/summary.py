"""``model.summary()``: a table of layers, output shapes and parameter counts, with Keras' totals."""
from __future__ import annotations

from typing import Callable


def _size(count: int, itemsize: int) -> str:
    size = float(count * itemsize)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return ""


def _shape(shape) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def summary_lines(model) -> list[str]:
    """The lines ``summary()`` prints (layer, output shape, parameter count; inputs for graphs)."""
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet, so its shapes are unknown: give it an "
                         "Input first, call build(input_shape), or call it on a batch of data")
    from .sequential import Sequential
    # a functional model's layers can branch and join: Keras shows where each one's inputs come from
    graph = None if isinstance(model, Sequential) else getattr(model, "_graph", None)
    rows = []
    for layer in model.layers:
        row = [f"{layer.name} ({type(layer).__name__})", _shape(layer.output_shape),
               f"{layer.count_params():,}"]
        if graph is not None:
            inbound = sorted({p.layer.name for t in graph[2] if t.layer is layer for p in t.parents})
            row.append(", ".join(inbound) or "-")
        rows.append(row)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if graph is not None else [])
    widths = [max(len(r[i]) for r in rows + [header]) + 3 for i in range(len(header))]
    line_length = sum(widths)

    def fmt(row):
        return "".join(cell.ljust(w) if i != 2 else cell.rjust(w - 3) + "   " for i, (cell, w) in
                       enumerate(zip(row, widths))).rstrip()

    itemsize = model.dtype.itemsize
    trainable = sum(w.data.size for w in model.trainable_weights)
    non_trainable = sum(w.data.size for w in model.non_trainable_weights)
    lines = [f'Model: "{model.name}"', "_" * line_length, fmt(header), "=" * line_length]
    for i, row in enumerate(rows):
        lines.append(fmt(row))
        lines.append("_" * line_length if i < len(rows) - 1 else "=" * line_length)
    lines += [f"Total params: {trainable + non_trainable:,} ({_size(trainable + non_trainable, itemsize)})",
              f"Trainable params: {trainable:,} ({_size(trainable, itemsize)})",
              f"Non-trainable params: {non_trainable:,} ({_size(non_trainable, itemsize)})",
              "_" * line_length]
    return lines


def print_summary(model, print_fn: Callable[[str], None] | None = None) -> None:
    for line in summary_lines(model):
        (print_fn or print)(line)
