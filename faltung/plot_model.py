"""``keras.utils.plot_model``: a picture of a model's layers and how they connect, drawn by Graphviz.

Needs the optional ``pydot`` (``pip install "faltung[plot-model]"``) and Graphviz's ``dot`` program
(Debian/Ubuntu: ``apt-get install graphviz``); without them the error says what to install.
"""
from __future__ import annotations

import os
from typing import Any

INSTALL = ("plot_model needs pydot and Graphviz: pip install pydot (or faltung[plot-model]) and "
           "Graphviz's dot program (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)")


def _shape(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _edges(model: Any) -> tuple[list, list]:
    """The layers to draw and the (from, to) pairs between them, for a Sequential or functional model."""
    from .layers.core import InputLayer
    from .models.sequential import Sequential
    if isinstance(model, Sequential):
        nodes = ([model._input_layer] if model._input_layer is not None else []) + model.layers
        return nodes, list(zip(nodes, nodes[1:]))
    if getattr(model, "_graph", None) is None:
        raise ValueError(f"plot_model: {type(model).__name__} is a subclassed model; its connections are Python "
                         "code that faltung cannot draw")
    ins, _, order = model._graph
    edges = []
    for t in order:
        for parent in t.parents:
            if (parent.layer, t.layer) not in edges:
                edges.append((parent.layer, t.layer))
    nodes = [t.layer for t in ins] + [l for l in model.layers if not isinstance(l, InputLayer)]
    return nodes, edges


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200,
                 show_layer_activations: bool = False, show_trainable: bool = False, **kwargs: Any):
    """The model as a ``pydot.Dot`` graph: one box per layer, arrows along the data."""
    try:
        import pydot
    except ImportError:
        raise ImportError(INSTALL) from None
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right); got {rankdir!r}")
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=str(dpi), concentrate="true")
    dot.set_node_defaults(shape="record", fontname="Helvetica")
    nodes, edges = _edges(model)
    for layer in nodes:
        title = type(layer).__name__
        if show_layer_names:
            title = f"{layer.name} ({title})"
        rows = [title]
        if show_layer_activations and hasattr(layer, "activation"):
            rows.append(f"activation: {getattr(layer.activation, '__name__', layer.activation)}")
        if show_dtype:
            rows.append(f"dtype: {layer.dtype.name}")
        if show_trainable:
            rows.append(f"trainable: {layer.trainable}")
        if show_shapes:
            rows.append(f"input: {_shape(layer.input_shape)} | output: {_shape(layer.output_shape)}")
        label = "{" + "|".join(r.replace("{", r"\{").replace("}", r"\}").replace("<", r"\<").replace(">", r"\>")
                               for r in rows) + "}"
        dot.add_node(pydot.Node(str(id(layer)), label=label))
    for a, b in edges:
        dot.add_edge(pydot.Edge(str(id(a)), str(id(b))))
    return dot


def plot_model(model: Any, to_file: str | os.PathLike = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = True, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200, show_layer_activations: bool = False,
               show_trainable: bool = False, **kwargs: Any):
    """Draw ``model`` to ``to_file`` (.png, .svg, .pdf, .jpg or .dot by its extension) and return the
    ``pydot.Dot``. ``show_shapes`` adds each layer's input and output shape, as in Keras."""
    dot = model_to_dot(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
                       show_layer_activations, show_trainable)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension not in ("png", "svg", "pdf", "jpg", "jpeg", "dot"):
        raise ValueError(f"plot_model: to_file must end in .png, .svg, .pdf, .jpg or .dot; got {to_file!r}")
    if extension == "dot":
        data = dot.to_string().encode()
    else:
        try:
            data = dot.create(format="jpeg" if extension == "jpg" else extension)
        except (FileNotFoundError, OSError) as err:
            raise ImportError(f"{INSTALL} (running dot failed: {err})") from None
    from .io import atomic_write
    atomic_write(to_file, lambda f: f.write(data))
    return dot
