"""Writing Keras 3's ``.keras`` and ``.weights.h5`` files that ``keras.saving.load_model`` and
``model.load_weights`` read: the config in Keras' layout, every weight under its Keras path, and
the optimizer's state in the order Keras' optimizer keeps it.

Only what Keras can rebuild is written: faltung's own layer classes (which mirror Keras'),
Sequential and functional models, faltung's losses, metrics and optimizers. A subclassed model,
a layer class of your own, or a loss given as a Python function is refused before anything is
written (keep those in ``.faltung`` files). Files are written atomically, like faltung's own.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from ...version import __version__
from ...io import atomic_write
from ...layers.base import Layer
from ...layers.core import InputLayer
from ..model import Model
from ..sequential import Sequential
from . import h5, layout
from .reader import WEIGHTS_MEMBER

# The Keras module each kind of nested object is written with (Keras looks built-in objects up by it).
_MODULES = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
            "constraint": "keras.constraints", "learning_rate": "keras.optimizers.schedules"}
# Arguments of faltung's layers that Keras' classes do not take, dropped when they are at a value that
# changes nothing (None: any value, the argument has no effect in faltung either).
_FALTUNG_ONLY = {"RandomRotation": {"value_range": None},  # Keras 2's signature: accepted, never used
                 "SpatialDropout2D": {"trainable": None, "activity_regularizer": (None,)}}
# Metrics written by the name compile() was given ("accuracy"): Keras resolves the name as faltung did.
_METRICS_BY_NAME = {"AutoAccuracy"}
# A loss or metric made from a Python function: Keras could not rebuild it.
_FUNCTION_WRAPPERS = {"LossFunctionWrapper", "MeanMetricWrapper"}


def _keras_object(entry: dict, module: str) -> dict:
    return {"module": module, "class_name": entry["class_name"], "config": entry["config"], "registered_name": None}


def _keras_value(key: str, value: Any) -> Any:
    """A value of a faltung config as Keras writes it: nested objects with their Keras module."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        kind = next((k for k in _MODULES if key == k or key.endswith(f"_{k}")), None)
        if kind is not None:
            config = {k: _keras_value(k, v) for k, v in value["config"].items()}
            return _keras_object({**value, "config": config}, _MODULES[kind])
    if isinstance(value, tuple):
        return list(value)
    return value


def _shape(shape: Any) -> Any:
    return [_shape(s) for s in shape] if isinstance(shape, list) else (None if shape is None else list(shape))


def _layer_entry(layer: Layer) -> dict:
    """A layer (or nested model) as an entry of Keras' ``layers`` list, without graph links."""
    class_name = layout.keras_class_name(layer)
    if isinstance(layer, Model):
        return {**_model_document(layer), "name": layer.name}
    if not type(layer).__module__.startswith("faltung.layers"):
        raise ValueError(f"layer {layer.name!r} is of your own class {type(layer).__qualname__}, which Keras cannot "
                         "rebuild from a .keras file; save the model as .faltung instead")
    config = {k: _keras_value(k, v) for k, v in layer.get_config().items() if k != "input_shape"}
    for key, harmless in _FALTUNG_ONLY.get(class_name, {}).items():
        if harmless is not None and config.get(key) not in harmless:
            raise ValueError(f"layer {layer.name!r}: Keras' {class_name} has no argument {key} (here "
                             f"{config[key]!r}); save the model as .faltung instead")
        config.pop(key, None)
    entry = {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None,
             "name": layer.name}
    if not isinstance(layer, InputLayer):
        entry["build_config"] = {"input_shape": _shape(layer.input_shape)}
    return entry


def _tensor(node, index: dict[int, int]) -> dict:
    """A reference to a symbolic tensor: the layer that made it and which of its calls."""
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(node.shape), "dtype": node.dtype.name,
                       "keras_history": [node.layer.name, index[id(node)], 0]}}


def _functional_config(model: Model) -> dict:
    inputs, outputs, nodes = model._graph
    index: dict[int, int] = {id(t): 0 for t in inputs}
    calls: dict[int, list] = {}
    for node in nodes:  # parents before children: a layer's call k never reads its own later calls
        calls.setdefault(id(node.layer), []).append(node)
        index[id(node)] = len(calls[id(node.layer)]) - 1
    layers = []
    for layer in layout.layer_order(model):
        entry = _layer_entry(layer)
        entry["inbound_nodes"] = [
            {"args": [[_tensor(p, index) for p in node.parents] if node.takes_list else _tensor(node.parents[0], index)],
             "kwargs": {}}
            for node in calls.get(id(layer), [])]
        layers.append(entry)

    def endpoint(t) -> list:
        # a nested functional model counts a node of its own before its calls here (not in calls' arguments)
        nested = isinstance(t.layer, Model) and not isinstance(t.layer, Sequential)
        return [t.layer.name, index[id(t)] + nested, 0]
    ins, outs = [endpoint(t) for t in inputs], [endpoint(t) for t in outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": ins if model._multi_in else ins[0],
            "output_layers": outs if model._multi_out else outs[0]}


