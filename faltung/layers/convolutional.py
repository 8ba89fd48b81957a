"""More of Keras' convolution layers: DepthwiseConv2D, SeparableConv2D, Conv2DTranspose and Conv1D,
each a thin layer over a differentiable op (``faltung.functional``) with Keras' weights and config."""
from __future__ import annotations

from typing import Any

from .. import constraints, functional as F, regularizers
from ..functional.depthwise import conv2d_transpose, depthwise_conv2d, transpose_output_length
from ..kernels.padding import normalize_padding, normalize_pair, output_size, resolve_pads
from ._options import WeightOptions
from .base import Layer, register
from .core import activation_name, initializer_config


def check_data_format(data_format: Any, owner: str) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{owner}: faltung is channels-last, so data_format must be None or 'channels_last'; "
                         f"got {data_format!r}")


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


def _padding_config(padding: Any) -> Any:
    return padding if isinstance(padding, str) else [list(p) for p in padding]


def _conv_hw(layer: Any, input_shape: tuple, kernel_hw: tuple, channels: int) -> tuple:
    """(N, out_h, out_w, channels) of a conv with ``layer``'s strides, padding and dilation."""
    hw = tuple(input_shape[1:3])
    if None in hw:
        return (input_shape[0], None, None, channels)
    pads = resolve_pads(layer.padding, hw, kernel_hw, layer.strides, layer.dilation_rate)
    return (input_shape[0], *output_size(hw, kernel_hw, layer.strides, layer.dilation_rate, pads), channels)


def _need_channels(layer: Any, input_shape: tuple, rank: int, layout: str) -> int:
    if len(input_shape) != rank or input_shape[-1] is None:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} expects input {layout} with known channels; "
                         f"got {input_shape}")
    return int(input_shape[-1])


