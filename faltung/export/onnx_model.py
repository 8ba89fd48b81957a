"""A whole faltung model as one ONNX ``ModelProto``: walk its graph, name its inputs and outputs.

Sequential stacks, functional graphs (shared layers, several inputs or outputs) and models
nested inside them are walked layer by layer; the ONNX graph takes and returns
channels-last (NHWC) tensors with a dynamic batch axis, named after the faltung layers.
"""
from __future__ import annotations

from typing import Any

import onnx
from onnx import TensorProto, helper

from .. import registry
from ..layers.base import graph_order
from ..layers.core import InputLayer
from ..version import __version__
from . import DEFAULT_OPSET, onnx_keras_layers, onnx_layers
from .onnx_graph import GraphBuilder, Value

# faltung's first layers and Keras' other CNN layers live in two modules; one table serves both
CONVERTERS = {**onnx_layers.CONVERTERS, **onnx_keras_layers.CONVERTERS}
REFUSED = onnx_keras_layers.REFUSED
BATCH = "batch"


def check_opset(opset: Any) -> int:
    """``opset`` as an int between 17 and the newest opset the installed onnx package knows."""
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool) or not DEFAULT_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an int from {DEFAULT_OPSET} to {newest} (the newest this onnx "
                         f"{onnx.__version__} knows); got {opset!r}")
    return opset


def _graph(model: Any) -> tuple[list, list, list]:
    """The symbolic inputs, outputs and, in order, the other tensors of a Sequential or functional
    model's graph (a subclassed model has none: its architecture is Python code)."""
    try:
        ins, outs = model.inputs, model.outputs
    except ValueError:
        if not model.built:
            raise ValueError(f"model {model.name!r} is not built: give it an Input (or call it on data) so its "
                             "input shape is known before exporting") from None
        raise ValueError(f"model {model.name!r} is a subclassed model ({type(model).__name__}): its "
                         "architecture is Python code, which cannot be exported to ONNX; build it as a "
                         "Sequential or functional model") from None
    return ins, outs, [t for t in graph_order(outs) if all(t is not i for i in ins)]


def _model_inputs(model: Any) -> list[InputLayer]:
    """The InputLayers a top-level model starts from, or a ValueError saying why there are none."""
    return [t.layer for t in _graph(model)[0]]


def _model_output_layers(model: Any) -> list:
    return [t.layer for t in _graph(model)[1]]


def convert_model(b: GraphBuilder, model: Any, inputs: list[Value], scope: str) -> list[Value]:
    """``model``'s layers as nodes on ``inputs``; returns its output values. ``scope`` prefixes node names."""
    ins, outs, nodes = _graph(model)
    if len(inputs) != len(ins):
        raise ValueError(f"model {scope + model.name!r} takes {len(ins)} inputs; got {len(inputs)}")
    values = {id(t): v for t, v in zip(ins, inputs)}
    for t in nodes:
        values[id(t)] = convert_layer(b, t.layer, [values[id(p)] for p in t.parents], scope)
    return [values[id(t)] for t in outs]


def convert_layer(b: GraphBuilder, layer: Any, inputs: list[Value], scope: str) -> Value:
    """One layer (or a nested model) as nodes; an unknown layer class is a ValueError naming the layer."""
    base = scope + layer.name
    converter = CONVERTERS.get(type(layer))
    if converter is not None:
        return converter(b, layer, inputs, base)
    if type(layer) in REFUSED:
        raise ValueError(f"layer {base!r} of class {type(layer).__name__} cannot be exported to ONNX: "
                         f"{REFUSED[type(layer)]}")
    if isinstance(layer, registry.lookup("layer", "Model")):  # a nested model (models sit above export)
        outputs = convert_model(b, layer, inputs, base + "/")
        if len(outputs) != 1:
            raise ValueError(f"nested model {base!r} has {len(outputs)} outputs; only single-output models "
                             "can be nested in an exported model")
        return outputs[0]
    known = ", ".join(sorted({cls.__name__ for cls in CONVERTERS} | {"InputLayer", "Sequential", "Model"}))
    raise ValueError(f"layer {base!r} of class {type(layer).__name__} cannot be exported to ONNX; "
                     f"exportable layers: {known}")


def _dims(shape: tuple, prefix: str) -> list:
    """ONNX dims: the batch axis symbolic ('batch'), unknown sizes symbolic too, known sizes as ints."""
    return [BATCH if i == 0 else (f"{prefix}_dim{i}" if d is None else int(d)) for i, d in enumerate(shape)]


def _finish_outputs(b: GraphBuilder, values: list[Value], names: list[str], input_names: set[str]) -> list:
    """Give each output value its layer's name, in faltung's own NHWC layout."""
    infos, renamed = [], {}
    for value, name in zip(values, names):
        source = renamed.get(value.name, value.name)
        if value.nchw:  # the last op ran channels-first: transpose straight into the named output
            b.nodes.append(helper.make_node("Transpose", [source], [name], name=b.fresh(f"{name}/Transpose"),
                                            perm=[0, 2, 3, 1]))
        elif source in input_names or source in renamed.values() or not any(source in n.output for n in b.nodes):
            b.nodes.append(helper.make_node("Identity", [source], [name], name=b.fresh(f"{name}/Identity")))
        else:  # the producing node writes the output directly: no extra node
            b.rename(source, name)
            renamed[value.name] = name
        infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, _dims(value.shape, name)))
    return infos


def _unique(names: list[str]) -> list[str]:
    """Output names: a layer's name, with _1, _2, ... where one layer gives several outputs."""
    out, seen = [], set()
    for name in names:
        candidate, count = name, 0
        while candidate in seen:
            count += 1
            candidate = f"{name}_{count}"
        seen.add(candidate)
        out.append(candidate)
    return out


def to_onnx(model: Any, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """``model`` (built, Sequential or functional) as a checked ONNX model of opset ``opset``.

    Input ``(N, H, W, C)`` float32 per model input, output ``(N, ...)`` per model output, exactly
    what ``model.predict`` takes and returns; ``N`` is dynamic. Weights are stored as float32.
    """
    opset = check_opset(opset)
    input_layers = _model_inputs(model)
    b = GraphBuilder()
    input_names = [layer.name for layer in input_layers]
    for name in input_names:
        b.reserve(name)
    output_names = _unique([layer.name for layer in _model_output_layers(model)])
    output_names = [n if n not in input_names else f"{n}_output" for n in output_names]
    for name in output_names:
        b.reserve(name)

    inputs = [Value(layer.name, (None,) + tuple(layer.batch_shape[1:])) for layer in input_layers]
    outputs = convert_model(b, model, inputs, "")
    graph = helper.make_graph(
        b.nodes, model.name,
        [helper.make_tensor_value_info(v.name, TensorProto.FLOAT, _dims(v.shape, v.name)) for v in inputs],
        _finish_outputs(b, outputs, output_names, set(input_names)), initializer=b.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="faltung", producer_version=__version__,
                              # the oldest IR version that can hold this opset: the widest choice of runtimes
                              ir_version=helper.find_min_ir_version_for(opsets),
                              doc_string=f"faltung model {model.name!r}: NHWC float32 input, dynamic batch")
    try:
        onnx.checker.check_model(proto, full_check=True)  # also runs strict shape inference
    except Exception as err:  # checker and shape-inference errors alike: faltung built a bad graph
        raise RuntimeError(f"the ONNX graph built for model {model.name!r} fails onnx.checker "
                           f"(please report this faltung bug): {err}") from err
    return proto