def _sequential_config(model: Sequential) -> dict:
    layers = [_layer_entry(layer) for layer in model.layers]
    config = {"name": model.name, "trainable": model.trainable, "layers": layers}
    if model._input_layer is not None:
        layers.insert(0, _layer_entry(model._input_layer))
        config["build_input_shape"] = list(model._input_layer.batch_shape)
    return config


def _model_document(model: Model) -> dict:
    """The model as Keras 3 writes one in ``config.json`` (and as an entry of an enclosing model)."""
    class_name = layout.keras_class_name(model)
    if class_name == "Sequential":
        return {"module": "keras", "class_name": "Sequential", "config": _sequential_config(model),
                "registered_name": None, "build_config": {"input_shape": _shape(model.input_shape)}}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": _functional_config(model), "registered_name": "Functional",
            "build_config": {"input_shape": None}}


def _compile_config(model: Model) -> dict:
    """The loss, metrics and optimizer as Keras' ``compile_config``."""
    from ... import losses, metrics, optimizers
    optimizer = optimizers.serialize(model.optimizer)
    optimizer = _keras_object({**optimizer, "config": {k: _keras_value(k, v) for k, v in optimizer["config"].items()}},
                              "keras.optimizers")
    for what, obj in [("loss", model.loss)] + [("metric", m) for m in model._metrics]:
        if type(obj).__name__ in _FUNCTION_WRAPPERS or not type(obj).__module__.startswith("faltung."):
            raise ValueError(f"the {what} {getattr(obj, 'name', obj)!r} is Python code of your own, which Keras cannot "
                             "rebuild from a .keras file; save as .faltung, or with include_optimizer=False")
    loss = _keras_object(losses.serialize(model.loss), "keras.losses")
    metric_entries = [m.name if type(m).__name__ in _METRICS_BY_NAME
                      else _keras_object(metrics.serialize(m), "keras.metrics") for m in model._metrics]
    return {"optimizer": optimizer, "loss": loss, "loss_weights": None, "metrics": metric_entries,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _weights_h5(model: Model, include_optimizer: bool) -> bytes:
    """The HDF5 file Keras 3 keeps weights in: ``layers/<class>/vars/<i>`` and ``optimizer/vars/<i>``."""
    h5py = h5.h5py_module()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for path, layer in layout.walk(model):
            group = f.require_group(f"{path}/vars" if path else "vars")
            group.attrs["name"] = layer.name
            if not isinstance(layer, Model):
                for i, w in enumerate(layout.variables(layer)):
                    group.create_dataset(str(i), data=w.data)
        if include_optimizer and model.compiled:
            state = model.optimizer.get_state(model.trainable_weights)
            group = f.require_group("optimizer/vars")
            group.attrs["name"] = model.optimizer.name
            for i, (key, _) in enumerate(layout.optimizer_variables(model)):
                # Keras keeps the learning rate as a variable of the float type
                group.create_dataset(str(i), data=np.float32(state[key]) if key == "learning_rate" else state[key])
    return buffer.getvalue()


def save_model(model: Model, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` file (config, weights, compile settings and optimizer
    state; faltung's metadata rides along in ``metadata.json``, which Keras does not read)."""
    include_optimizer = include_optimizer and model.compiled
    try:
        document = _model_document(model)
        if include_optimizer:
            document["compile_config"] = _compile_config(model)
    except ValueError as err:
        raise ValueError(f"cannot save {os.fspath(path)!r} as a Keras file: {err}") from None
    metadata = {"keras_version": "3.0.0", "saved_by": f"faltung {__version__}",
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "faltung_metadata": getattr(model, "metadata", {})}
    files = {"metadata.json": json.dumps(metadata).encode(), "config.json": json.dumps(document).encode(),
             WEIGHTS_MEMBER: _weights_h5(model, include_optimizer)}

    def write(f) -> None:
        with zipfile.ZipFile(f, "w") as z:
            for name, data in files.items():  # weights stored, as Keras does: h5py reads them in place
                z.writestr(name, data, zipfile.ZIP_STORED if name == WEIGHTS_MEMBER else zipfile.ZIP_DEFLATED)
    atomic_write(path, write)


def save_weights(model: Model, path: str | os.PathLike) -> None:
    """Write ``model``'s weights (and its optimizer's state once compiled, as Keras does) as ``.weights.h5``."""
    try:
        layout.keras_class_name(model)
    except ValueError as err:
        raise ValueError(f"cannot save {os.fspath(path)!r} as a Keras file: {err}") from None
    data = _weights_h5(model, include_optimizer=True)
    atomic_write(path, lambda f: f.write(data))
