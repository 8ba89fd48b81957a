"""One converter per exportable layer class: the layer's inference-time computation as ONNX nodes.

A converter takes the builder, the layer, its input ``Value``s and a base name (the layer's
name, scoped by any enclosing model) and returns the output ``Value``. Shapes are faltung's
channels-last shapes; ``Value.nchw`` says how a 4-D tensor is actually stored (see
``onnx_graph``). ``CONVERTERS`` is keyed by the exact class: a user's subclass may compute
something else in its ``call``, so it is refused rather than exported wrongly.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import layers as L
from ..kernels.padding import same_pads
from . import onnx_activations as act
from .onnx_graph import GraphBuilder, Value

Converter = Callable[[GraphBuilder, Any, list, str], Value]


def single_input(layer: Any, inputs: list, base: str) -> Value:
    if len(inputs) != 1:
        raise ValueError(f"layer {base!r} ({type(layer).__name__}) takes one input; got {len(inputs)}")
    return inputs[0]


def explicit_pads(layer: Any, base: str, in_hw: tuple, kernel: tuple, strides: tuple,
                  dilation: tuple = (1, 1)) -> list[int]:
    """ONNX ``pads`` ``[top, left, bottom, right]`` (all begins, then all ends) for a conv or pool.

    'same' becomes TensorFlow's asymmetric pads (the extra pixel at the bottom/right), never
    ``auto_pad``. With stride 1 those pads do not depend on the input size, so an unknown
    size is fine; with a larger stride they do, so the size must be known.
    """
    padding = layer.padding
    if padding == "valid":
        return [0, 0, 0, 0]
    if padding == "same":
        pairs = []
        for axis, n, k, s, d in zip(("height", "width"), in_hw, kernel, strides, dilation):
            if n is None and s != 1:
                raise ValueError(f"layer {base!r}: 'same' padding with stride {s} needs a known input {axis}; "
                                 f"got input shape {in_hw} (give the model's Input a fixed size)")
            pairs.append(same_pads(1 if n is None else n, k, s, d))
    else:
        pairs = list(padding)
    (top, bottom), (left, right) = pairs
    return [int(top), int(left), int(bottom), int(right)]


def conv2d(b: GraphBuilder, layer: L.Conv2D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    pads = explicit_pads(layer, base, x.shape[1:3], layer.kernel_size, layer.strides, layer.dilation_rate)
    # faltung's kernel is (kh, kw, C_in, C_out), the lecture's f[i', j', k, r]; ONNX wants (C_out, C_in, kh, kw)
    args = [b.nchw(x, base), b.const(f"{base}/kernel", layer.kernel.data.transpose(3, 2, 0, 1),
                                     key=(id(layer), "kernel"))]
    if layer.use_bias:
        args.append(b.const(f"{base}/bias", layer.bias.data, key=(id(layer), "bias")))
    y = b.op("Conv", args, base, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate), pads=pads)
    return act.apply(b, layer.activation, Value(y, layer.compute_output_shape(x.shape), nchw=True), base)


def _pool(op_type: str, **extra: Any) -> Converter:
    def convert(b: GraphBuilder, layer: Any, inputs: list, base: str) -> Value:
        x = single_input(layer, inputs, base)
        pads = explicit_pads(layer, base, x.shape[1:3], layer.pool_size, layer.strides)
        y = b.op(op_type, [b.nchw(x, base)], base, kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                 pads=pads, **extra)
        return Value(y, layer.compute_output_shape(x.shape), nchw=True)
    convert.__doc__ = f"{op_type} on the NCHW layout with TensorFlow's explicit pads."
    return convert


# MaxPool never lets a pad win (ONNX: "maximum ... exclude pad"); AveragePool with
# count_include_pad=0 divides a border window by its real cells only: Keras' 'same' average.
max_pool2d = _pool("MaxPool")
average_pool2d = _pool("AveragePool", count_include_pad=0)


def _global_pool(op_type: str) -> Converter:
    def convert(b: GraphBuilder, layer: Any, inputs: list, base: str) -> Value:
        x = single_input(layer, inputs, base)
        y = b.op(op_type, [b.nchw(x, base)], base)  # (N, C, 1, 1)
        if layer.keepdims:
            return Value(y, layer.compute_output_shape(x.shape), nchw=True)
        return Value(b.op("Flatten", [y], base, axis=1), layer.compute_output_shape(x.shape))
    convert.__doc__ = f"{op_type} over height and width: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims."
    return convert


def dense(b: GraphBuilder, layer: L.Dense, inputs: list, base: str) -> Value:
    """x · W + b on the last axis; W is faltung's (in, units) as it is."""
    x = single_input(layer, inputs, base)
    name = b.nhwc(x, base)
    kernel = b.const(f"{base}/kernel", layer.kernel.data, key=(id(layer), "kernel"))
    bias = b.const(f"{base}/bias", layer.bias.data, key=(id(layer), "bias")) if layer.use_bias else None
    if x.rank == 2:
        y = b.op("Gemm", [name, kernel] + ([bias] if bias else []), base)
    else:  # Dense on (N, ..., in) acts on the last axis, like Keras
        y = b.op("MatMul", [name, kernel], base)
        y = b.op("Add", [y, bias], base) if bias else y
    return act.apply(b, layer.activation, Value(y, layer.compute_output_shape(x.shape)), base)


