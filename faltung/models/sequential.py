"""``Sequential``: a plain stack of layers, each feeding the next (Keras' most used model)."""
from __future__ import annotations

from typing import Any, Sequence

from .. import backend
from ..layers.base import Layer, SymbolicTensor, register, unique_name
from ..layers.core import InputLayer
from .fusion import conv_max_pool, fusable
from .model import Model, layer_from_config


@register
class Sequential(Model):
    """``Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3), ...])``.

    The model is built (weights created, output shapes known) as soon as its
    input shape is known: from an ``Input`` first item, from ``input_shape=`` on
    the first layer, or from the first batch it is called on.
    """

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name=name or unique_name("sequential"), **kwargs)
        self._stack: list[Layer] = []
        self._input: SymbolicTensor | None = None  # the symbolic tensor flowing out of the last layer
        self._input_layer: InputLayer | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer: Any) -> None:
        """Append a layer (or, first, an ``Input``), building it if the input shape is known."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("an Input can only be the first item of a Sequential model")
            self._input_layer = layer
            self._input = SymbolicTensor(layer.batch_shape, layer.dtype, layer)
            self._set_shapes()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes layers; got {type(layer).__name__}: {layer!r:.80}")
        if any(layer is l for l in self._stack):
            raise ValueError(f"layer {layer.name!r} is already in this model")
        if any(layer.name == l.name for l in self._stack):
            raise ValueError(f"two different layers are named {layer.name!r}; layer names in a model must be unique")
        if not self._stack and self._input is None and layer.declared_input_shape is not None:
            self.add(InputLayer(shape=layer.declared_input_shape))
        self._stack.append(layer)
        if self._input is not None:
            self._input = layer(self._input)
            self._set_shapes()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError("this Sequential model has no layers to pop")
        layer = self._stack.pop()
        self._rebuild_shapes()
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Build every layer for inputs of ``input_shape`` (with or without the batch axis' None)."""
        if input_shape is None:
            raise ValueError("build() needs an input shape, e.g. (None, 28, 28, 1)")
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=(None,) + tuple(input_shape)[1:])
        self._rebuild_shapes()

    def _rebuild_shapes(self) -> None:
        if self._input_layer is None:
            return
        layer = self._input_layer
        self._input = SymbolicTensor(layer.batch_shape, layer.dtype, layer)
        for l in self._stack:
            self._input = l(self._input)
        self._set_shapes()

    def _set_shapes(self) -> None:
        self.built = True
        self.input_shape = (None,) + tuple(self._input_layer.batch_shape[1:])
        self.output_shape = self._input.shape

    def call(self, x: Any, training: bool = False) -> Any:
        i = 0
        while i < len(self._stack):
            layer, following = self._stack[i], self._stack[i + 1] if i + 1 < len(self._stack) else None
            if backend.fusion() and fusable(layer, following):  # same results, one pass less over the largest array
                x = conv_max_pool(layer, following, x)
                i += 2
            else:
                x = layer(x, training=training)
                i += 1
        return x

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable,
                  "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._stack]}
        if self._input_layer is not None:
            config["batch_shape"] = list(self._input_layer.batch_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        model = cls(name=config.get("name"))
        if config.get("batch_shape") is not None:
            model.add(InputLayer(batch_shape=config["batch_shape"]))
        for entry in config.get("layers", []):
            model.add(layer_from_config(entry))
        if not config.get("trainable", True):  # the layers' own flags were restored by their configs
            model.trainable = False
        return model
