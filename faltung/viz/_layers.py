"""Finding a model's layers for the pictures, and recording what each layer computes for one input."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..image_input import as_batch


def conv_class() -> type:
    from ..layers.conv import Conv2D
    return Conv2D


def is_conv(layer: Any) -> bool:
    return isinstance(layer, conv_class())


def is_map_layer(layer: Any) -> bool:
    """Conv2D and the (non-global) pooling layers: the ones whose outputs are (H, W, C) feature maps."""
    from ..layers.pooling import Pooling2D
    return isinstance(layer, (conv_class(), Pooling2D))


def resolve_layer(model: Any, layer: Any) -> Any:
    """A layer of ``model`` given as a Layer, a name or an index into ``model.layers``."""
    from ..layers.base import Layer
    layers = model.layers
    if isinstance(layer, Layer):
        if not any(layer is l for l in layers):
            raise ValueError(f"layer {layer.name!r} is not a layer of model {model.name!r}; "
                             f"its layers are {[l.name for l in layers]}")
        return layer
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if not -len(layers) <= layer < len(layers):
            raise ValueError(f"layer index {layer} is out of range; model {model.name!r} has {len(layers)} layers")
        return layers[int(layer)]
    if isinstance(layer, str):
        for l in layers:
            if l.name == layer:
                return l
        raise ValueError(f"unknown layer {layer!r}; model {model.name!r} has the layers "
                         f"{[l.name for l in layers]}")
    raise ValueError(f"a layer must be given as a Layer, a name or an index; got {type(layer).__name__} {layer!r}")


def first_conv(model: Any) -> Any:
    for layer in model.layers:
        if is_conv(layer):
            return layer
    raise ValueError(f"model {model.name!r} has no Conv2D layer; its layers are {[l.name for l in model.layers]}")


def layer_outputs(model: Any, image: Any, layers: Sequence[Any]) -> list[np.ndarray]:
    """What each of ``layers`` outputs when ``model`` runs on one ``image`` (inference mode).

    Returns a list of (H, W, C) arrays (the batch axis removed). As Keras users do, a second
    model made of the same layers returns their outputs: ``Model(model.inputs, [layer.output,
    ...])``; so ``model`` must be a Sequential or functional model (a subclassed model's
    layers form no graph to take outputs from).
    """
    from ..models.model import Model
    batch = as_batch(model, image)
    seeing = Model(model.inputs[0], [layer.output for layer in layers], name=f"{model.name}_layer_outputs")
    return [output[0] for output in seeing.predict(batch, verbose=0)]
