"""``faltung train --report DIR``: the run's pictures and an index.html, written after training."""
from __future__ import annotations

import argparse
import importlib.util
import math
import os

from .paths import check_output_folder


def report_dir(text: str) -> str:
    """``--report DIR``, checked before any training: matplotlib is there and DIR is, or can be made, a
    folder that takes files."""
    if importlib.util.find_spec("matplotlib") is None:
        raise argparse.ArgumentTypeError("the report's pictures need matplotlib: pip install 'faltung[plot]'")
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a file; the report needs a folder")
    try:
        return check_output_folder(text, "the report folder")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def split_sizes(n: int, validation_split: float) -> tuple[int, int]:
    """(training, validation) image counts of ``n`` that ``fit(validation_split=...)`` uses: Keras'
    split point, floor(n * (1 - split))."""
    if not validation_split:
        return n, 0
    trained = int(math.floor(n * (1.0 - validation_split)))
    return trained, n - trained


def write_training_report(args, model, data, history_csv: str, out: str, loss: float, accuracy: float,
                          seconds: float) -> str:
    """Write the report of a finished ``faltung train`` run into ``args.report``; return index.html's path."""
    from ..viz._figure import use_agg
    use_agg()
    from ..viz import write_report
    trained, validated = split_sizes(len(data.x_train), args.validation_split)
    settings = {
        "dataset": data.name, "model": args.model, "epochs": model.metadata.get("epochs_trained", args.epochs),
        "batch size": args.batch_size, "optimizer": type(model.optimizer).__name__,
        "learning rate": _number_or_text(model.optimizer.learning_rate), "validation split": args.validation_split,
        "training images": trained, "validation images": validated, "test images": len(data.x_test),
        "seed": args.seed,
        "parameters": f"{model.count_params():,}", "saved model": os.path.abspath(out),
        "history CSV": os.path.abspath(history_csv), "resumed from": args.resume or "-",
    }
    metrics = {"test loss": loss, "test accuracy": accuracy, "training time (s)": round(seconds, 1)}
    names = model.metadata.get("class_names") or data.class_names
    return write_report(args.report, model, data.x_test, data.y_test, names,
                        history=history_csv if os.path.isfile(history_csv) else None, settings=settings,
                        metrics=metrics, title=f"faltung report: {args.model} on {data.name}")


def _number_or_text(value):
    try:
        return float(value)
    except (TypeError, ValueError):  # a schedule object: show what it is
        return type(value).__name__
