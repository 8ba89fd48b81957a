"""``models.clone_model`` (the same architecture with new weights) and ``models.model_from_json``."""
from __future__ import annotations

import json
from typing import Any, Callable

from ..layers.base import Layer, get_layer_class, register_user_class
from .model import Model


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    """Rebuild the architecture written by ``model.to_json()`` (fresh weights, not compiled).

    Classes are looked up by name among faltung's layers and the ones registered with
    ``keras.saving.register_keras_serializable`` (or given in ``custom_objects``); nothing in the
    text is ever run.
    """
    if custom_objects:
        for cls in custom_objects.values():
            register_user_class(cls)
    try:
        document = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"model_from_json: not valid JSON ({err})") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ValueError("model_from_json: expected {'class_name': ..., 'config': {...}} as written by to_json()")
    cls = get_layer_class(document.get("class_name"))
    if not issubclass(cls, Model):
        raise ValueError(f"model_from_json: {document.get('class_name')!r} is not a model class")
    return cls.from_config(document["config"])


def _clone_layer(layer: Layer) -> Layer:
    """A new layer from ``layer``'s config (new weights); a Lambda keeps its function."""
    from ..layers.preprocessing import Lambda
    if isinstance(layer, Lambda):
        return Lambda(layer.function, layer.output_shape_arg, arguments=layer.arguments)
    return type(layer).from_config(layer.get_config())


def clone_model(model: Model, input_tensors: Any = None, clone_function: Callable[[Layer], Layer] | None = None,
                **kwargs: Any) -> Model:
    """A new model of the same architecture with freshly initialised weights, as Keras' clone_model.

    ``clone_function(layer) -> layer`` replaces the default (a layer from ``layer.get_config()``);
    pass ``lambda layer: layer`` to share layers. Sequential and functional models only.
    """
    from ..layers.base import SymbolicTensor
    from ..layers.core import InputLayer
    from .sequential import Sequential
    if input_tensors is not None or kwargs:
        raise ValueError("clone_model: input_tensors and call_function are not supported by faltung")
    clone = clone_function or _clone_layer
    if isinstance(model, Sequential):
        new = Sequential(name=model.name)
        if model._input_layer is not None:
            new.add(InputLayer(batch_shape=model._input_layer.batch_shape, name=model._input_layer.name))
        for layer in model.layers:
            new.add(clone(layer))
        return new
    if model._graph is None:
        raise ValueError(f"clone_model: {type(model).__name__} is a subclassed model; its architecture is "
                         "Python code, so build a new instance instead")
    ins, outs, nodes = model._graph
    copies: dict[int, Layer] = {}
    values: dict[int, SymbolicTensor] = {}
    new_ins = []
    for t in ins:
        layer = InputLayer(batch_shape=t.layer.batch_shape, name=t.layer.name)
        values[id(t)] = SymbolicTensor(layer.batch_shape, layer.dtype, layer)
        new_ins.append(values[id(t)])
    for t in nodes:
        if id(t.layer) not in copies:  # a shared layer stays shared in the clone
            copies[id(t.layer)] = clone(t.layer)
        args = [values[id(p)] for p in t.parents]
        values[id(t)] = copies[id(t.layer)](args if t.takes_list else args[0])
    new_outs = [values[id(t)] for t in outs]
    return Model(new_ins if model._multi_in else new_ins[0], new_outs if model._multi_out else new_outs[0],
                 name=model.name)
