"""Activation functions by name, as ``keras.activations``: ``activations.relu(x)``,
``activations.get("relu")``, ``serialize``/``deserialize``. The functions are
``faltung.functional``'s, with their hand-written derivatives."""
from __future__ import annotations

from typing import Any, Callable

from . import registry
from .functional.activations import (elu, gelu, get_activation, leaky_relu, linear, log_softmax, relu, sigmoid,
                                     softmax, tanh)

__all__ = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "linear",
           "get", "serialize", "deserialize"]


def get(identifier: str | Callable | None) -> Callable:
    """The activation called ``identifier`` ('relu', ...); a callable as is; None is 'linear'."""
    return get_activation(identifier)


def serialize(activation: Callable) -> str:
    """The activation's Keras name (files store names, never code)."""
    name = getattr(activation, "__name__", None)
    if registry.entries("activation").get(name) is not activation:
        raise ValueError(f"cannot serialize activation {activation!r}: only registered activations are saved "
                         "by name (files never carry code)")
    return name


def deserialize(name: Any) -> Callable:
    """The activation saved as ``name``; only registered names are accepted."""
    if not isinstance(name, str):
        raise ValueError(f"an activation is saved as its name; got {name!r}")
    return registry.lookup("activation", name.lower())
