"""The convolutional layer of the lecture (Conv2D) and explicit zero padding (ZeroPadding2D)."""
from __future__ import annotations

from typing import Any

from .. import functional as F
from ..kernels.padding import normalize_padding, normalize_pair, output_size, resolve_pads
from ._options import WeightOptions
from .base import Layer, register
from .core import activation_name, initializer_config


@register
class Conv2D(WeightOptions, Layer):
    """``filters`` learned filters of ``kernel_size`` slid over NHWC input, plus a bias per filter.

    Z[n, i, j, r] = activation(sum_{i', j', k} x[n, s·i + d·i', s·j + d·j', k] · f[i', j', k, r] + b[r])

    Input (N, H, W, C_in) -> output (N, out_h, out_w, filters); kernel (kh, kw, C_in, filters).
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: Any = "valid",
                 dilation_rate: Any = (1, 1), activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._set_weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"filters must be a positive int; got {filters!r}")
        self.filters = filters
        self.kernel_size = normalize_pair(kernel_size, "kernel_size")
        self.strides = normalize_pair(strides, "strides")
        self.dilation_rate = normalize_pair(dilation_rate, "dilation_rate")
        self.padding = normalize_padding(padding)
        self.activation = F.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"Conv2D {self.name!r} expects input (N, H, W, C) with known C; got {input_shape}")
        self.kernel = self.add_weight("kernel", self.kernel_size + (input_shape[-1], self.filters),
                                      self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, x, training=False):
        if self.activation is F.relu:  # fused: no separate activation array or pass
            return F.conv2d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, relu=True)
        return self.activation(F.conv2d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate))

    def compute_output_shape(self, input_shape):
        hw = tuple(input_shape[1:3])
        if None in hw:
            return (input_shape[0], None, None, self.filters)
        pads = resolve_pads(self.padding, hw, self.kernel_size, self.strides, self.dilation_rate)
        return (input_shape[0], *output_size(hw, self.kernel_size, self.strides, self.dilation_rate, pads),
                self.filters)

    def get_config(self):
        padding = self.padding if isinstance(self.padding, str) else [list(p) for p in self.padding]
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": padding, "dilation_rate": list(self.dilation_rate),
                "activation": activation_name(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializer_config(self.kernel_initializer),
                "bias_initializer": initializer_config(self.bias_initializer), **self._weight_options_config()}


@register
class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros: ``padding`` an int, (rows, cols) or ((top, bottom), (left, right))."""

    def __init__(self, padding: Any = (1, 1), **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(padding, int) or (isinstance(padding, (tuple, list)) and len(padding) == 2
                                        and all(isinstance(p, int) for p in padding)):
            rows, cols = normalize_pair(padding, "padding", minimum=0)
            padding = ((rows, rows), (cols, cols))
        pads = normalize_padding(padding)
        if isinstance(pads, str):
            raise ValueError(f"padding must be an int, (rows, cols) or ((top, bottom), (left, right)); got {padding!r}")
        self.padding = pads

    def call(self, x, training=False):
        return F.zero_pad2d(x, self.padding)

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.padding
        n, h, w, c = input_shape
        return (n, None if h is None else h + top + bottom, None if w is None else w + left + right, c)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}
