"""Layer pairs that a Sequential model runs as one kernel, with the results of running them one
after the other (to the rounding of sums): Conv2D (relu or linear) followed by MaxPooling2D, the lecture's conv -> relu
-> pool, runs as ``F.conv2d_max_pool2d`` (its conv output pooled in cache, never stored)."""
from __future__ import annotations

from typing import Any

from .. import functional as F
from ..layers.base import Layer
from ..layers.conv import Conv2D
from ..layers.pooling import MaxPooling2D


def fusable(layer: Layer, following: Layer | None) -> bool:
    """Whether ``layer`` and ``following`` can run as one kernel. Exact types only, with their own
    ``call``: a subclass may change what ``call`` does, and a ``call`` replaced on the instance
    (a recorder such as the feature-map pictures use) must see its layer run."""
    return (type(layer) is Conv2D and type(following) is MaxPooling2D
            and layer.activation in (F.relu, F.linear) and layer.dtype == following.dtype
            and layer.activity_regularizer is None and following.activity_regularizer is None
            and "call" not in vars(layer) and "call" not in vars(following))


def conv_max_pool(conv: Conv2D, pool: MaxPooling2D, x: Any) -> Any:
    """``pool(conv(x))`` as one operation, building either layer as its own call would."""
    x = conv._as_input(x)
    conv._ensure_built(x.shape)
    pool._ensure_built(conv.compute_output_shape(x.shape))
    return F.conv2d_max_pool2d(x, conv.kernel, conv.bias, conv.strides, conv.padding, conv.dilation_rate,
                               relu=conv.activation is F.relu, pool_size=pool.pool_size, pool_strides=pool.strides,
                               pool_padding=pool.padding)
