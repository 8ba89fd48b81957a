"""``Model``: a graph of layers (functional API) or a subclass with its own ``call``; a Layer itself.

``Model(inputs, outputs)`` walks back from the outputs to the ``Input`` tensors
that layers were called on and replays those calls, in order, on real data
(``graph``: the executor that ``Sequential`` uses too).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, distributed
from ..autograd import Parameter, Tensor, no_grad
from ..layers.base import Layer, SymbolicTensor, get_layer_class, graph_order, register, unique_name
from ..layers.core import InputLayer
from . import graph
from .training import Trainer


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


@register
class Model(Trainer, Layer):
    """A network: ``Model(inputs, outputs)`` from symbolic tensors, or a subclass defining ``call``.

    >>> from faltung import layers
    >>> x = layers.Input((8, 8, 1))
    >>> y = layers.Dense(2)(layers.Flatten()(x))
    >>> Model(x, y).output_shape
    (None, 2)
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kwargs: Any):
        is_graph = inputs is not None or outputs is not None
        default = "functional" if is_graph else None
        Layer.__init__(self, name=name or (unique_name(default) if default else None), **kwargs)
        self._init_training()
        self._graph: tuple | None = None
        if is_graph:
            self._init_graph(inputs, outputs)

    # ----- the graph -----
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        ins, outs = _as_list(inputs), _as_list(outputs)
        for t in ins + outs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model inputs and outputs must come from layers.Input and layer calls; "
                                f"got {type(t).__name__}")
        for t in ins:
            if not isinstance(t.layer, InputLayer):
                raise ValueError(f"Model inputs must be made by layers.Input; {t} is not")
        self._set_graph(ins, outs, isinstance(inputs, (list, tuple)), isinstance(outputs, (list, tuple)))
        missing = [t for t in self._graph[2] if not t.parents]  # an Input that is not among the inputs
        if missing:
            raise ValueError(f"the outputs depend on {missing[0].layer.name!r}, which is not among the inputs")
        check_unique_names(self.layers)

    def _set_graph(self, ins: list[SymbolicTensor], outs: list[SymbolicTensor], multi_in: bool,
                   multi_out: bool) -> None:
        """Take the graph from ``ins`` to ``outs`` as this model's, and plan its calls (fused and not)."""
        nodes = [t for t in graph_order(outs) if all(t is not i for i in ins)]
        self._graph = (ins, outs, nodes)
        self._steps = {fuse: graph.plan(nodes, outs, fuse) for fuse in (False, True)}
        self._multi_in, self._multi_out = multi_in, multi_out
        self.built = True
        shapes_in = [t.shape for t in ins]
        shapes_out = [t.shape for t in outs]
        self.input_shape = shapes_in if multi_in else shapes_in[0]
        self.output_shape = shapes_out if multi_out else shapes_out[0]

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The symbolic inputs of a Sequential or functional model (Keras' ``model.inputs``)."""
        return list(self._require_graph("inputs")[0])

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The symbolic outputs of a Sequential or functional model (Keras' ``model.outputs``): with
        ``inputs`` and layers' ``output``, what a new ``Model`` that sees inside this one is made of."""
        return list(self._require_graph("outputs")[1])

    def _require_graph(self, what: str) -> tuple:
        if self._graph is None:
            raise ValueError(f"model {self.name!r} has no {what}: a subclassed model's layers are not a graph, "
                             "and a Sequential model without an Input has none until it is built")
        return self._graph

    @property
    def layers(self) -> list[Layer]:
        """The layers in the order they are used (a functional model lists its InputLayers too)."""
        if self._graph is not None:
            ins, _, nodes = self._graph
            found: dict[int, Layer] = {}
            for t in ins + nodes:
                found.setdefault(id(t.layer), t.layer)
            return list(found.values())
        return _tracked_layers(self)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by position in ``layers``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; the layers are {[l.name for l in self.layers]}")

    def call(self, inputs: Any, training: bool = False) -> Any:
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs, training=False)")
        ins, outs, _ = self._graph
        given = _as_list(inputs) if self._multi_in else [inputs]
        if len(given) != len(ins):
            raise ValueError(f"model {self.name!r} takes {len(ins)} inputs; got {len(given)}")
        values = graph.run(self._steps[backend.fusion()], ins, given, training)
        results = [values[id(t)] for t in outs]
        return results if self._multi_out else results[0]

    def build(self, input_shape: Any) -> None:
        """A subclassed model builds by running ``call`` once on a zero sample, as Keras does."""
        if self._graph is not None:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        zeros = [Tensor(np.zeros((1,) + tuple(s[1:]), self.dtype)) for s in shapes]
        with no_grad():
            out = self.call(zeros if isinstance(input_shape, list) else zeros[0], training=False)
        outs = out if isinstance(out, list) else [out]
        shapes_out = [(None,) + tuple(o.shape[1:]) for o in outs]
        self.output_shape = shapes_out if isinstance(out, list) else shapes_out[0]

    def compute_output_shape(self, input_shape):
        if self.output_shape is None:
            raise ValueError(f"model {self.name!r} is not built; its output shape is unknown")
        return self.output_shape

    # ----- weights -----
    @property
    def weights(self) -> list[Parameter]:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Parameter]:
        return [w for layer in self.layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def losses(self) -> list[Tensor]:
        """Every penalty added to the loss, as Keras' ``model.losses``: the activity regularizers'
        on the last call's outputs, then each regularized weight's (scalar Tensors)."""
        activity = [p for layer in [self] + self._all_layers() for p in layer._activity_losses]
        return activity + [w.regularizer(w) for w in self.weights if getattr(w, "regularizer", None) is not None]

    @Layer.trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self.layers:
            layer.trainable = value

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"model {self.name!r} is not built yet; give it an Input or call it on data first")
        return int(sum(w.data.size for w in self.weights))

    def summary(self, print_fn=None) -> None:
        """Print the layers, their output shapes and parameter counts, and the totals, like Keras."""
        from .summary import print_summary
        print_summary(self, print_fn)

    # ----- files -----
    # Data-parallel (faltung.distributed), every rank holds the same model and only rank 0 writes files.
    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Save architecture, weights and optimizer state to one zip file (atomically): faltung's own
        format, or Keras 3's when ``filepath`` ends in ``.keras``."""
        if not distributed.is_primary():
            return
        from .saving import save_model
        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath) -> None:
        """Save only the weights, in ``model.weights`` order (Keras 3's layout for a ``.weights.h5`` name)."""
        if not distributed.is_primary():
            return
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Load weights saved by ``save_weights`` or ``save`` (or Keras' ``.weights.h5``, ``.keras``, ``.h5``)
        into this (built) model."""
        from .saving import load_weights
        load_weights(self, filepath)

    def export(self, filepath, format: str = "onnx", opset: int | None = None) -> None:
        """Write the model for other runtimes (Keras 3's spelling): ``model.export("net.onnx", format="onnx")``.

        The ONNX file takes and returns what ``predict`` does: NHWC float32 input with a dynamic batch
        axis, inputs and outputs named after their layers. ``opset`` defaults to 17. Needs ``onnx``.
        """
        if not distributed.is_primary():
            return
        from ..export import export_model
        export_model(self, filepath, format=format, opset=opset)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON (no weights): ``models.model_from_json(text)`` rebuilds it."""
        import json
        from ..version import __version__
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config(),
                           "faltung_version": __version__}, **kwargs)

    # ----- config -----
    def get_config(self) -> dict:
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__} is a subclassed model: its architecture is Python "
                                      "code, so it has no config; use save_weights/load_weights")
        ins, outs, nodes = self._graph
        calls: dict[int, int] = {}
        node_ids: dict[int, list] = {}
        for t in ins + nodes:  # a shared layer has one node per call: (layer name, call index)
            index = calls.get(id(t.layer), 0)
            calls[id(t.layer)] = index + 1
            node_ids[id(t)] = [t.layer.name, index]
        return {
            "name": self.name, "trainable": self.trainable,
            "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self.layers],
            "nodes": [{"layer": t.layer.name, "inbound": [node_ids[id(p)] for p in t.parents],
                       "takes_list": t.takes_list} for t in nodes],
            "inputs": [node_ids[id(t)] for t in ins], "outputs": [node_ids[id(t)] for t in outs],
            "multi_input": self._multi_in, "multi_output": self._multi_out,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Model":
        layers = {}
        for entry in config["layers"]:
            layer = layer_from_config(entry)
            layers[layer.name] = layer
        tensors: dict[tuple, SymbolicTensor] = {}
        for name, index in config["inputs"]:
            layer = _named(layers, name)
            tensors[(name, index)] = SymbolicTensor(layer.batch_shape, layer.dtype, layer)
        calls: dict[str, int] = {}
        for node in config["nodes"]:
            layer = _named(layers, node["layer"])
            parents = [tensors[(n, i)] for n, i in node["inbound"]]
            index = calls.get(layer.name, 0)
            calls[layer.name] = index + 1
            tensors[(layer.name, index)] = layer(parents if node["takes_list"] else parents[0])
        ins = [tensors[(n, i)] for n, i in config["inputs"]]
        outs = [tensors[(n, i)] for n, i in config["outputs"]]
        model = cls(ins if config["multi_input"] else ins[0], outs if config["multi_output"] else outs[0],
                    name=config["name"])
        if not config.get("trainable", True):  # the layers' own flags were restored by their configs
            model.trainable = False
        return model


def layer_from_config(entry: dict) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}`` via faltung's own registry."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(f"a layer entry must be {{'class_name': str, 'config': dict}}; got {entry!r:.200}")
    cls = get_layer_class(entry.get("class_name"))
    try:
        return cls.from_config(dict(entry["config"]))
    except TypeError as err:
        raise ValueError(f"bad config for layer class {entry['class_name']!r}: {err}") from None


def check_unique_names(layers: list[Layer]) -> None:
    seen: set[str] = set()
    for layer in layers:
        if layer.name in seen:
            raise ValueError(f"two different layers are named {layer.name!r}; layer names in a model must be unique")
        seen.add(layer.name)


def _named(layers: dict, name: str) -> Layer:
    if name not in layers:
        raise ValueError(f"the graph refers to a layer {name!r} that the config does not define")
    return layers[name]


def _tracked_layers(model: Model) -> list[Layer]:
    """A subclassed model's layers: its Layer attributes (and lists of them), in assignment order."""
    found: dict[int, Layer] = {}
    for value in vars(model).values():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(item, Layer) and item is not model:
                found.setdefault(id(item), item)
    return list(found.values())
