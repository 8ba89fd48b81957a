"""``faltung show ...``: pictures as PNG files: cross-correlation, learned filters, feature maps,
training history, confusion matrix and predictions (matplotlib, drawn off-screen)."""
from __future__ import annotations

import argparse
import os

import numpy as np

from .arguments import MAX_DPI, MAX_PANELS, MAX_PICTURE_PIXELS, IntRange, positive_int

FILTER_NAMES = ("vertical-edge", "horizontal-edge", "corner", "sobel-x", "sobel-y", "laplace")


def add_commands(commands) -> None:
    show = commands.add_parser(
        "show", help="draw pictures of a model or a run as PNG files",
        description="Draw what a CNN computes and learns, as PNG files (needs matplotlib: "
                    "pip install 'faltung[plot]'). Each picture has a default file name; --out chooses another.")
    pictures = show.add_subparsers(dest="picture", metavar="PICTURE", required=True)

    p = _picture(pictures, "correlation", "the lecture's cross-correlation: image, filter and output",
                 "Draw image B, filter A and their cross-correlation C = A * B side by side, with values in the "
                 "cells when they fit. Without IMAGE: the lecture's 12x12 image and its corner filter.",
                 "correlation.png")
    p.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                   help="a 2-D .npy array or a PNG/JPEG (read as grey, 0..1) (default: the lecture's image)")
    p.add_argument("--filter", default="corner", type=_filter_name, metavar="|".join(FILTER_NAMES) + "|FILE.npy",
                   help="the filter A (default: corner, the lecture's 5x5 lower-left corner)")
    values = p.add_mutually_exclusive_group()
    values.add_argument("--values", dest="annotate", action="store_const", const=True, default=None,
                        help="write the values in the cells (default: when at most 16x16)")
    values.add_argument("--no-values", dest="annotate", action="store_const", const=False)
    p.set_defaults(run=correlation)

    p = _picture(pictures, "filters", "the learned kernels of a Conv2D layer",
                 "Draw the kernels of a Conv2D layer of a saved model as a grid of patches.",
                 "<model>-filters.png")
    p.add_argument("model", help="a saved .faltung model")
    p.add_argument("--layer", default=None, help="the Conv2D layer's name (default: the first Conv2D)")
    p.add_argument("--mode", choices=("auto", "rgb", "grey", "sum", "channels"), default="auto",
                   help="rgb/grey patches, summed over input channels, or one per input channel (default: auto)")
    p.add_argument("--max-filters", type=IntRange(1, MAX_PANELS), default=64, metavar="N",
                   help=f"default: 64, at most {MAX_PANELS}")
    p.set_defaults(run=filters)

    p = _picture(pictures, "maps", "the feature maps of each conv and pooling layer for one image",
                 "Draw what each Conv2D and pooling layer of a saved model outputs for one image: a file, or "
                 "without IMAGE a test image of the model's dataset.", "<model>-maps.png")
    p.add_argument("model", help="a saved .faltung model")
    p.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                   help="PNG/JPEG (Pillow) or .npy of the model's input shape (default: test image --index)")
    p.add_argument("--index", type=int, default=0, help="which test image, without IMAGE (default: 0)")
    _dataset_arguments(p)
    p.add_argument("--invert", action="store_true", help="invert grey levels of an image file")
    p.add_argument("--layers", default=None, metavar="NAME,NAME",
                   help="comma-separated layer names (default: every conv and pooling layer)")
    p.add_argument("--max-maps", type=IntRange(1, MAX_PANELS), default=32, metavar="N",
                   help=f"channels drawn per layer (default: 32, at most {MAX_PANELS})")
    p.set_defaults(run=maps)

    p = _picture(pictures, "history", "loss and metrics per epoch from a history CSV",
                 "Draw loss and every metric per epoch, training and validation, from the CSV that "
                 "faltung train (or CSVLogger) writes.", "<run>-history.png")
    p.add_argument("csv", metavar="RUN.csv", help="a history CSV, e.g. lenet-fashion-mnist.history.csv")
    p.set_defaults(run=history)

    p = _picture(pictures, "confusion", "the confusion matrix on a test split",
                 "Draw the confusion matrix of a saved model on a dataset's test split.", "<model>-confusion.png")
    p.add_argument("model", help="a saved .faltung model")
    _dataset_arguments(p)
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="the first N test images only")
    p.add_argument("--normalize", action="store_true", help="fractions of each true class instead of counts")
    p.set_defaults(run=confusion)

    p = _picture(pictures, "predictions", "test images with predicted and true labels",
                 "Draw test images with the model's predicted label and the true one; wrong ones are marked.",
                 "<model>-predictions.png")
    p.add_argument("model", help="a saved .faltung model")
    _dataset_arguments(p)
    p.add_argument("-n", type=IntRange(1, MAX_PANELS), default=16,
                   help=f"how many images (default: 16, at most {MAX_PANELS})")
    p.add_argument("--start", type=int, default=0, help="first test image (default: 0)")
    p.set_defaults(run=predictions)


