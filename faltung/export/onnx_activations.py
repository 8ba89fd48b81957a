"""faltung's activations (``activation="relu"``, ``Activation``, ``ReLU``) as ONNX ops.

Each works in whatever layout its input is stored in (they are elementwise, or along an
axis that is mapped to the stored layout), so an activation never costs a transpose.
Recognised: the functions of ``faltung.functional`` that ``activation=`` strings name, and
``functools.partial`` of them with their keyword arguments (``partial(F.gelu, approximate=True)``).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

from .. import functional as F
from .onnx_graph import GraphBuilder, Value

# the keyword arguments (and defaults) each activation takes besides x
_ARGUMENTS: dict[Callable, dict[str, Any]] = {
    F.relu: {}, F.sigmoid: {}, F.tanh: {}, F.linear: {},
    F.leaky_relu: {"negative_slope": 0.2}, F.elu: {"alpha": 1.0}, F.gelu: {"approximate": False},
    F.softmax: {"axis": -1}, F.log_softmax: {"axis": -1},
}


def resolve(activation: Any, where: str) -> tuple[Callable, dict[str, Any]]:
    """The faltung function behind ``activation`` and its arguments, or a ValueError naming ``where``."""
    fn, kwargs = activation, {}
    if isinstance(activation, functools.partial) and not activation.args:
        fn, kwargs = activation.func, dict(activation.keywords)
    if fn not in _ARGUMENTS or set(kwargs) - set(_ARGUMENTS[fn]):
        names = ", ".join(sorted(f.__name__ for f in _ARGUMENTS))
        raise ValueError(f"{where}: activation {activation!r} cannot be exported to ONNX; expected one of "
                         f"{names} (or functools.partial of one with its keyword arguments)")
    return fn, {**_ARGUMENTS[fn], **kwargs}


def apply(b: GraphBuilder, activation: Any, x: Value, base: str) -> Value:
    """``activation(x)`` as ONNX nodes; ``base`` (the layer's name) prefixes the node names."""
    fn, kw = resolve(activation, f"layer {base!r}")
    if fn is F.linear:
        return x
    simple = {F.relu: "Relu", F.sigmoid: "Sigmoid", F.tanh: "Tanh"}
    if fn in simple:
        return Value(b.op(simple[fn], [x.name], base), x.shape, x.nchw)
    if fn is F.leaky_relu:
        return Value(b.op("LeakyRelu", [x.name], base, alpha=float(kw["negative_slope"])), x.shape, x.nchw)
    if fn is F.elu:
        return Value(b.op("Elu", [x.name], base, alpha=float(kw["alpha"])), x.shape, x.nchw)
    if fn in (F.softmax, F.log_softmax):
        op_type = "Softmax" if fn is F.softmax else "LogSoftmax"
        # opset >= 13: normalises along exactly this one axis (older opsets flattened the trailing axes)
        return Value(b.op(op_type, [x.name], base, axis=x.physical_axis(int(kw["axis"]))), x.shape, x.nchw)
    return Value(_gelu(b, x.name, bool(kw["approximate"]), base), x.shape, x.nchw)


def _gelu(b: GraphBuilder, x: str, approximate: bool, base: str) -> str:
    """x·Φ(x) from opset-17 ops (ONNX's own Gelu op arrived only in opset 20)."""
    half = b.scalar(f"{base}/half", 0.5)
    one = b.scalar(f"{base}/one", 1.0)
    if approximate:  # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), Keras' tanh formula
        cube = b.op("Mul", [b.op("Mul", [x, x], base), x], base)
        inner = b.op("Add", [x, b.op("Mul", [cube, b.scalar(f"{base}/c", 0.044715)], base)], base)
        t = b.op("Tanh", [b.op("Mul", [inner, b.scalar(f"{base}/sqrt_2_over_pi", math.sqrt(2 / math.pi))], base)],
                 base)
    else:  # 0.5·x·(1 + erf(x/√2))
        t = b.op("Erf", [b.op("Div", [x, b.scalar(f"{base}/sqrt2", math.sqrt(2.0))], base)], base)
    return b.op("Mul", [b.op("Mul", [x, half], base), b.op("Add", [t, one], base)], base)


def relu_layer(b: GraphBuilder, layer: Any, x: Value, base: str) -> Value:
    """Keras' general ReLU: x at or above ``threshold`` (capped at ``max_value``), below it
    ``negative_slope·(x - threshold)``."""
    slope, threshold, cap = float(layer.negative_slope), float(layer.threshold), layer.max_value
    if slope == 0 and threshold == 0:
        y = b.op("Relu", [x.name], base)
    elif threshold == 0:
        y = b.op("LeakyRelu", [x.name], base, alpha=slope)
    else:
        t = b.scalar(f"{base}/threshold", threshold)
        below = b.op("Mul", [b.op("Sub", [x.name, t], base), b.scalar(f"{base}/negative_slope", slope)], base)
        y = b.op("Where", [b.op("GreaterOrEqual", [x.name, t], base), x.name, below], base)
    if cap is not None:
        y = b.op("Min", [y, b.scalar(f"{base}/max_value", float(cap))], base)
    return Value(y, x.shape, x.nchw)
