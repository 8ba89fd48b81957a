"""The ``Layer`` base class: weights, build-on-first-call, config, and calls on symbolic inputs.

A layer is called on arrays/Tensors (it computes) or on the symbolic tensors
that ``Input`` makes (it records a node of a functional graph and works out
its output shape without computing anything), exactly as in Keras.
"""
from __future__ import annotations

import re
import weakref
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from .. import backend, constraints, initializers, regularizers, registry
from ..autograd import Parameter, Tensor, tensor
from .deferred import current_deferral

_NAME_COUNTS: dict[str, int] = defaultdict(int)
backend._session_resets.append(_NAME_COUNTS.clear)  # keras.backend.clear_session() restarts the names

Shape = tuple  # a shape whose batch entry may be None


def register(cls: type) -> type:
    """Make a layer class loadable by name from a saved config (no imports, no code from files)."""
    return registry.register("layer")(cls)


def register_user_class(cls: type) -> type:
    """Register a user's layer (or model) class, which may never take the name of one of faltung's own:
    a file must never load a class other than the one it was saved with. A redefined class (a re-run
    notebook cell) replaces its earlier version."""
    taken = registry.entries("layer").get(cls.__name__)
    if taken is not None and taken is not cls and taken.__module__.startswith("faltung."):
        raise ValueError(f"cannot register {cls.__module__}.{cls.__qualname__}: the name {cls.__name__!r} is "
                         f"faltung's own {taken.__module__}.{taken.__qualname__}; rename your class")
    return register(cls)


def get_layer_class(name: str) -> type:
    """The registered layer class called ``name``, or a ValueError naming it."""
    return registry.lookup("layer", name)


def registered_layers() -> dict[str, type]:
    """Every layer class a config may name, by name."""
    return registry.entries("layer")