def _picture(pictures, name: str, help: str, description: str, default_out: str) -> argparse.ArgumentParser:
    p = pictures.add_parser(name, help=help, description=description)
    p.add_argument("--out", default=None, metavar="FILE.png",
                   help=f"where to write the picture (.png or .svg; default: {default_out})")
    p.add_argument("--dpi", type=IntRange(1, MAX_DPI), default=100,
                   help=f"pixels per inch (default: 100, at most {MAX_DPI})")
    return p


def _dataset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, metavar="NAME|DIR",
                   help="dataset whose test split to use (default: the one the model was trained on)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")


def _filter_name(text: str) -> str:
    if text in FILTER_NAMES or text.endswith(".npy"):
        return text
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(FILTER_NAMES)} or a FILE.npy; got {text!r}")


def stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".history.csv", ".csv", ".faltung"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return os.path.splitext(name)[0]


def _write(fig, args, default: str) -> int:
    from ..viz._figure import close, finish, pixel_size
    out = args.out or default
    width, height = pixel_size(fig, args.dpi)
    if width * height > MAX_PICTURE_PIXELS:  # a big image or many panels at a high --dpi: refuse, don't thrash
        close(fig)
        raise ValueError(f"the picture would be {width}x{height} pixels at --dpi {args.dpi}, more than "
                         f"{MAX_PICTURE_PIXELS // 1_000_000} million; choose a lower --dpi")
    try:
        finish(fig, out, args.dpi)
        width, height = pixel_size(fig, args.dpi)
    finally:
        close(fig)
    print(f"wrote {out} ({width}x{height} px)")
    return 0


def _viz():
    from ..viz._figure import use_agg
    use_agg()  # files only: never open a window, whatever display there is
    from .. import viz
    return viz


def load_saved_model(path: str):
    from ..models import load_model
    return load_model(path)


def held_out_split(args, model):
    """The test images and labels of the model's dataset (or --dataset), with its class names."""
    from .data import load
    name = args.dataset or model.metadata.get("dataset")
    if not name:
        raise ValueError(f"{args.model} does not record its dataset; name one with --dataset")
    shape = model.input_shape
    data = load(name, args.data_dir, image_size=shape[1], color_mode="grayscale" if shape[-1] == 1 else "rgb")
    names = model.metadata.get("class_names") or data.class_names
    return data.x_test, data.y_test, names


def _read_matrix(path: str, what: str) -> np.ndarray:
    """A 2-D float matrix from .npy, or a grey image file scaled to 0..1 (decoded as the image-folder
    loader decodes, so 16-bit files are scaled, not clipped)."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if path.endswith(".npy"):
        array = np.load(path, allow_pickle=False)
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim != 2 or array.dtype.kind not in "fiub":
            raise ValueError(f"{path}: the {what} must be a 2-D array of numbers; got shape {array.shape}, "
                             f"dtype {array.dtype}")
        return array.astype(float)
    from ..datasets.decode import decode_image
    return decode_image(path, "grayscale")[..., 0].astype(float) / 255.0


def correlation(args) -> int:
    viz = _viz()
    from .. import lecture
    image = lecture.IMAGE if args.image is None else _read_matrix(args.image, "image")
    if args.filter.endswith(".npy"):
        kernel = _read_matrix(args.filter, "filter")
    else:
        kernel = viz.named_filter(args.filter)
    fig = viz.plot_correlation(image, kernel, annotate=args.annotate)
    return _write(fig, args, "correlation.png")


def filters(args) -> int:
    viz = _viz()
    model = load_saved_model(args.model)
    fig = viz.plot_filters(model, args.layer, mode=args.mode, max_filters=args.max_filters)
    return _write(fig, args, f"{stem(args.model)}-filters.png")


def maps(args) -> int:
    viz = _viz()
    model = load_saved_model(args.model)
    if args.image is not None:
        from .inspect import read_image
        image = read_image(args.image, tuple(model.input_shape[1:]))
        if args.invert:
            image = 255 - image
    else:
        x_test, _, _ = held_out_split(args, model)
        if not 0 <= args.index < len(x_test):
            raise ValueError(f"--index must be within the {len(x_test)} test images; got {args.index}")
        image = x_test[args.index]
    layers = None if args.layers is None else [name.strip() for name in args.layers.split(",") if name.strip()]
    fig = viz.plot_feature_maps(model, image, layers=layers, max_maps=args.max_maps)
    return _write(fig, args, f"{stem(args.model)}-maps.png")


def history(args) -> int:
    viz = _viz()
    fig = viz.plot_history(args.csv)
    return _write(fig, args, f"{stem(args.csv)}-history.png")


def confusion(args) -> int:
    viz = _viz()
    model = load_saved_model(args.model)
    x, y, names = held_out_split(args, model)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    fig = viz.plot_confusion_matrix(model, x, y, names, normalize=args.normalize)
    return _write(fig, args, f"{stem(args.model)}-confusion.png")


def predictions(args) -> int:
    viz = _viz()
    model = load_saved_model(args.model)
    x, y, names = held_out_split(args, model)
    if not 0 <= args.start < len(x):
        raise ValueError(f"--start must be within the {len(x)} test images; got {args.start}")
    fig = viz.plot_predictions(model, x[args.start:], y[args.start:], names, n=args.n)
    return _write(fig, args, f"{stem(args.model)}-predictions.png")