@register
class DepthwiseConv2D(WeightOptions, Layer):
    """Each input channel convolved with its own ``depth_multiplier`` filters (no mixing of channels).

    Input (N, H, W, C) -> (N, out_h, out_w, C·depth_multiplier); depthwise_kernel
    (kh, kw, C, depth_multiplier), bias (C·depth_multiplier,). Output channel c·M + m comes from
    input channel c and its filter m, as in Keras.
    """

    OPTIONS = ("depthwise_regularizer", "bias_regularizer", "depthwise_constraint", "bias_constraint")

    def __init__(self, kernel_size: Any, strides: Any = (1, 1), padding: Any = "valid", depth_multiplier: int = 1,
                 data_format: Any = None, dilation_rate: Any = (1, 1), activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        _set_geometry(self, kernel_size, strides, dilation_rate, normalize_padding(padding))
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        self.activation = F.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer, self.bias_initializer = depthwise_initializer, bias_initializer
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        c = _need_channels(self, input_shape, 4, "(N, H, W, C)")
        self.depthwise_kernel = self.add_weight("depthwise_kernel", self.kernel_size + (c, self.depth_multiplier),
                                                self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.bias = self.add_weight("bias", (c * self.depth_multiplier,), self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None

    def call(self, x, training=False):
        return self.activation(depthwise_conv2d(x, self.depthwise_kernel, self.bias, self.strides, self.padding,
                                                self.dilation_rate))

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] * self.depth_multiplier
        return _conv_hw(self, input_shape, self.kernel_size, channels)

    def get_config(self):
        return {**super().get_config(), "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": _padding_config(self.padding), "depth_multiplier": self.depth_multiplier,
                "dilation_rate": list(self.dilation_rate), "activation": activation_name(self.activation),
                "use_bias": self.use_bias, "depthwise_initializer": initializer_config(self.depthwise_initializer),
                "bias_initializer": initializer_config(self.bias_initializer), **self._weight_options_config(self.OPTIONS)}


@register
class SeparableConv2D(WeightOptions, Layer):
    """A depthwise convolution followed by a 1×1 convolution that mixes the channels.

    Input (N, H, W, C) -> (N, out_h, out_w, filters); depthwise_kernel (kh, kw, C, M),
    pointwise_kernel (1, 1, C·M, filters), bias (filters,), in Keras' order.
    """

    OPTIONS = ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer", "depthwise_constraint",
               "pointwise_constraint", "bias_constraint")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: Any = "valid",
                 data_format: Any = None, dilation_rate: Any = (1, 1), depth_multiplier: int = 1,
                 activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 depthwise_constraint: Any = None, pointwise_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        self.filters = _positive_int(filters, "filters")
        _set_geometry(self, kernel_size, strides, dilation_rate, normalize_padding(padding))
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        self.activation = F.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.initializers = dict(depthwise_initializer=depthwise_initializer,
                                 pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer)
        self._set_weight_options(depthwise_regularizer=depthwise_regularizer,
                                 pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                                 depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                                 bias_constraint=bias_constraint)

    def build(self, input_shape):
        c = _need_channels(self, input_shape, 4, "(N, H, W, C)")
        m = self.depth_multiplier
        init = self.initializers
        self.depthwise_kernel = self.add_weight("depthwise_kernel", self.kernel_size + (c, m),
                                                init["depthwise_initializer"], regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight("pointwise_kernel", (1, 1, c * m, self.filters),
                                                init["pointwise_initializer"], regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self.bias = self.add_weight("bias", (self.filters,), init["bias_initializer"],
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None

    def call(self, x, training=False):
        y = depthwise_conv2d(x, self.depthwise_kernel, None, self.strides, self.padding, self.dilation_rate)
        return self.activation(F.conv2d(y, self.pointwise_kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return _conv_hw(self, input_shape, self.kernel_size, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": _padding_config(self.padding),
                "dilation_rate": list(self.dilation_rate), "depth_multiplier": self.depth_multiplier,
                "activation": activation_name(self.activation), "use_bias": self.use_bias,
                **{k: initializer_config(v) for k, v in self.initializers.items()},
                **self._weight_options_config(self.OPTIONS)}


@register
class Conv2DTranspose(WeightOptions, Layer):
    """Transposed convolution: upsamples by ``strides`` (the input gradient of a Conv2D).

    Input (N, H, W, C) -> (N, out_h, out_w, filters), ``out = H·s`` with 'same' padding; kernel
    (kh, kw, filters, C) as in Keras (output channels before input channels), bias (filters,).
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 output_padding: Any = None, data_format: Any = None, dilation_rate: Any = (1, 1),
                 activation: Any = None, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        self.filters = _positive_int(filters, "filters")
        _set_geometry(self, kernel_size, strides, dilation_rate, normalize_padding(padding, allow_explicit=False))
        self.output_padding = None if output_padding is None else normalize_pair(output_padding, "output_padding",
                                                                                 minimum=0)
        self.activation = F.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._set_weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def build(self, input_shape):
        c = _need_channels(self, input_shape, 4, "(N, H, W, C)")
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, c), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, x, training=False):
        return self.activation(conv2d_transpose(x, self.kernel, self.bias, self.strides, self.padding,
                                                self.output_padding, self.dilation_rate))

    def compute_output_shape(self, input_shape):
        ops = self.output_padding or (None, None)
        hw = [None if n is None else transpose_output_length(n, k, s, d, self.padding, o)
              for n, k, s, d, o in zip(input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate, ops)]
        return (input_shape[0], *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "dilation_rate": list(self.dilation_rate), "activation": activation_name(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": initializer_config(self.kernel_initializer),
                "bias_initializer": initializer_config(self.bias_initializer), **self._weight_options_config()}


def _set_geometry(layer: Layer, kernel_size: Any, strides: Any, dilation_rate: Any, padding: Any) -> None:
    """A 2-D convolution's window: kernel size, strides and dilation as pairs, and its padding."""
    layer.kernel_size = normalize_pair(kernel_size, "kernel_size")
    layer.strides = normalize_pair(strides, "strides")
    layer.dilation_rate = normalize_pair(dilation_rate, "dilation_rate")
    layer.padding = padding


def single_int(value: Any, name: str) -> int:
    """Keras' 1-D arguments: an int or a one-element tuple/list."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return _positive_int(value, name)


@register
class Conv1D(WeightOptions, Layer):
    """1-D convolution over sequences (N, L, C) -> (N, out_len, filters); kernel (k, C, filters).

    padding 'valid', 'same' (TensorFlow's rule) or 'causal' (d·(k-1) zeros before the sequence
    only, so output t never sees inputs after t). Computed as a Conv2D on (N, 1, L, C).
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: Any = None, dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        if groups != 1:
            raise ValueError(f"Conv1D: only groups=1 is supported; got groups={groups!r}")
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = single_int(kernel_size, "kernel_size")
        self.strides = single_int(strides, "strides")
        self.dilation_rate = single_int(dilation_rate, "dilation_rate")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or 'causal'; got {padding!r}")
        self.padding = padding.lower()
        self.activation = F.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._set_weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def _padding_2d(self) -> Any:
        if self.padding == "causal":
            return ((0, 0), (self.dilation_rate * (self.kernel_size - 1), 0))
        return self.padding

    def build(self, input_shape):
        c = _need_channels(self, input_shape, 3, "(N, L, C)")
        self.kernel = self.add_weight("kernel", (self.kernel_size, c, self.filters), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, x, training=False):
        if x.ndim != 3:
            raise ValueError(f"Conv1D {self.name!r} expects input (N, L, C); got shape {x.shape}")
        n, length, c = x.shape
        y = F.conv2d(x.reshape(n, 1, length, c), self.kernel.reshape(1, *self.kernel.shape), self.bias,
                     (1, self.strides), self._padding_2d(), (1, self.dilation_rate))
        return self.activation(y.reshape(n, y.shape[2], self.filters))

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if length is None:
            return (input_shape[0], None, self.filters)
        pads = resolve_pads(normalize_padding(self._padding_2d()), (1, length), (1, self.kernel_size),
                            (1, self.strides), (1, self.dilation_rate))
        return (input_shape[0], output_size((1, length), (1, self.kernel_size), (1, self.strides),
                                            (1, self.dilation_rate), pads)[1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": [self.kernel_size],
                "strides": [self.strides], "padding": self.padding, "dilation_rate": [self.dilation_rate],
                "groups": 1, "activation": activation_name(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializer_config(self.kernel_initializer),
                "bias_initializer": initializer_config(self.bias_initializer), **self._weight_options_config()}
