"""Saving and loading models in faltung's own file format (``faltung.io``): architecture, weights,
compile settings and optimizer state, so training resumes exactly where it stopped; Keras' formats
(``.keras``, ``.weights.h5``, legacy ``.h5``) go through ``keras_format``.

Classes are looked up by name in faltung's registry and built with placeholder weights that
cost no memory, and every weight's shape is compared with the file's array headers before any
array is read: loading runs no code from the file and spends memory only on what fits.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import backend, losses, metrics, optimizers
from ..version import __version__
from ..io import FORMAT, FORMAT_VERSION, WEIGHTS_FORMAT, ModelFile, npz_bytes, open_model_file, write_archive
from . import keras_format
from .from_config import build_unallocated, rng_untouched


def weight_arrays(model) -> dict[str, np.ndarray]:
    # Keyed by position and the weight's own name ("0003:bias"), not the layer's name: layer names
    # differ between two instances of one architecture (dense, dense_1, ...), positions do not.
    return {f"{i:04d}:{w.name.rsplit('/', 1)[-1]}": w.data for i, w in enumerate(model.weights)}


def save_model(model, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to one zip file."""
    if keras_format.writes_model(path):  # a ".keras" name: Keras 3's layout
        return keras_format.save_model(model, path, include_optimizer=include_optimizer)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "faltung_version": __version__,
                "class_name": type(model).__name__, "config": model.get_config(),
                "compile_config": None, "metadata": getattr(model, "metadata", {})}
    files = {"weights.npz": npz_bytes(weight_arrays(model))}
    if model.compiled and include_optimizer:
        document["compile_config"] = {**model._compile_config, "optimizer": optimizers.serialize(model.optimizer)}
        files["optimizer.npz"] = npz_bytes(model.optimizer.get_state(model.trainable_weights))
    files["config.json"] = json.dumps(document, indent=1).encode()
    write_archive(path, files)


def save_weights(model, path: str | os.PathLike) -> None:
    """Write only the weights (in ``model.weights`` order) to a zip file."""
    if keras_format.writes_weights(path):  # a ".weights.h5" name: Keras 3's layout
        return keras_format.save_weights(model, path)
    manifest = {"format": WEIGHTS_FORMAT, "format_version": FORMAT_VERSION,
                "weights": [w.name for w in model.weights]}
    files = {"config.json": json.dumps(manifest).encode(), "weights.npz": npz_bytes(weight_arrays(model))}
    write_archive(path, files)


def _read_weights(reader: ModelFile, model) -> list[np.ndarray]:
    """The arrays of weights.npz in ``model.weights`` order, once their headers (names, shapes, float
    dtypes) have been checked against the model's weights, which may be placeholders; nothing of
    the model is touched."""
    expected = weight_arrays(model)
    # a file may hold float64 weights for a float32 model (they are cast); nothing wider is plausible
    limit = sum(w.size * max(8, w.dtype.itemsize) for w in expected.values())
    npz = reader.npz("weights.npz", limit, len(expected))
    try:
        missing = [k for k in expected if k not in npz.headers]
        extra = [k for k in npz.headers if k not in expected]
        if missing or extra:
            raise reader.error(f"weights do not fit the model: missing {missing[:5]}, unexpected {extra[:5]}")
        for key, current in expected.items():
            header = npz.headers[key]
            if header.shape != current.shape:
                raise reader.error(f"weight {key} has shape {header.shape}; the model needs {current.shape}")
            if header.dtype.kind != "f":
                raise reader.error(f"weight {key} has dtype {header.dtype}; expected a float dtype")
        return [reader.array(npz, key) for key in expected]
    finally:
        npz.close()


def load_model(path: str | os.PathLike, compile: bool = True):
    """Rebuild a model saved by ``model.save``: architecture, weights and (if saved) the compiled
    optimizer with its state.

    The architecture is built first with placeholder weights that cost no memory (at most
    ``models.from_config.MAX_WEIGHT_BYTES`` of them), and every weight's shape is compared with
    the file's array headers before any weight is read.
    """
    if keras_format.is_keras_file(path):  # told apart by its contents, not its name
        return keras_format.load_model(path, compile=compile)
    with open_model_file(path, FORMAT) as reader:
        doc = reader.document
        with rng_untouched():  # placeholders draw nothing, but a layer's constructor might
            model, _ = build_unallocated(doc.get("class_name"), doc.get("config"), reader.path)
        for w, value in zip(model.weights, _read_weights(reader, model)):
            w.data = np.ascontiguousarray(value, dtype=w.data.dtype)  # the placeholder goes; memory is spent
        metadata = doc.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise reader.error("metadata must be a JSON object")
        model.metadata = metadata
        compile_config = doc.get("compile_config")
        if compile and compile_config:
            try:
                model.compile(optimizer=optimizers.deserialize(compile_config["optimizer"]),
                              loss=losses.deserialize(compile_config["loss"]),
                              metrics=[metrics.deserialize(m) for m in compile_config.get("metrics", [])])
            # settings are data: an OverflowError (learning_rate=10**400) is as invalid as a KeyError
            except Exception as err:
                raise reader.error(f"the compile settings are invalid ({type(err).__name__}: {err})") from None
            if "optimizer.npz" in reader.members:
                # slots are at most a few copies of the weights (Adam's amsgrad: three), plus scalars
                weight_bytes = sum(w.data.nbytes for w in model.weights)
                state = reader.arrays("optimizer.npz", 4 * weight_bytes + 2**20, 3 * len(model.weights) + 2)
                try:
                    model.optimizer.set_state(model.trainable_weights, state)
                except Exception as err:  # as above: whatever crafted arrays make set_state raise
                    raise reader.error(f"optimizer state does not fit ({type(err).__name__}: {err})") from None
    return model


def load_weights(model, path: str | os.PathLike) -> None:
    """Overwrite ``model``'s weights from a file written by ``save_weights`` (or ``save``).

    Every array is checked and read before the first weight changes: a bad file changes nothing.
    """
    if keras_format.is_keras_file(path):
        return keras_format.load_weights(model, path)
    for fmt in (WEIGHTS_FORMAT, FORMAT):
        try:
            with open_model_file(path, fmt) as reader:
                values = _read_weights(reader, model)
        except ValueError as err:
            if "does not say format" not in str(err):
                raise
            continue
        for w, value in zip(model.weights, values):
            w.data[...] = value
        return
    raise ValueError(f"{os.fspath(path)}: neither a faltung weights file nor a model file")
