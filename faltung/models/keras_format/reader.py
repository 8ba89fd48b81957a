"""Reading Keras' files: Keras 3's ``.keras`` (a zip of ``config.json``, ``metadata.json`` and
``model.weights.h5``) and ``.weights.h5``, and TF 2 Keras' legacy ``.h5`` (a ``model_config``
attribute and a ``model_weights`` group, or the weights alone).

As with faltung's own files the architecture is built first with placeholder weights (at most
``models.from_config.MAX_WEIGHT_BYTES`` of them), zip members are read in bounded memory, and every
HDF5 dataset's shape and dtype are checked against the model before it is read. Every problem
is a ``ValueError`` naming the file.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from typing import Any, Iterator

import numpy as np

from ... import untrusted_zip
from ...io import MAX_CONFIG_BYTES
from ..from_config import MAX_LAYERS, build_unallocated, rng_untouched
from ..model import Model
from . import config as keras_config, h5, layout

WEIGHTS_MEMBER = "model.weights.h5"
# HDF5 spends about 1 KB on each group and dataset header; allow 8 KiB of them per object.
H5_OBJECT_OVERHEAD = 8192


class _Archive:
    """A ``.keras`` zip, its members read in bounded memory (``untrusted_zip``); errors name the file."""

    def __init__(self, path: str):
        self.path = path
        self.file = open(path, "rb")
        try:
            self.zip = untrusted_zip.open_archive(self.file)
            self.members = {info.filename: info for info in self.zip.infolist()}
        except ValueError as err:
            self.file.close()
            raise ValueError(f"{path}: {err}") from None

    def read(self, name: str, limit: int) -> bytes:
        if name not in self.members:
            raise ValueError(f"{self.path}: missing {name} (not a Keras 3 .keras file?)")
        try:
            return untrusted_zip.read_member(self.zip, self.members[name], limit)
        except ValueError as err:
            raise ValueError(f"{self.path}: {err}") from None

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name, MAX_CONFIG_BYTES).decode())
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise ValueError(f"{self.path}: {name} is not valid JSON ({type(err).__name__}: {err})") from None

    def __enter__(self) -> "_Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.zip.close()
        self.file.close()


@contextlib.contextmanager
def _named(path: str) -> Iterator[None]:
    """Errors raised inside about the file's contents start with the file's name."""
    try:
        yield
    except (h5.H5Error, keras_config.KerasConfigError) as err:
        raise ValueError(f"{path}: {err}") from None
    except RecursionError:
        raise ValueError(f"{path}: the config nests too deeply") from None


def _build(document: Any, path: str) -> Model:
    """The model a Keras model config describes, with zero-cost placeholder weights."""
    with _named(path):
        described = keras_config.model_config(document, "model")
    with rng_untouched():  # placeholders draw nothing, but a layer's constructor might
        model, _ = build_unallocated(described["class_name"], described["config"], path)
    return model


def _fill(model: Model, values: list[tuple[Any, np.ndarray]]) -> None:
    for weight, value in values:  # each placeholder goes: memory is spent only now
        weight.data = np.ascontiguousarray(value, dtype=weight.data.dtype)


def _assign(values: list[tuple[Any, np.ndarray]]) -> None:
    for weight, value in values:  # all read and checked first: a bad file changes nothing
        weight.data[...] = value


def _h5_limit(model: Model) -> int:
    """What a model's weights file may hold: its weights (as float64 at most) and an optimizer's
    slots (three per weight at most), plus HDF5's headers."""
    weights = model.weights
    weight_bytes = sum(w.data.size * 8 for w in weights)
    return 4 * weight_bytes + H5_OBJECT_OVERHEAD * (4 * len(weights) + 2 * len(list(layout.walk(model))) + 16)


# ----- Keras 3 layout: layers/<class>/vars/<i>, optimizer/vars/<i> -----

