"""One forward pass of a model on one image, layer by layer, through the layers' public ``__call__``.

A model is read as a list of nodes, each a layer and the nodes it reads: a Sequential's layers
in order, or a functional model's layer calls as its ``get_config()`` lists them. The forward
pass calls a Sequential's layers one after the other, and runs a functional model as a Model of
the same layers whose outputs are all of theirs (inference mode); no layer's ``call`` is ever
replaced. Running the nodes again with one node's value swapped for a leaf Tensor gives
gradients with respect to that node (Grad-CAM, saliency).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import functional as F
from ..autograd import Tensor, no_grad
from ..layers.base import Layer


@dataclass(frozen=True)
class Node:
    """One call of a layer: ``key`` names it (the layer's name; a shared layer's later calls are
    ``name#1``, ``name#2``, ...), ``parents`` are the keys of the nodes it reads."""

    key: str
    layer: Layer
    parents: tuple[str, ...]
    takes_list: bool = False


def model_nodes(model: Any) -> tuple[str, list[Node]]:
    """``(input key, nodes in the order they run)`` for a Sequential or functional model with one input.

    A subclassed model (its own ``call``) has no graph to read: ValueError.
    """
    from ..models import Sequential
    if isinstance(model, Sequential):
        names = {layer.name for layer in model.layers}
        input_key = "input" if "input" not in names else "input_image"
        nodes, previous = [], input_key
        for layer in model.layers:
            nodes.append(Node(layer.name, layer, (previous,)))
            previous = layer.name
        if not nodes:
            raise ValueError(f"model {model.name!r} has no layers to explain")
        return input_key, nodes
    try:
        config = model.get_config()
    except NotImplementedError:
        raise ValueError(f"model {model.name!r} is a subclassed model (its own call); explain reads the layer "
                         "graph of Sequential and functional models only") from None
    if len(config["inputs"]) != 1:
        raise ValueError(f"explain needs a model with one image input; model {model.name!r} has "
                         f"{len(config['inputs'])} inputs")

    def key(name: str, index: int) -> str:
        return name if index == 0 else f"{name}#{index}"

    input_key = key(*config["inputs"][0])
    nodes, calls = [], {}
    for entry in config["nodes"]:
        name = entry["layer"]
        index = calls.get(name, 0)
        calls[name] = index + 1
        nodes.append(Node(key(name, index), model.get_layer(name), tuple(key(n, i) for n, i in entry["inbound"]),
                          bool(entry["takes_list"])))
    return input_key, nodes


def all_outputs_model(model: Any, input_key: str, nodes: list[Node]) -> Any:
    """Keras' idiom for intermediate outputs: a functional Model of the same layers (no copies)
    whose outputs are every node's output, in the order of ``nodes``."""
    from ..layers import Input
    from ..models import Model
    source = model.get_layer(input_key)
    symbols = {input_key: Input(source.batch_shape[1:], name=source.name, dtype=source.dtype)}
    for node in nodes:  # a built layer called on a symbolic tensor records a node, nothing else
        args = [symbols[p] for p in node.parents]
        symbols[node.key] = node.layer(args if node.takes_list else args[0])
    return Model(symbols[input_key], [symbols[n.key] for n in nodes], name=f"{model.name}_all_outputs")


def run_nodes(nodes: list[Node], values: dict[str, Any]) -> dict[str, Any]:
    """Call each node's layer on its parents' values (inference mode), skipping nodes already in
    ``values`` (the input, or a value put in place of a layer's output). Returns ``values``, filled."""
    for node in nodes:
        if node.key in values:
            continue
        args = [values[p] for p in node.parents]
        values[node.key] = node.layer(args if node.takes_list else args[0], training=False)
    return values


def pre_activation(layer: Layer, x: Tensor) -> Tensor:
    """A Conv2D's or Dense's output before its activation, in ``x``'s dtype (weights as constants).

    x: (N, H, W, C_in) -> (N, h, w, filters) for Conv2D; (N, in) -> (N, units) for Dense.
    """
    from ..layers.conv import Conv2D
    from ..layers.core import Dense
    kernel = layer.kernel.data.astype(x.dtype)
    bias = None if layer.bias is None else layer.bias.data.astype(x.dtype)
    if isinstance(layer, Conv2D):
        return F.conv2d(x, kernel, bias, layer.strides, layer.padding, layer.dilation_rate)
    if isinstance(layer, Dense):
        return F.dense(x, kernel, bias)
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no kernel and bias to apply")


def is_softmax(layer: Layer) -> bool:
    from ..layers.core import Activation, Softmax
    return isinstance(layer, Softmax) or (isinstance(layer, Activation) and layer.activation is F.softmax)


class Trace:
    """Every layer's output for one image of ``model``.

    ``image``: (H, W, C) with the model's input shape, (1, H, W, C), or (H, W) for one channel,
    raw as the model takes it. ``values[key]`` is node ``key``'s output without the batch axis,
    e.g. (h, w, C) for a conv layer or (units,) for a Dense layer; ``values[input_key]`` is the
    image as the first layer receives it, in the model's float dtype.
    """

    def __init__(self, model: Any, image: Any):
        from ..image_input import as_batch
        self.model = model
        self.batch = as_batch(model, image)                                  # (1, H, W, C), raw
        self.input_key, self.nodes = model_nodes(model)
        self.by_key = {node.key: node for node in self.nodes}
        from ..models import Sequential
        x = Tensor(self._input_array())
        with no_grad():
            if isinstance(model, Sequential):  # its layers called in order
                values = run_nodes(self.nodes, {self.input_key: x})
            else:
                outputs = all_outputs_model(model, self.input_key, self.nodes)(x, training=False)
                values = {self.input_key: x, **{n.key: out for n, out in zip(self.nodes, outputs)}}
        self.tensors = values                                               # batch axis kept, for re-runs
        self.values = {k: np.asarray(v.data)[0] for k, v in values.items()}
        self.output_key = self._output_key()

    def _input_array(self) -> np.ndarray:
        dtype = self.model.dtype if np.dtype(self.model.dtype).kind == "f" else np.float32
        return np.asarray(self.batch, dtype=dtype)

    def _output_key(self) -> str:
        from ..models import Sequential
        if isinstance(self.model, Sequential):
            return self.nodes[-1].key
        outputs = self.model.get_config()["outputs"]
        name, index = outputs[0]  # a model with several outputs is explained through its first
        return name if index == 0 else f"{name}#{index}"

    def node(self, layer: Any) -> Node:
        """The node of ``layer``: a Layer, its name (or a node key such as ``name#1``), or an index
        into the nodes."""
        if isinstance(layer, Layer):
            for node in self.nodes:
                if node.layer is layer:
                    return node
            raise ValueError(f"layer {layer.name!r} is not a layer of model {self.model.name!r}")
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            if not -len(self.nodes) <= layer < len(self.nodes):
                raise ValueError(f"layer index {layer} is out of range; the model has {len(self.nodes)} layers")
            return self.nodes[int(layer)]
        if isinstance(layer, str) and layer in self.by_key:
            return self.by_key[layer]
        raise ValueError(f"unknown layer {layer!r}; model {self.model.name!r} has the layers "
                         f"{[n.key for n in self.nodes]}")

    def input_of(self, node: Node) -> np.ndarray:
        """The value ``node``'s layer reads (its first parent's), without the batch axis."""
        return self.values[node.parents[0]]

    @property
    def output(self) -> np.ndarray:
        """The model's output for the image, e.g. (classes,) probabilities."""
        return self.values[self.output_key]

    def class_score(self, values: dict[str, Tensor], class_index: int) -> Tensor:
        """The score of ``class_index`` that saliency differentiates: the logit before a final softmax
        (Grad-CAM's choice: a softmax output's gradient also depends on every other class), else the
        output itself. ``values``: a filled ``run_nodes`` dictionary. Returns a one-element Tensor."""
        node = self.by_key[self.output_key]
        layer = node.layer
        if is_softmax(layer):
            logits = values[node.parents[0]]
        elif getattr(layer, "activation", None) is F.softmax and hasattr(layer, "kernel"):
            logits = pre_activation(layer, values[node.parents[0]])
        else:
            logits = values[node.key]
        if logits.ndim != 2:
            raise ValueError(f"the model's output has shape {tuple(logits.shape[1:])} per image, not a vector of "
                             "class scores; saliency needs a classifier")
        if not 0 <= class_index < logits.shape[1]:
            raise ValueError(f"class_index must be within the model's {logits.shape[1]} classes; got {class_index}")
        return logits[0, class_index]

    def gradient(self, key: str, class_index: int) -> np.ndarray:
        """d(class score)/d(node ``key``'s output) for this image, without the batch axis.

        The nodes that read ``key`` (directly or not) run again on a leaf Tensor holding its value;
        every other node keeps the value of the first pass, as the chain rule needs.
        """
        downstream = {key}
        for node in self.nodes:
            if any(p in downstream for p in node.parents):
                downstream.add(node.key)
        values = {k: Tensor(v.data) for k, v in self.tensors.items() if k not in downstream}
        leaf = Tensor(np.array(self.tensors[key].data, copy=True), requires_grad=True)
        values[key] = leaf
        # backward() also adds into the weights' .grad: put the user's gradients back afterwards
        saved = [(w, w.grad) for w in self.model.weights]
        try:
            score = self.class_score(run_nodes(self.nodes, values), class_index)
            score.backward()
        finally:
            for w, grad in saved:
                w.grad = grad
        return leaf.grad[0]

    def predicted_class(self) -> int:
        """The index of the largest output (the predicted class of a classifier)."""
        output = self.output
        if output.ndim != 1:
            raise ValueError(f"the model's output has shape {output.shape} per image, not a vector of class scores")
        return int(np.argmax(output))


def trace(model: Any, image: Any) -> Trace:
    """Run ``model`` on one ``image`` and keep every layer's output (see ``Trace``)."""
    return Trace(model, image)
