"""Ready-made architectures for the command line and the benchmarks: LeNet-style, VGG-small, ResNet-small.

Each takes the per-image input shape (H, W, C) and the number of classes and
returns an uncompiled model that expects raw 0..255 pixels (it starts with
``Rescaling(1/255)``) and ends in a softmax.
"""
from __future__ import annotations

import json
import os
from typing import Callable

from . import layers
from .models import Model, Sequential


def lenet(input_shape=(28, 28, 1), num_classes: int = 10) -> Sequential:
    """Conv2D 32 3×3 relu, MaxPool 2, Conv2D 64 3×3 relu, MaxPool 2, Flatten, Dense 128 relu, Dense classes."""
    return Sequential([
        layers.Input(input_shape), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(128, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ], name="lenet")


def vgg_small(input_shape=(32, 32, 3), num_classes: int = 10) -> Sequential:
    """Conv32-Conv32-MaxPool-Conv64-Conv64-MaxPool-Flatten-Dense256-Dense classes, 'same' padding, relu."""
    return Sequential([
        layers.Input(input_shape), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(256, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ], name="vgg_small")


def _residual_block(x, filters: int, strides: int, name: str):
    """Two 3×3 convolutions with batch norm, added to the input (projected by a 1×1 conv when the shape changes)."""
    h = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    h = layers.ReLU(name=f"{name}_relu1")(layers.BatchNormalization(name=f"{name}_bn1")(h))
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(h)
    h = layers.BatchNormalization(name=f"{name}_bn2")(h)
    if strides != 1 or x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_project")(x)
        x = layers.BatchNormalization(name=f"{name}_project_bn")(x)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, h]))


def resnet_small(input_shape=(32, 32, 3), num_classes: int = 10) -> Model:
    """A small ResNet: a 3×3 stem, residual blocks of 16, 32 (stride 2) and 64 (stride 2) filters,
    global average pooling and a softmax."""
    inputs = layers.Input(input_shape, name="image")
    x = layers.Rescaling(1 / 255, name="rescaling")(inputs)
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(x))
    for i, (filters, strides) in enumerate([(16, 1), (32, 2), (64, 2)]):
        x = _residual_block(x, filters, strides, name=f"block{i + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return Model(inputs, outputs, name="resnet_small")


ARCHITECTURES: dict[str, Callable] = {"lenet": lenet, "vgg-small": vgg_small, "resnet-small": resnet_small}


def build(name: str, input_shape, num_classes: int) -> Model:
    """An architecture by name, or a model config JSON file (``{"class_name": ..., "config": ...}``,
    e.g. the config.json inside a saved model).

    A config file's sizes are checked before any weight exists (see ``models.from_config``); its
    weights are then initialised exactly as an ordinary build would, and ``input_shape`` and
    ``num_classes`` are not used. Every problem with the file is a ValueError naming it.
    """
    if name in ARCHITECTURES:
        return ARCHITECTURES[name](tuple(input_shape), num_classes)
    if name.endswith(".json") and os.path.isfile(name):
        from .layers.deferred import initialize
        from .models.from_config import build_unallocated
        document = _read_json(name)
        if not isinstance(document, dict) or "class_name" not in document or "config" not in document:
            raise ValueError(f"{name}: expected a JSON object with 'class_name' and 'config'")
        model, deferral = build_unallocated(document["class_name"], document["config"], name)
        initialize(deferral)
        return model
    raise ValueError(f"model must be one of {', '.join(ARCHITECTURES)} or a model config .json file; got {name!r}")


def _read_json(path: str):
    """The JSON document in ``path``, read no further than a config could plausibly be."""
    from .io import MAX_CONFIG_BYTES
    with open(path, "rb") as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ValueError(f"{path}: more than {MAX_CONFIG_BYTES:,} bytes; a model config is a few KB")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:  # bad UTF-8 and bad JSON are both ValueErrors
        raise ValueError(f"{path}: not a valid JSON model config ({type(err).__name__}: {err})") from None
