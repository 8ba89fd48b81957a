"""Keras' file formats, in and out: Keras 3's ``.keras`` and ``.weights.h5``, TF 2 Keras' legacy ``.h5``.

``faltung.io`` hands a file here when its name or its first bytes say it is Keras'; ``.faltung`` (and
any other name) stays faltung's own format. Reading is as safe as faltung's own files: nothing
is imported or run, Lambda layers and custom objects are refused by name, every size is
checked before memory is spent (see ``reader``). Writing produces files Keras 3 loads
(see ``writer``). Needs h5py (``pip install "faltung[keras]"``), imported on first use.
"""
from __future__ import annotations

import os
import zipfile

from . import h5

KERAS_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"
LEGACY_SUFFIXES = (".h5", ".hdf5")


def _name(path) -> str:
    return os.fspath(path).lower()


def writes_model(path) -> bool:
    """Whether ``model.save(path)`` writes Keras' format: the name ends in ``.keras``. A name Keras
    gives its legacy or weights formats is refused rather than filled with another format."""
    name = _name(path)
    if name.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"cannot save a whole model to {os.fspath(path)!r}: a .weights.h5 name is for "
                         "model.save_weights; use .keras (Keras 3) or .faltung (faltung's own format)")
    if name.endswith(LEGACY_SUFFIXES):
        raise ValueError(f"cannot save to {os.fspath(path)!r}: faltung reads legacy Keras .h5 files but does not "
                         "write them; use .keras (Keras 3 loads it) or .faltung (faltung's own format)")
    return name.endswith(KERAS_SUFFIX)


def writes_weights(path) -> bool:
    """Whether ``model.save_weights(path)`` writes Keras' ``.weights.h5``; other Keras names are refused."""
    name = _name(path)
    if name.endswith(KERAS_SUFFIX) or (name.endswith(LEGACY_SUFFIXES) and not name.endswith(WEIGHTS_SUFFIX)):
        raise ValueError(f"cannot save weights to {os.fspath(path)!r}: Keras 3 names weights files .weights.h5 "
                         "(use model.save for a whole .keras model); other names get faltung's own format")
    return name.endswith(WEIGHTS_SUFFIX)


def is_keras_file(path) -> bool:
    """Whether the file at ``path`` is Keras': HDF5, or a zip without faltung's ``weights.npz``
    (Keras 3 zips hold ``model.weights.h5``). False if it cannot be read: faltung's own reader
    then says why."""
    if h5.is_hdf5(path):
        return True
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except Exception:  # not a zip, or unreadable: not ours to judge
        return False
    return "weights.npz" not in names and ("model.weights.h5" in names or "metadata.json" in names)


def load_model(path, compile: bool = True):
    """The model in a ``.keras`` or legacy ``.h5`` file (see ``reader.load_model``)."""
    from .reader import load_model
    return load_model(path, compile=compile)


def load_weights(model, path) -> None:
    """Fill a built model's weights from a Keras file (see ``reader.load_weights``)."""
    from .reader import load_weights
    load_weights(model, path)


def save_model(model, path, include_optimizer: bool = True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` file (see ``writer.save_model``)."""
    from .writer import save_model
    save_model(model, path, include_optimizer=include_optimizer)


def save_weights(model, path) -> None:
    """Write ``model``'s weights as Keras 3's ``.weights.h5`` (see ``writer.save_weights``)."""
    from .writer import save_weights
    save_weights(model, path)