def flatten(b: GraphBuilder, layer: L.Flatten, inputs: list, base: str) -> Value:
    """Channels-last order (the stored NCHW data is transposed back first), so Dense weights fit as they are."""
    x = single_input(layer, inputs, base)
    if x.rank == 2:
        return x
    return Value(b.op("Flatten", [b.nhwc(x, base)], base, axis=1), layer.compute_output_shape(x.shape))


def reshape(b: GraphBuilder, layer: L.Reshape, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    shape = b.ints(f"{base}/shape", [0, *layer.target_shape])  # 0: keep the (dynamic) batch size
    return Value(b.op("Reshape", [b.nhwc(x, base), shape], base), layer.compute_output_shape(x.shape))


def activation(b: GraphBuilder, layer: L.Activation, inputs: list, base: str) -> Value:
    return act.apply(b, layer.activation, single_input(layer, inputs, base), base)


def relu(b: GraphBuilder, layer: L.ReLU, inputs: list, base: str) -> Value:
    return act.relu_layer(b, layer, single_input(layer, inputs, base), base)


def softmax(b: GraphBuilder, layer: L.Softmax, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    return Value(b.op("Softmax", [x.name], base, axis=x.physical_axis(layer.axis)), x.shape, x.nchw)


def identity(b: GraphBuilder, layer: Any, inputs: list, base: str) -> Value:
    """Dropout and the augmentation layers that do nothing at inference: no node at all."""
    return single_input(layer, inputs, base)


def rescaling(b: GraphBuilder, layer: L.Rescaling, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    y = b.op("Mul", [x.name, b.scalar(f"{base}/scale", layer.scale)], base)
    if layer.offset:
        y = b.op("Add", [y, b.scalar(f"{base}/offset", layer.offset)], base)
    return Value(y, x.shape, x.nchw)


def batch_normalization(b: GraphBuilder, layer: L.BatchNormalization, inputs: list, base: str) -> Value:
    """Inference form with the moving statistics: ONNX's BatchNormalization on (N, C) or NCHW input;
    on other ranks the same affine map, folded into one Mul and one Add over the last axis."""
    x = single_input(layer, inputs, base)
    channels = layer.moving_mean.data.shape[0]
    gamma = layer.gamma.data if layer.gamma is not None else np.ones(channels, np.float32)
    beta = layer.beta.data if layer.beta is not None else np.zeros(channels, np.float32)
    mean, var = layer.moving_mean.data, layer.moving_variance.data
    if x.rank in (2, 4):
        args = [b.nchw(x, base)] + [b.const(f"{base}/{n}", a, key=(id(layer), n)) for n, a in
                                    (("gamma", gamma), ("beta", beta), ("moving_mean", mean),
                                     ("moving_variance", var))]
        return Value(b.op("BatchNormalization", args, base, epsilon=layer.epsilon), x.shape, x.rank == 4)
    scale = gamma / np.sqrt(var.astype(np.float64) + layer.epsilon)
    shift = beta - mean * scale
    y = b.op("Mul", [x.name, b.const(f"{base}/scale", scale, key=(id(layer), "scale"))], base)
    return Value(b.op("Add", [y, b.const(f"{base}/shift", shift, key=(id(layer), "shift"))], base), x.shape)


def zero_padding2d(b: GraphBuilder, layer: L.ZeroPadding2D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    (top, bottom), (left, right) = layer.padding
    # Pad's pads: every axis' begin, then every axis' end, in the stored layout
    begins, ends = [0, top, left, 0], [0, bottom, right, 0]
    if x.nchw:
        begins, ends = [begins[a] for a in (0, 3, 1, 2)], [ends[a] for a in (0, 3, 1, 2)]
    y = b.op("Pad", [x.name, b.ints(f"{base}/pads", begins + ends)], base, mode="constant")
    return Value(y, layer.compute_output_shape(x.shape), x.nchw)


def random_crop(b: GraphBuilder, layer: L.RandomCrop, inputs: list, base: str) -> Value:
    """At inference RandomCrop takes the central window: a Slice (the offsets need a known size)."""
    x = single_input(layer, inputs, base)
    h, w = x.shape[1:3]
    if h is None or w is None:
        raise ValueError(f"layer {base!r}: RandomCrop's central window needs a known input size; "
                         f"got input shape {x.shape}")
    top, left = (h - layer.height) // 2, (w - layer.width) // 2
    axes = [x.physical_axis(1), x.physical_axis(2)]
    y = b.op("Slice", [x.name, b.ints(f"{base}/starts", [top, left]),
                       b.ints(f"{base}/ends", [top + layer.height, left + layer.width]),
                       b.ints(f"{base}/axes", axes)], base)
    return Value(y, layer.compute_output_shape(x.shape), x.nchw)


def add(b: GraphBuilder, layer: L.Add, inputs: list, base: str) -> Value:
    names, nchw = b.common_layout(inputs, base)
    total = names[0]
    for name in names[1:]:  # left to right, as faltung sums
        total = b.op("Add", [total, name], base)
    return Value(total, layer.compute_output_shape([v.shape for v in inputs]), nchw)


def concatenate(b: GraphBuilder, layer: L.Concatenate, inputs: list, base: str) -> Value:
    names, nchw = b.common_layout(inputs, base)
    like = Value(names[0], inputs[0].shape, nchw)
    y = b.op("Concat", names, base, axis=like.physical_axis(layer.axis))
    return Value(y, layer.compute_output_shape([v.shape for v in inputs]), nchw)


CONVERTERS: dict[type, Converter] = {
    L.Conv2D: conv2d,
    L.MaxPooling2D: max_pool2d,
    L.AveragePooling2D: average_pool2d,
    L.GlobalAveragePooling2D: _global_pool("GlobalAveragePool"),
    L.GlobalMaxPooling2D: _global_pool("GlobalMaxPool"),
    L.Dense: dense,
    L.Flatten: flatten,
    L.Reshape: reshape,
    L.Activation: activation,
    L.ReLU: relu,
    L.Softmax: softmax,
    L.Dropout: identity,
    L.RandomFlip: identity,
    L.RandomTranslation: identity,
    L.RandomCrop: random_crop,
    L.Rescaling: rescaling,
    L.BatchNormalization: batch_normalization,
    L.ZeroPadding2D: zero_padding2d,
    L.Add: add,
    L.Concatenate: concatenate,
}
