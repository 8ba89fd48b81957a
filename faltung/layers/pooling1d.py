"""1-D pooling over sequences (N, L, C): MaxPooling1D and GlobalAveragePooling1D, via the 2-D ops."""
from __future__ import annotations

from typing import Any

from .. import functional as F
from ..kernels.padding import normalize_padding, output_size, resolve_pads
from .base import Layer, register
from .convolutional import single_int, check_data_format


@register
class MaxPooling1D(Layer):
    """Max over windows of ``pool_size`` steps: (N, L, C) -> (N, out_len, C); strides default to
    pool_size; 'same' padding never lets a padded step win."""

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid", data_format: Any = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        self.pool_size = single_int(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else single_int(strides, "strides")
        self.padding = normalize_padding(padding, allow_explicit=False)

    def call(self, x, training=False):
        if x.ndim != 3:
            raise ValueError(f"MaxPooling1D {self.name!r} expects input (N, L, C); got shape {x.shape}")
        n, length, c = x.shape
        y = F.max_pool2d(x.reshape(n, 1, length, c), (1, self.pool_size), (1, self.strides), self.padding)
        return y.reshape(n, y.shape[2], c)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"MaxPooling1D {self.name!r} expects input (N, L, C); got {input_shape}")
        if input_shape[1] is None:
            return tuple(input_shape)
        geometry = ((1, input_shape[1]), (1, self.pool_size), (1, self.strides))
        pads = resolve_pads(self.padding, *geometry)
        return (input_shape[0], output_size(*geometry, (1, 1), pads)[1], input_shape[2])

    build = compute_output_shape  # an empty output is an error before any data flows

    def get_config(self):
        return {**super().get_config(), "pool_size": [self.pool_size], "strides": [self.strides],
                "padding": self.padding}


@register
class GlobalAveragePooling1D(Layer):
    """Mean over the steps: (N, L, C) -> (N, C), or (N, 1, C) with ``keepdims``."""

    def __init__(self, data_format: Any = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        check_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def call(self, x, training=False):
        if x.ndim != 3:
            raise ValueError(f"GlobalAveragePooling1D {self.name!r} expects input (N, L, C); got shape {x.shape}")
        return x.mean(axis=1, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


MaxPool1D = MaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
