"""``Sequential``: a plain stack of layers, each feeding the next (Keras' most used model).

Once its input shape is known it is a graph like a functional model's (an ``Input``, then each
layer called on the previous one's output) and runs through the same executor (``graph``).
"""
from __future__ import annotations

from typing import Any, Sequence

from ..layers.base import Layer, SymbolicTensor, register, unique_name
from ..layers.core import InputLayer
from .model import Model, check_unique_names, layer_from_config


@register
class Sequential(Model):
    """``Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3), ...])``.

    The model is built (weights created, output shapes known, its graph made) as soon as
    its input shape is known: from an ``Input`` first item, from ``input_shape=`` on the
    first layer, or from the first batch it is called on.
    """

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name=name or unique_name("sequential"), **kwargs)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._output: SymbolicTensor | None = None  # the symbolic tensor flowing out of the last layer
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
            self._rebuild_graph()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes layers; got {type(layer).__name__}: {layer!r:.80}")
        if any(layer is l for l in self._stack):
            raise ValueError(f"layer {layer.name!r} is already in this model")
        if any(layer.name == l.name for l in self._stack):
            raise ValueError(f"two different layers are named {layer.name!r}; layer names in a model must be unique")
        self._push(layer)

    def _push(self, layer: Layer, plan: bool = True) -> None:
        """Append a layer known to be new here and uniquely named, building it if the input shape is known;
        ``plan=False`` leaves planning the graph's calls to the caller (once, after many layers)."""
        if not self._stack and self._input_layer is None and layer.declared_input_shape is not None:
            self.add(InputLayer(shape=layer.declared_input_shape))
        self._stack.append(layer)
        if self._output is not None:
            self._output = layer(self._output)
            if plan:
                self._set_graph([self._graph[0][0]], [self._output], False, False)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError("this Sequential model has no layers to pop")
        layer = self._stack.pop()
        self._rebuild_graph()
        return layer

    def _check_usable(self, what: str) -> None:
        if not self._stack:
            raise ValueError(f"Sequential model {self.name!r} has no layers, so it cannot {what}(); "
                             "add layers first, e.g. model.add(layers.Dense(10))")

    def build(self, input_shape: Any = None) -> None:
        """Build every layer for inputs of ``input_shape`` (with or without the batch axis' None)."""
        self._check_usable("build")
        if input_shape is None:
            raise ValueError("build() needs an input shape, e.g. (None, 28, 28, 1)")
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=(None,) + tuple(input_shape)[1:])
        self._rebuild_graph()

    def _rebuild_graph(self) -> None:
        """The graph from a fresh input through every layer (each layer builds on its first call)."""
        if self._input_layer is None:
            return
        layer = self._input_layer
        start = SymbolicTensor(layer.batch_shape, layer.dtype, layer)
        self._output = start
        for l in self._stack:
            self._output = l(self._output)
        self._set_graph([start], [self._output], False, False)

    def _set_graph(self, ins, outs, multi_in, multi_out) -> None:
        super()._set_graph(ins, outs, multi_in, multi_out)
        self.input_shape = (None,) + tuple(self._input_layer.batch_shape[1:])  # Keras reports no batch size

    def call(self, x: Any, training: bool = False) -> Any:
        self._check_usable("call")
        return super().call(x, training=training)

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
        built = [layer_from_config(entry) for entry in config.get("layers", [])]
        # names checked once, with a set: add() compares each layer with all before it, so a config of
        # 50,000 layers (a 2 MB file) took minutes
        check_unique_names([layer for layer in built if not isinstance(layer, InputLayer)])
        for layer in built:
            if isinstance(layer, InputLayer):
                model.add(layer)  # refused unless it comes first
            else:
                model._push(layer, plan=False)  # planned once below: per layer it costs O(layers) each
        if model._output is not None:
            model._set_graph([model._graph[0][0]], [model._output], False, False)
        if not config.get("trainable", True):  # the layers' own flags were restored by their configs
            model.trainable = False
        return model
