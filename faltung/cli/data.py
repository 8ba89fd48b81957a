"""Loading a dataset for the command line: a built-in name or a folder of images, as NHWC arrays."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

DATASETS = ("fashion-mnist", "mnist", "cifar10", "shapes")


@dataclass
class Data:
    """Train and test splits as (N, H, W, C) images and (N,) integer labels, with the class names."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def _images(x: np.ndarray) -> np.ndarray:
    return x[..., None] if x.ndim == 3 else x


def dataset_name(name: str) -> str:
    """The short name of a dataset argument: a built-in name as given, or a folder's own name."""
    return name if name in DATASETS else os.path.basename(os.path.normpath(name))


def load(name: str, data_dir: str | None = None, image_size: int = 28, color_mode: str = "grayscale",
         seed: int = 0) -> Data:
    """``name`` is one of DATASETS, or a folder with one sub-folder of images per class
    (then 20 % of it, chosen with ``seed``, is the test split)."""
    from .. import datasets
    if name in DATASETS:
        (x_train, y_train), (x_test, y_test) = datasets.load(name, path=data_dir)
        return Data(name, _images(x_train), y_train.reshape(-1), _images(x_test), y_test.reshape(-1),
                    list(datasets.class_names(name)))
    if os.path.isdir(name):
        train, test = datasets.image_dataset_from_directory(
            name, image_size=(image_size, image_size), color_mode=color_mode, validation_split=0.2,
            subset="both", seed=seed, shuffle=True)
        (x_train, y_train), (x_test, y_test) = train.numpy(), test.numpy()
        return Data(dataset_name(name), x_train, y_train, x_test, y_test,
                    list(train.class_names))
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)} or a folder of class folders; got {name!r}")
