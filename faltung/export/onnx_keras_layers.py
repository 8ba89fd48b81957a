"""ONNX converters for Keras' other CNN layers (depthwise, separable, transposed and 1-D convolutions,
resizing, cropping, parametric activations, layer/group normalisation, merges, preprocessing), and the
layers refused by name with the reason."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, layers as L
from ..functional.depthwise import transpose_crop
from ..functional.resize import aspect_crop
from ..kernels.padding import same_pads
from .onnx_graph import GraphBuilder, Value
from .onnx_layers import single_input, explicit_pads
from . import onnx_activations as act

# Classes that cannot be exported, and why (a ValueError names the layer and gives the reason).
REFUSED = {
    L.Lambda: "a Lambda layer is arbitrary Python code, which has no ONNX form",
}


def _weight(b: GraphBuilder, layer: Any, base: str, name: str, array: np.ndarray) -> str:
    return b.const(f"{base}/{name}", array, key=(id(layer), name))


def depthwise_conv2d(b: GraphBuilder, layer: L.DepthwiseConv2D, inputs: list, base: str) -> Value:
    """A grouped Conv with one group per input channel: kernel (kh, kw, C, M) -> (C·M, 1, kh, kw)."""
    x = single_input(layer, inputs, base)
    kh, kw, c, m = layer.depthwise_kernel.data.shape
    kernel = layer.depthwise_kernel.data.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    args = [b.nchw(x, base), _weight(b, layer, base, "depthwise_kernel", kernel)]
    if layer.use_bias:
        args.append(_weight(b, layer, base, "bias", layer.bias.data))
    pads = explicit_pads(layer, base, x.shape[1:3], layer.kernel_size, layer.strides, layer.dilation_rate)
    y = b.op("Conv", args, base, group=c, kernel_shape=[kh, kw], strides=list(layer.strides),
             dilations=list(layer.dilation_rate), pads=pads)
    return act.apply(b, layer.activation, Value(y, layer.compute_output_shape(x.shape), nchw=True), base)


def separable_conv2d(b: GraphBuilder, layer: L.SeparableConv2D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    kh, kw, c, m = layer.depthwise_kernel.data.shape
    depthwise = layer.depthwise_kernel.data.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    pads = explicit_pads(layer, base, x.shape[1:3], layer.kernel_size, layer.strides, layer.dilation_rate)
    y = b.op("Conv", [b.nchw(x, base), _weight(b, layer, base, "depthwise_kernel", depthwise)], base, group=c,
             kernel_shape=[kh, kw], strides=list(layer.strides), dilations=list(layer.dilation_rate), pads=pads)
    args = [y, _weight(b, layer, base, "pointwise_kernel", layer.pointwise_kernel.data.transpose(3, 2, 0, 1))]
    if layer.use_bias:
        args.append(_weight(b, layer, base, "bias", layer.bias.data))
    y = b.op("Conv", args, base, kernel_shape=[1, 1])
    return act.apply(b, layer.activation, Value(y, layer.compute_output_shape(x.shape), nchw=True), base)


def conv2d_transpose(b: GraphBuilder, layer: L.Conv2DTranspose, inputs: list, base: str) -> Value:
    """ConvTranspose without padding (the full output), TensorFlow's crop as a Slice, output padding
    beyond the full output as zeros (Pad), then the bias: the same steps as faltung's own op."""
    x = single_input(layer, inputs, base)
    _known_hw(x, base, "Conv2DTranspose")
    out = layer.compute_output_shape(x.shape)
    kernel = layer.kernel.data.transpose(3, 2, 0, 1)  # (kh, kw, filters, C_in) -> (C_in, filters, kh, kw)
    y = b.op("ConvTranspose", [b.nchw(x, base), _weight(b, layer, base, "kernel", kernel)], base,
             kernel_shape=list(layer.kernel_size), strides=list(layer.strides), dilations=list(layer.dilation_rate))
    starts, ends, extra = [], [], []
    for n, k, s, d, o in zip(x.shape[1:3], layer.kernel_size, layer.strides, layer.dilation_rate, out[1:3]):
        full = (n - 1) * s + d * (k - 1) + 1
        crop = transpose_crop(n, o, k, s, d, layer.padding)
        starts.append(crop)
        ends.append(min(crop + o, full))
        extra.append(crop + o - min(crop + o, full))
    y = b.op("Slice", [y, b.ints(f"{base}/starts", starts), b.ints(f"{base}/ends", ends),
                       b.ints(f"{base}/axes", [2, 3])], base)
    if any(extra):
        y = b.op("Pad", [y, b.ints(f"{base}/pads", [0, 0, 0, 0, 0, 0, extra[0], extra[1]])], base, mode="constant")
    if layer.use_bias:
        y = b.op("Add", [y, _weight(b, layer, base, "bias", layer.bias.data.reshape(-1, 1, 1))], base)
    return act.apply(b, layer.activation, Value(y, out, nchw=True), base)