def snake_case(name: str) -> str:
    """Keras' default layer names: Conv2D -> conv2d, MaxPool2D -> max_pool2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``base``, then ``base_1``, ``base_2``, ... like Keras."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


class SymbolicTensor:
    """A placeholder for a layer's output in a functional graph (Keras' KerasTensor).

    ``shape`` has None for the batch axis; ``layer`` made it from ``parents``
    (a list when the layer was called on a list, like ``Add()([a, b])``).
    """

    def __init__(self, shape: Shape, dtype, layer: "Layer", parents: Sequence["SymbolicTensor"] = (),
                 takes_list: bool = False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.layer = layer
        self.parents = tuple(parents)
        self.takes_list = takes_list
        # weakly: a graph that is dropped (a Sequential model rebuilt after pop()) leaves its layers
        layer._nodes = [ref for ref in layer._nodes if ref() is not None] + [weakref.ref(self)]

    ndim = property(lambda self: len(self.shape))

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} from layer {self.layer.name!r}>"


def graph_order(outputs: list[SymbolicTensor]) -> list[SymbolicTensor]:
    """Every symbolic tensor the outputs depend on, each after its parents (iterative DFS)."""
    order, seen, stack = [], set(), [(t, False) for t in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order


def _is_symbolic(inputs: Any) -> bool:
    if isinstance(inputs, (list, tuple)):
        return any(isinstance(i, SymbolicTensor) for i in inputs)
    return isinstance(inputs, SymbolicTensor)


class Layer:
    """Base class of every layer: holds Parameters, builds itself from the first input shape.

    Subclasses implement ``build(input_shape)`` (create weights with ``add_weight``),
    ``call(x, training=False)`` and ``compute_output_shape(input_shape)``, and
    extend ``get_config()`` with their constructor arguments.
    """

    def __init__(self, name: str | None = None, trainable: bool = True, dtype=None,
                 input_shape: Sequence[int] | None = None, activity_regularizer: Any = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"name must be a non-empty string without '/'; got {name!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = np.dtype(dtype or backend.floatx())
        self.built = False
        self._trainable = bool(trainable)
        self._weights: list[Parameter] = []
        # Keras 2 style `input_shape=` on the first layer of a Sequential model
        self.declared_input_shape = None if input_shape is None else tuple(input_shape)
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        # a penalty on this layer's output, added to the loss (Keras)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._activity_losses: list[Tensor] = []
        self._nodes: list[weakref.ref] = []  # the symbolic outputs of this layer's calls in graphs

    @property
    def output(self) -> "SymbolicTensor":
        """The symbolic output of this layer's one call in a graph (Keras' ``layer.output``):
        ``Model(model.inputs, layer.output)`` computes what the layer outputs inside ``model``."""
        nodes = [t for t in (ref() for ref in self._nodes) if t is not None]
        if len(nodes) != 1:
            raise ValueError(f"layer {self.name!r} has {'no' if not nodes else len(nodes)} calls in a graph, so it "
                             "has no single output; it needs exactly one (in a Sequential or functional model)")
        return nodes[0]

    # ----- weights -----
    def add_weight(self, name: str, shape: Sequence[int], initializer: Any = "glorot_uniform",
                   trainable: bool = True, regularizer: Any = None, constraint: Any = None) -> Parameter:
        """Create, remember and return a weight called ``<layer name>/<name>`` (see ``deferred_weights``).

        ``regularizer(weight)`` is added to the training loss (``layer.losses``); ``constraint(array)``
        replaces the weight after every optimizer step, as in Keras.
        """
        shape = tuple(shape)
        init = initializers.get(initializer)  # resolved even when deferred: a bad name fails at build time
        deferral = current_deferral()
        if deferral is None:
            value = np.asarray(init(shape, dtype=self.dtype), dtype=self.dtype)
        else:
            value = deferral.placeholder(f"{self.name}/{name}", shape, self.dtype)
        weight = Parameter(value, name=f"{self.name}/{name}", trainable=trainable)
        weight.requires_grad = trainable and self._trainable
        weight.regularizer = regularizers.get(regularizer)
        weight.constraint = constraints.get(constraint)
        if deferral is not None:
            deferral.created.append((weight, init))
        self._weights.append(weight)
        return weight

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for w in self._weights:  # frozen weights need no gradient at all
            w.requires_grad = self._trainable and w.trainable

    @property
    def weights(self) -> list[Parameter]:
        """All weights, trainable first in creation order, as Keras lists them."""
        return list(self._weights)

    @property
    def trainable_weights(self) -> list[Parameter]:
        return [w for w in self.weights if w.trainable and self.trainable]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        return [w for w in self.weights if not (w.trainable and self.trainable)]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, in Keras' order and shapes (e.g. [kernel, bias])."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Overwrite the weights in place from arrays in ``get_weights()``'s order and shapes."""
        current = self.weights
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(f"layer {self.name!r} has {len(current)} weights; got a list of {len(weights)}")
        arrays = []
        for w, value in zip(current, weights):
            value = np.asarray(value)
            if value.shape != w.data.shape:
                raise ValueError(f"weight {w.name!r} has shape {w.data.shape}; got an array of shape {value.shape}")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"weight {w.name!r} needs numbers; got dtype {value.dtype}")
            arrays.append(value)
        for w, value in zip(current, arrays):  # all checked first: a bad list changes nothing
            w.data[...] = value

    @property
    def losses(self) -> list[Tensor]:
        """The penalties this layer adds to the loss (Keras' ``layer.losses``): the activity
        regularizer's on the last output, then each regularized weight's, as scalar Tensors."""
        return list(self._activity_losses) + [w.regularizer(w) for w in self.weights
                                              if getattr(w, "regularizer", None) is not None]

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"layer {self.name!r} is not built yet, so its weights do not exist; "
                             "call it on data or give the model an Input first")
        return int(sum(w.data.size for w in self.weights))

    # ----- building and calling -----
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis may be None)."""
        self.built = True

    def call(self, x: Any, training: bool = False) -> Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        if _is_symbolic(inputs):
            return self._call_symbolic(inputs)
        takes_list = isinstance(inputs, (list, tuple))
        xs = [self._as_input(x) for x in (inputs if takes_list else [inputs])]
        shapes = [x.shape for x in xs]
        self._ensure_built(shapes if takes_list else shapes[0])
        out = self.call(xs if takes_list else xs[0], training=bool(training))
        if self.activity_regularizer is not None:
            self._record_activity(out)
        return out

    def _record_activity(self, out: Any) -> None:
        """Keras 3: the activity penalty of each output, divided by its batch size."""
        self._activity_losses = []
        for o in (out if isinstance(out, (list, tuple)) else [out]):
            penalty = self.activity_regularizer(o)
            self._activity_losses.append(penalty / max(o.shape[0], 1) if o.ndim else penalty)

    def _as_input(self, x: Any) -> Tensor:
        """A Tensor in this layer's dtype: integer images become float (Keras casts them too)."""
        t = x if isinstance(x, Tensor) else tensor(np.asarray(x))
        if t.dtype != self.dtype and t.dtype.kind in "fiub":
            t = t.astype(self.dtype) if t.requires_grad else Tensor(t.data.astype(self.dtype))
        return t

    def _ensure_built(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.input_shape = _batchless(input_shape)
            self.output_shape = _batchless(self.compute_output_shape(input_shape))

    def _call_symbolic(self, inputs: Any) -> SymbolicTensor:
        takes_list = isinstance(inputs, (list, tuple))
        parents = list(inputs) if takes_list else [inputs]
        if not all(isinstance(p, SymbolicTensor) for p in parents):
            raise TypeError(f"layer {self.name!r}: mix of symbolic (Input) tensors and arrays in one call")
        shapes = [p.shape for p in parents]
        self._ensure_built(shapes if takes_list else shapes[0])
        out_shape = self.compute_output_shape(shapes if takes_list else shapes[0])
        return SymbolicTensor(out_shape, self.dtype, self, parents, takes_list)

    # ----- config -----
    def get_config(self) -> dict:
        """The constructor arguments, JSON-able; ``type(self).from_config(cfg)`` rebuilds the layer."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.declared_input_shape is not None:
            config["input_shape"] = list(self.declared_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _batchless(shape: Any) -> Any:
    """Keras reports shapes with a None batch axis."""
    if isinstance(shape, list):
        return [_batchless(s) for s in shape]
    return (None,) + tuple(shape)[1:]
