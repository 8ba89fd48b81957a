"""``faltung evaluate``, ``faltung predict`` and ``faltung summary``: use a saved model."""
from __future__ import annotations

import os

import numpy as np

from .arguments import MAX_BATCH_SIZE, IntRange


def add_commands(commands) -> None:
    p = commands.add_parser("evaluate", help="loss and accuracy of a saved model on a test split",
                            description="Evaluate a saved model on a dataset's test split.")
    p.add_argument("model", help="a saved .faltung model")
    p.add_argument("--dataset", default=None, metavar="NAME|DIR",
                   help="dataset to evaluate on (default: the one the model was trained on)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--batch-size", type=IntRange(1, MAX_BATCH_SIZE), default=256,
                   help=f"default: 256, at most {MAX_BATCH_SIZE}")
    p.set_defaults(run=evaluate)

    p = commands.add_parser("predict", help="classify image files with a saved model",
                            description="Print the predicted class and its probability for each image "
                                        "(PNG/JPEG through Pillow, or .npy arrays).")
    p.add_argument("model", help="a saved .faltung model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--invert", action="store_true",
                   help="invert grey levels (dark drawing on light paper, for MNIST-style models)")
    p.set_defaults(run=predict)

    p = commands.add_parser("summary", help="print a saved model's layers and parameter counts",
                            description="Print a saved model's layers, output shapes and parameter counts.")
    p.add_argument("model", help="a saved .faltung model")
    p.set_defaults(run=summary)


def _load(path: str):
    from ..models import load_model
    return load_model(path)


def evaluate(args) -> int:
    from .data import load
    model = _load(args.model)
    name = args.dataset or model.metadata.get("dataset")
    if not name:
        raise ValueError(f"{args.model} does not record its dataset; name one with --dataset")
    if not model.compiled:
        raise ValueError(f"{args.model} was saved without compile settings; it has no loss to evaluate")
    data = load(name, args.data_dir, image_size=model.input_shape[1],
                color_mode="grayscale" if model.input_shape[-1] == 1 else "rgb")
    results = model.evaluate(data.x_test, data.y_test, batch_size=args.batch_size, verbose=0, return_dict=True)
    print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
    return 0


def read_image(path: str, shape: tuple) -> np.ndarray:
    """An image file as a float32 (H, W, C) array of the model's input ``shape``, values 0..255.

    Decoded and resized exactly as ``image_dataset_from_directory`` reads a training image
    (16-bit scaled to 8, bilinear resize), so a model sees a file as it saw its training set.
    A .npy array is taken as it is and must have the shape already.
    """
    height, width, channels = shape
    if path.endswith(".npy"):
        array = np.load(path, allow_pickle=False)
        array = array[..., None] if array.ndim == 2 else array
        if array.shape != (height, width, channels):
            raise ValueError(f"{path}: array of shape {array.shape}; the model takes {(height, width, channels)}")
        return array
    from ..datasets.decode import color_mode_for, decode_image
    from ..datasets.resize import resize
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    return resize(decode_image(path, color_mode_for(channels)), (height, width))


def predict(args) -> int:
    model = _load(args.model)
    names = model.metadata.get("class_names")
    images = np.stack([read_image(p, tuple(model.input_shape[1:])) for p in args.images])
    if args.invert:
        images = 255 - images
    probabilities = model.predict(images, verbose=0)
    for path, p in zip(args.images, probabilities):
        best = int(np.argmax(p))
        label = names[best] if names and best < len(names) else str(best)
        print(f"{path}: {label} ({100 * p[best]:.1f}%)")
    return 0


def summary(args) -> int:
    _load(args.model).summary()
    return 0