def _sequence_op(b: GraphBuilder, x: Value, base: str, op_type: str, inputs: list, **attrs: Any) -> str:
    """A 1-D ONNX op on (N, L, C) data: transposed to (N, C, L) and back."""
    ncl = b.op("Transpose", [b.nhwc(x, base)], base, perm=[0, 2, 1])
    y = b.op(op_type, [ncl] + inputs, base, **attrs)
    return b.op("Transpose", [y], base, perm=[0, 2, 1])


def conv1d(b: GraphBuilder, layer: L.Conv1D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    k, d, s = layer.kernel_size, layer.dilation_rate, layer.strides
    if layer.padding == "causal":
        pads = [d * (k - 1), 0]
    elif layer.padding == "same":
        if x.shape[1] is None and s != 1:
            raise ValueError(f"layer {base!r}: 'same' padding with stride {s} needs a known length; got {x.shape}")
        pads = list(same_pads(1 if x.shape[1] is None else x.shape[1], k, s, d))
    else:
        pads = [0, 0]
    args = [_weight(b, layer, base, "kernel", layer.kernel.data.transpose(2, 1, 0))]
    if layer.use_bias:
        args.append(_weight(b, layer, base, "bias", layer.bias.data))
    y = _sequence_op(b, x, base, "Conv", args, kernel_shape=[k], strides=[s], dilations=[d], pads=pads)
    return act.apply(b, layer.activation, Value(y, layer.compute_output_shape(x.shape)), base)


def max_pooling1d(b: GraphBuilder, layer: L.MaxPooling1D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    pads = [0, 0]
    if layer.padding == "same":
        if x.shape[1] is None and layer.strides != 1:
            raise ValueError(f"layer {base!r}: 'same' padding with a stride needs a known length; got {x.shape}")
        pads = list(same_pads(1 if x.shape[1] is None else x.shape[1], layer.pool_size, layer.strides))
    y = _sequence_op(b, x, base, "MaxPool", [], kernel_shape=[layer.pool_size], strides=[layer.strides], pads=pads)
    return Value(y, layer.compute_output_shape(x.shape))


def global_average_pooling1d(b: GraphBuilder, layer: L.GlobalAveragePooling1D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    y = b.op("ReduceMean", [x.name], base, axes=[1], keepdims=int(layer.keepdims))
    return Value(y, layer.compute_output_shape(x.shape))


def _resize(b: GraphBuilder, name: str, nchw: bool, size: tuple, interpolation: str, base: str) -> str:
    """ONNX Resize of the height and width axes to ``size``, with faltung's half-pixel rules (nearest:
    the floor of the half-pixel source coordinate); batch and channels keep their (dynamic) sizes."""
    attrs = dict(coordinate_transformation_mode="half_pixel")
    attrs.update(dict(mode="nearest", nearest_mode="floor") if interpolation == "nearest" else dict(mode="linear"))
    shape = b.op("Shape", [name], base)
    hw = b.ints(f"{base}/size", list(size))
    if nchw:
        sizes = b.op("Concat", [b.op("Slice", [shape, b.ints(f"{base}/s0", [0]), b.ints(f"{base}/e2", [2])], base),
                                hw], base, axis=0)
    else:
        n = b.op("Slice", [shape, b.ints(f"{base}/s0", [0]), b.ints(f"{base}/e1", [1])], base)
        c = b.op("Slice", [shape, b.ints(f"{base}/s3", [3]), b.ints(f"{base}/e4", [4])], base)
        sizes = b.op("Concat", [n, hw, c], base, axis=0)
    return b.op("Resize", [name, "", "", sizes], base, **attrs)


def up_sampling2d(b: GraphBuilder, layer: L.UpSampling2D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    out = layer.compute_output_shape(x.shape)
    if None in out[1:3]:
        raise ValueError(f"layer {base!r}: UpSampling2D needs a known input size to export; got {x.shape}")
    return Value(_resize(b, x.name, x.nchw, out[1:3], layer.interpolation, base), out, x.nchw)


def _slice_hw(b: GraphBuilder, x: Value, top: int, left: int, height: int, width: int, base: str) -> str:
    axes = [x.physical_axis(1), x.physical_axis(2)]
    return b.op("Slice", [x.name, b.ints(f"{base}/starts", [top, left]),
                          b.ints(f"{base}/ends", [top + height, left + width]), b.ints(f"{base}/axes", axes)], base)


def _known_hw(x: Value, base: str, what: str) -> tuple[int, int]:
    if None in x.shape[1:3]:
        raise ValueError(f"layer {base!r}: {what} needs a known input size to export; got {x.shape}")
    return x.shape[1], x.shape[2]


def cropping2d(b: GraphBuilder, layer: L.Cropping2D, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    h, w = _known_hw(x, base, "Cropping2D")
    (top, bottom), (left, right) = layer.cropping
    return Value(_slice_hw(b, x, top, left, h - top - bottom, w - left - right, base),
                 layer.compute_output_shape(x.shape), x.nchw)


def resizing(b: GraphBuilder, layer: L.Resizing, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    name = x.name
    if layer.crop_to_aspect_ratio:
        top, left, h, w = aspect_crop(_known_hw(x, base, "crop_to_aspect_ratio"), (layer.height, layer.width))
        name = _slice_hw(b, x, top, left, h, w, base)
    return Value(_resize(b, name, x.nchw, (layer.height, layer.width), layer.interpolation, base),
                 layer.compute_output_shape(x.shape), x.nchw)


def center_crop(b: GraphBuilder, layer: L.CenterCrop, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    h, w = _known_hw(x, base, "CenterCrop")
    out = layer.compute_output_shape(x.shape)
    if h >= layer.height and w >= layer.width:
        top, left = (h - layer.height) // 2, (w - layer.width) // 2
        return Value(_slice_hw(b, x, top, left, layer.height, layer.width, base), out, x.nchw)
    top, left, ch, cw = aspect_crop((h, w), (layer.height, layer.width))
    name = _slice_hw(b, x, top, left, ch, cw, base)
    return Value(_resize(b, name, x.nchw, (layer.height, layer.width), "bilinear", base), out, x.nchw)


def leaky_relu(b: GraphBuilder, layer: L.LeakyReLU, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    return Value(b.op("LeakyRelu", [x.name], base, alpha=layer.negative_slope), x.shape, x.nchw)


def elu(b: GraphBuilder, layer: L.ELU, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    return Value(b.op("Elu", [x.name], base, alpha=layer.alpha), x.shape, x.nchw)


def prelu(b: GraphBuilder, layer: L.PReLU, inputs: list, base: str) -> Value:
    """PRelu broadcasts its slope from the right: alpha (per-sample shape) against channels-last data."""
    x = single_input(layer, inputs, base)
    y = b.op("PRelu", [b.nhwc(x, base), _weight(b, layer, base, "alpha", layer.alpha.data)], base)
    return Value(y, x.shape)


def layer_normalization(b: GraphBuilder, layer: L.LayerNormalization, inputs: list, base: str) -> Value:
    """ONNX LayerNormalization normalises the trailing axes from ``axis`` on: Keras' axes must be those."""
    x = single_input(layer, inputs, base)
    axes = layer._axes(x.rank)
    if axes != tuple(range(axes[0], x.rank)):
        raise ValueError(f"layer {base!r}: LayerNormalization over axes {axes} is not a run of trailing axes; "
                         "only those can be exported")
    shape = tuple(x.shape[a] for a in axes)
    gamma = layer.gamma.data if layer.gamma is not None else np.ones(shape, np.float32)
    beta = layer.beta.data if layer.beta is not None else np.zeros(shape, np.float32)
    y = b.op("LayerNormalization", [b.nhwc(x, base), _weight(b, layer, base, "gamma", gamma),
                                    _weight(b, layer, base, "beta", beta)], base, axis=axes[0],
             epsilon=layer.epsilon)
    return Value(y, x.shape)


def group_normalization(b: GraphBuilder, layer: L.GroupNormalization, inputs: list, base: str) -> Value:
    """(N, ..., C) -> (N, P, G, C/G) -> (N, G, P, C/G), ONNX LayerNormalization over the last two axes,
    then back and the per-channel gamma and beta."""
    x = single_input(layer, inputs, base)
    c = x.shape[-1]
    groups = layer._groups(c)
    name = b.nhwc(x, base)
    grouped = b.op("Reshape", [name, b.ints(f"{base}/grouped", [0, -1, groups, c // groups])], base)
    grouped = b.op("Transpose", [grouped], base, perm=[0, 2, 1, 3])
    y = b.op("LayerNormalization", [grouped, b.scalar(f"{base}/one", 1.0), b.scalar(f"{base}/zero", 0.0)], base,
             axis=2, epsilon=layer.epsilon)
    y = b.op("Transpose", [y], base, perm=[0, 2, 1, 3])
    y = b.op("Reshape", [y, b.op("Shape", [name], base)], base)
    if layer.gamma is not None:
        y = b.op("Mul", [y, _weight(b, layer, base, "gamma", layer.gamma.data)], base)
    if layer.beta is not None:
        y = b.op("Add", [y, _weight(b, layer, base, "beta", layer.beta.data)], base)
    return Value(y, x.shape)


def _merge(op_type: str):
    def convert(b: GraphBuilder, layer: Any, inputs: list, base: str) -> Value:
        names, nchw = b.common_layout(inputs, base)
        if op_type in ("Mean", "Max"):  # variadic ONNX ops
            y = b.op(op_type, names, base)
        else:
            y = names[0]
            for name in names[1:]:
                y = b.op(op_type, [y, name], base)
        return Value(y, layer.compute_output_shape([v.shape for v in inputs]), nchw)
    return convert


def normalization(b: GraphBuilder, layer: L.Normalization, inputs: list, base: str) -> Value:
    x = single_input(layer, inputs, base)
    shape = [1] + list(x.shape[1:])
    mean, var = layer._statistics(np.zeros([1 if d is None else d for d in shape], np.float32))
    scale = np.maximum(np.sqrt(var), np.float32(backend.epsilon()))
    name = b.nhwc(x, base)
    m, s = _weight(b, layer, base, "mean", mean), _weight(b, layer, base, "scale", scale)
    if layer.invert:
        y = b.op("Add", [b.op("Mul", [name, s], base), m], base)
    else:
        y = b.op("Div", [b.op("Sub", [name, m], base), s], base)
    return Value(y, x.shape)


def identity(b: GraphBuilder, layer: Any, inputs: list, base: str) -> Value:
    """Layers that do nothing at inference (spatial dropout, random augmentation)."""
    return single_input(layer, inputs, base)


CONVERTERS = {
    L.DepthwiseConv2D: depthwise_conv2d,
    L.SeparableConv2D: separable_conv2d,
    L.Conv2DTranspose: conv2d_transpose,
    L.Conv1D: conv1d,
    L.MaxPooling1D: max_pooling1d,
    L.GlobalAveragePooling1D: global_average_pooling1d,
    L.UpSampling2D: up_sampling2d,
    L.Cropping2D: cropping2d,
    L.Resizing: resizing,
    L.CenterCrop: center_crop,
    L.LeakyReLU: leaky_relu,
    L.ELU: elu,
    L.PReLU: prelu,
    L.LayerNormalization: layer_normalization,
    L.GroupNormalization: group_normalization,
    L.Multiply: _merge("Mul"),
    L.Subtract: _merge("Sub"),
    L.Average: _merge("Mean"),
    L.Maximum: _merge("Max"),
    L.Normalization: normalization,
    L.SpatialDropout2D: identity,
    L.RandomRotation: identity,
    L.RandomZoom: identity,
    L.RandomContrast: identity,
    L.RandomBrightness: identity,
}
