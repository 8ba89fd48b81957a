"""Differentiable operations on Tensors: the lecture's convolution and pooling, dense layers,
activations, normalisation, dropout and losses. Each has a hand-written backward.

>>> import faltung.functional as F
"""
from .activations import (elu, gelu, get_activation, leaky_relu, linear, log_softmax, relu, sigmoid,
                          softmax, tanh)
from .conv import conv2d, correlate2d
from .conv_pool import conv2d_max_pool2d
from .core import clip, dense, dropout, flatten, zero_pad2d
from .losses import (binary_crossentropy, categorical_crossentropy, mean_absolute_error,
                     mean_squared_error, sparse_categorical_crossentropy)
from .normalization import batch_norm
from .pooling import avg_pool2d, global_avg_pool2d, global_max_pool2d, max_pool2d
# Keras' other CNN layers' ops, each in its own file
from .affine import affine_sample
from .depthwise import conv2d_transpose, depthwise_conv2d
from .elementwise import maximum
from .resize import resize
from .standardize import group_norm, layer_norm, standardize

__all__ = [
    "conv2d", "correlate2d", "conv2d_max_pool2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d",
    "dense", "flatten", "zero_pad2d", "dropout", "clip", "batch_norm",
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "linear",
    "get_activation",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "mean_squared_error", "mean_absolute_error",
    "depthwise_conv2d", "conv2d_transpose", "layer_norm", "group_norm", "standardize", "maximum", "resize",
    "affine_sample",
]
