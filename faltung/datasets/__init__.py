"""Datasets like ``keras.datasets``, as NumPy arrays: MNIST, Fashion-MNIST, CIFAR-10, image folders, synthetic shapes.

>>> from faltung import datasets
>>> (x_train, y_train), (x_test, y_test) = datasets.shapes.load_data(n_train=50, n_test=10)
>>> x_train.shape, datasets.class_names("shapes")[0]
((50, 28, 28), 'vertical line')

Files are looked for in ``path=``, ``$FALTUNG_DATA/<name>``, ``$FALTUNG_DATA``, the user
cache ``~/.cache/faltung/<name>`` and system folders (Debian's ``dataset-fashion-mnist``),
then downloaded (SHA-256 checked) into the cache. Nothing heavy is imported here: Pillow
only when image folders are read.
"""
from __future__ import annotations

from . import cifar10, fashion_mnist, mnist, shapes
from .idx import read_idx, write_idx
from .image_folder import ImageDataset, image_dataset_from_directory
from .sources import DatasetNotFoundError

_MODULES = {"mnist": mnist, "fashion-mnist": fashion_mnist, "cifar10": cifar10, "shapes": shapes}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10",
            "cifar_10": "cifar10"}


def _module(name: str):
    key = name.lower() if isinstance(name, str) else name
    key = _ALIASES.get(key, key)
    if key not in _MODULES:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(_MODULES)} "
                         f"(also spelled {sorted(_ALIASES)})")
    return _MODULES[key]


def load(name: str, path=None, **kwargs):
    """``datasets.load("fashion-mnist")`` is ``fashion_mnist.load_data()``: ``((x_train, y_train), (x_test, y_test))``.

    Names: "mnist", "fashion-mnist" (or "fashion_mnist"), "cifar10", "shapes". ``path`` and other
    keyword arguments go to that ``load_data`` (shapes has no files, so no ``path``).
    """
    module = _module(name)
    if module is shapes:
        if path is not None:
            raise ValueError("the shapes dataset is generated, it has no files: path must be None")
        return shapes.load_data(**kwargs)
    return module.load_data(path, **kwargs)


def class_names(name: str) -> list[str]:
    """The class names of dataset ``name``, index = label."""
    return list(_module(name).CLASS_NAMES)


__all__ = ["mnist", "fashion_mnist", "cifar10", "shapes", "image_dataset_from_directory", "ImageDataset",
           "read_idx", "write_idx", "load", "class_names", "DatasetNotFoundError"]
