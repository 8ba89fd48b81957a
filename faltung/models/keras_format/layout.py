"""Where Keras 3 keeps each number: the order of a model's layers, the HDF5 path of each layer's
variables, and the order of an optimizer's variables.

Keras 3 stores a layer's variables under ``layers/<snake_case class name>[_<n>]/vars/<i>``: the
path comes from the class and from the layer's place in ``model.layers``, never from its name
(``conv2d``, ``conv2d_1``, ... count Conv2D layers in that order; a nested model adds its own
``layers/`` level). So the order of ``model.layers`` decides which weights go where, and for a
functional model Keras orders layers by their depth in the graph, not by creation: faltung must
use the same order to read and write the same paths. ``<i>`` counts a layer's variables,
trainable ones (as created) first, then the others.

An optimizer's variables (``optimizer/vars/<i>``) are the step count, the learning rate when it
is a plain number, then the slots of each trainable variable in ``model.trainable_variables``
order, grouped as each Keras optimizer creates them.
"""
from __future__ import annotations

from typing import Iterator

from ...autograd import Parameter
from ...layers.base import Layer, snake_case
from ..model import Model
from ..sequential import Sequential


def keras_class_name(layer: Layer) -> str:
    """The class name Keras gives ``layer``: a functional ``Model`` is Keras' ``Functional``."""
    if isinstance(layer, Sequential):
        return "Sequential"
    if isinstance(layer, Model):
        if layer._graph is None:
            raise ValueError(f"model {layer.name!r} is a subclassed model (its architecture is Python code), "
                             "which Keras' files cannot describe; use faltung's own format (.faltung)")
        return "Functional"
    return type(layer).__name__


def layer_order(model: Model) -> list[Layer]:
    """``model.layers`` as Keras 3 lists them.

    Sequential: the stack without its InputLayer. Functional: Keras walks the graph depth-first
    from the outputs (each node's inputs in order), numbers every layer when it first meets it,
    gives each node a depth (the longest path from it to an output), and sorts layers by their
    deepest node, deepest first, ties by that first meeting. InputLayers are included.
    """
    if isinstance(model, Sequential):
        return list(model.layers)
    keras_class_name(model)  # refuses subclassed models
    inputs, outputs, _ = model._graph
    first_seen: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    post_order = []  # nodes (symbolic tensors), every node after the nodes it reads
    done: set[int] = set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            post_order.append(node)
            continue
        if id(node) in done:
            continue
        done.add(id(node))
        first_seen.setdefault(id(node.layer), len(first_seen))
        layers[id(node.layer)] = node.layer
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents))
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        for parent in node.parents:
            node_depth[id(parent)] = max(node_depth.get(id(parent), 0), depth + 1)
    for t in inputs:  # an input no output depends on still belongs to the model
        if id(t.layer) not in layer_depth:
            layers[id(t.layer)], layer_depth[id(t.layer)], first_seen[id(t.layer)] = t.layer, 0, -1
    return sorted(layers.values(), key=lambda l: (-layer_depth[id(l)], first_seen[id(l)]))


def variables(layer: Layer) -> list[Parameter]:
    """A (non-model) layer's weights in Keras' order: those created trainable, then the others."""
    weights = layer.weights
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def walk(model: Model, path: str = "") -> Iterator[tuple[str, Layer]]:
    """``(path, layer)`` for the model and every layer inside it, each path as Keras names its group
    (``""`` for the model itself, ``layers/conv2d``, ``layers/sequential/layers/dense``, ...)."""
    yield path, model
    taken: dict[str, int] = {}
    for layer in layer_order(model):
        base = snake_case(keras_class_name(layer))
        count = taken[base] = taken.get(base, -1) + 1
        child = f"{path}/layers/{base}" if path else f"layers/{base}"
        child += f"_{count}" if count else ""
        if isinstance(layer, Model):
            yield from walk(layer, child)
        else:
            yield child, layer


def weight_paths(model: Model) -> dict[str, Parameter]:
    """``{"layers/conv2d/vars/0": kernel, ...}``: every weight of ``model`` under its Keras 3 path."""
    paths = {}
    for path, layer in walk(model):
        if not isinstance(layer, Model):
            for i, w in enumerate(variables(layer)):
                paths[f"{path}/vars/{i}"] = w
    return paths


def trainable_variables(model: Model) -> list[Parameter]:
    """``model.trainable_variables`` in Keras' order (the optimizer's slots follow it)."""
    trainable = {id(w) for w in model.trainable_weights}
    return [w for path, layer in walk(model) if not isinstance(layer, Model)
            for w in variables(layer) if id(w) in trainable]


# Keras' optimizers create slots with one call per group, which interleaves the group's names per
# variable (Adam: m0, v0, m1, v1, ...); groups follow each other (RMSprop: all velocities, then all
# momentums). Optimizers not listed here make one group per slot.
_SLOT_GROUPS = {"Adam": [("momentum", "velocity"), ("velocity_hat",)],
                "AdamW": [("momentum", "velocity"), ("velocity_hat",)]}


def optimizer_variables(model: Model) -> list[tuple[str, Parameter | None]]:
    """For each of Keras' ``optimizer/vars/<i>`` of ``model``'s compiled optimizer: the key of
    ``Optimizer.get_state(model.trainable_weights)`` holding it and the model weight it belongs to.
    That is ``("iterations", None)``, ``("learning_rate", None)`` when the rate is a number, then
    ``("<slot>/<position in model.trainable_weights>", weight)`` in Keras' order."""
    optimizer = model.optimizer
    slots = [name for name, _ in optimizer._slot_specs()]
    groups = [tuple(s for s in group if s in slots) for group in _SLOT_GROUPS.get(type(optimizer).__name__, [])]
    groups = [g for g in groups if g] or [(s,) for s in slots]
    position = {id(w): i for i, w in enumerate(model.trainable_weights)}
    weights = trainable_variables(model)
    keys: list[tuple[str, Parameter | None]] = [("iterations", None)]
    if not callable(optimizer._learning_rate):
        keys.append(("learning_rate", None))
    return keys + [(f"{name}/{position[id(w)]}", w) for group in groups for w in weights for name in group]