def keras_weights(f, model: Model) -> list[tuple[Any, np.ndarray]]:
    """Every weight of ``model`` with its array from a Keras 3 weights file (``layers/.../vars/<i>``)."""
    expected = layout.weight_paths(model)
    layers = h5.get(f, "layers")
    found = {f"layers/{name}" for name in h5.datasets(layers, "layers")} if layers is not None else set()
    missing = sorted(set(expected) - found)
    unexpected = sorted(found - set(expected))
    if missing or unexpected:
        raise h5.H5Error(f"the weights do not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return [(w, h5.read_array(h5.get(f, path), w.data.shape, "fiu", path)) for path, w in expected.items()]


def optimizer_state(f, model: Model) -> dict[str, np.ndarray] | None:
    """The compiled optimizer's state (``Optimizer.set_state``'s keys) from Keras' ``optimizer/vars``;
    None when the file holds none, or only the counters of an optimizer that never took a step."""
    group = h5.get(f, "optimizer/vars")
    if group is None:
        return None
    keys = layout.optimizer_variables(model)
    stored = h5.datasets(group, "optimizer/vars")
    if stored != {str(i) for i in range(len(keys))}:
        if len(stored) == sum(w is None for _, w in keys):  # Keras creates slots at the first step
            return None
        raise h5.H5Error(f"the optimizer state holds {len(stored)} variables; a {type(model.optimizer).__name__} "
                         f"of this model has {len(keys)} (the step count, the learning rate, its slots)")
    state = {}
    for i, (key, w) in enumerate(keys):
        where = f"optimizer/vars/{i}" + (f" ({key.split('/')[0]} of {w.name})" if w is not None else "")
        if key == "iterations":
            state[key] = h5.read_array(group[str(i)], (), "iu", where).astype(np.int64)
        elif key == "learning_rate":
            rate = h5.read_array(group[str(i)], (), "f", where)
            # Keras keeps the rate as float32: the config's number is more exact unless training changed it
            if np.float32(rate) != np.float32(model.optimizer.learning_rate):
                state[key] = rate.astype(np.float64)
        else:
            state[key] = h5.read_array(group[str(i)], w.data.shape, "f", where).astype(w.data.dtype)
    return state


# ----- TF 2 (legacy) layout: <layer name>/<weight name>, listed in attributes -----

def _legacy_key(name: str) -> str:
    """``"dense/kernel:0"`` -> ``"dense/kernel"``: the layer and weight names a legacy file lists."""
    return "/".join(re.sub(r":\d+$", "", name).split("/")[-2:])


def _legacy_targets(layer, names: list[str], where: str) -> list:
    """``layer``'s weights in the order of the file's ``weight_names``: by name where every name is
    the model's (TF 2 names them ``layer/weight:0``), else by position as TF 2 wrote them
    (trainable, then the others) with the same last name."""
    weights = layer.weights if isinstance(layer, Model) else layout.variables(layer)
    by_key = {_legacy_key(w.name): w for w in weights}
    keys = [_legacy_key(n) for n in names]
    if len(set(keys)) == len(keys) == len(weights) and set(keys) == set(by_key):
        return [by_key[k] for k in keys]
    if len(names) != len(weights) or any(k.split("/")[-1] != w.name.split("/")[-1] for k, w in zip(keys, weights)):
        raise h5.H5Error(f"{where} holds weights {names[:6]}; the model's layer has "
                         f"{[w.name for w in weights][:6]}")
    return weights


def legacy_weights(group, model: Model, where: str) -> list[tuple[Any, np.ndarray]]:
    """Every weight of ``model`` from a TF 2 Keras weights group (``layer_names``, ``weight_names``):
    layers matched by name when the model has every name the file lists, else (Keras' own rule for
    these files) the layers with weights in order."""
    listed = []
    for name in h5.read_names(group, "layer_names", MAX_LAYERS, where):
        layer_group = h5.get(group, name, f"{where}/{name}")
        if layer_group is None:
            raise h5.H5Error(f"{where} lists layer {name!r} but holds no group of that name")
        names = h5.read_names(layer_group, "weight_names", 10_000, f"{where}/{name}")
        if names:
            listed.append((name, layer_group, names))
    by_name = {layer.name: layer for layer in model.layers}
    if all(name in by_name for name, _, _ in listed):
        targets = [by_name[name] for name, _, _ in listed]
    else:
        targets = [layer for layer in layout.layer_order(model) if layer.weights]
        if len(targets) != len(listed):
            raise h5.H5Error(f"{where} holds weights for {len(listed)} layers ({[n for n, _, _ in listed][:5]}); "
                             f"the model has {len(targets)} layers with weights")
    values, covered = [], set()
    for (name, layer_group, names), layer in zip(listed, targets):
        for weight_name, w in zip(names, _legacy_targets(layer, names, f"{where}/{name}")):
            place = f"{where}/{name}/{weight_name}"
            dataset = h5.get(layer_group, weight_name, place)
            if dataset is None:
                raise h5.H5Error(f"{where}/{name} lists {weight_name!r} but does not hold it")
            values.append((w, h5.read_array(dataset, w.data.shape, "fiu", place)))
            covered.add(id(w))
    lacking = [w.name for w in model.weights if id(w) not in covered]
    if lacking:
        raise h5.H5Error(f"{where} holds no values for the model's weights {lacking[:5]}")
    return values


# ----- whole models -----

def _compile(model: Model, settings: dict | None, path: str) -> None:
    from ... import losses, metrics, optimizers
    if not settings or settings.get("optimizer") is None:
        return
    try:
        model.compile(optimizer=optimizers.get(settings["optimizer"]),
                      loss=losses.get(settings["loss"]),
                      # a name stays a name: compile resolves "accuracy" from the loss, as Keras does
                      metrics=[m if isinstance(m, str) else metrics.deserialize(m) for m in settings["metrics"]])
    # settings are data: whatever they make faltung raise means faltung cannot use them
    except Exception as err:
        raise ValueError(f"{path}: the compile settings are not ones faltung can use ({type(err).__name__}: "
                         f"{err}); load with compile=False to get the model without them") from None


def _set_optimizer_state(model: Model, state: dict | None, path: str) -> None:
    if state is None:
        return
    try:
        model.optimizer.set_state(model.trainable_weights, state)
    except Exception as err:  # as above: whatever crafted arrays make set_state raise
        raise ValueError(f"{path}: the optimizer state does not fit ({type(err).__name__}: {err})") from None


def load_keras(path: str, compile: bool = True) -> Model:
    """The model of a Keras 3 ``.keras`` file: architecture, weights, compile settings and optimizer state."""
    with _Archive(path) as archive:
        document = archive.json("config.json")
        model = _build(document, path)
        metadata = archive.json("metadata.json") if "metadata.json" in archive.members else {}
        data = archive.read(WEIGHTS_MEMBER, _h5_limit(model))
    with _named(path):
        settings = keras_config.compile_settings(document.get("compile_config"), "compile_config") \
            if compile else None
        with h5.open_file(data) as f:
            _fill(model, keras_weights(f, model))
            _compile(model, settings, path)
            state = optimizer_state(f, model) if model.compiled else None
    _set_optimizer_state(model, state, path)
    # faltung's own notes (class names, epochs trained) travel in metadata.json, which Keras ignores
    notes = metadata.get("faltung_metadata") if isinstance(metadata, dict) else None
    model.metadata = notes if isinstance(notes, dict) else {}
    return model


def load_legacy(path: str, compile: bool = True) -> Model:
    """The model of a TF 2 Keras ``.h5`` file (``model_config`` and ``model_weights``); its optimizer
    starts afresh (the legacy layout names optimizer slots by TensorFlow variable names)."""
    with _named(path), h5.open_file(path) as f:
        document = h5.read_json(f, "model_config", MAX_CONFIG_BYTES, "the file")
        if document is None:
            raise h5.H5Error("no model_config attribute: a weights-only file? Load it into a model with "
                             "model.load_weights")
        model = _build(document, path)
        group = h5.get(f, "model_weights")
        if group is None:
            raise h5.H5Error("no model_weights group")
        _fill(model, legacy_weights(group, model, "model_weights"))
        if compile:
            _compile(model, keras_config.compile_settings(
                h5.read_json(f, "training_config", MAX_CONFIG_BYTES, "the file"), "training_config"), path)
    return model


def load_model(path: str | os.PathLike, compile: bool = True) -> Model:
    """A Keras 3 ``.keras`` file or a legacy HDF5 ``.h5`` file, told apart by their first bytes."""
    path = os.fspath(path)
    return load_legacy(path, compile) if h5.is_hdf5(path) else load_keras(path, compile)


def load_weights(model: Model, path: str | os.PathLike) -> None:
    """Overwrite a built ``model``'s weights from Keras' ``.weights.h5``, a legacy ``.h5`` (weights
    alone or a whole model) or a ``.keras`` file. Everything is checked and read before the first
    weight changes."""
    path = os.fspath(path)
    with _named(path):
        if not h5.is_hdf5(path):  # a .keras zip: its weights member
            with _Archive(path) as archive:
                data = archive.read(WEIGHTS_MEMBER, _h5_limit(model))
            with h5.open_file(data) as f:
                values = keras_weights(f, model)
        else:
            with h5.open_file(path) as f:
                if h5.get(f, "layers") is not None:
                    values = keras_weights(f, model)
                elif h5.get(f, "model_weights") is not None:
                    values = legacy_weights(f["model_weights"], model, "model_weights")
                else:
                    values = legacy_weights(f, model, "the file")
    _assign(values)
