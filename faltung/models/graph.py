"""The one executor of Sequential and functional models: a graph of layer calls run in order, and the
fusion pass that plans a Conv2D (relu or linear) and the MaxPooling2D that alone reads it as one step.

A model's graph is the ``SymbolicTensor``s its layers made when called on ``Input``s. ``plan``
orders their calls once, when the model is built; with ``fuse``, each Conv2D whose only reader
is a MaxPooling2D becomes one ``F.conv2d_max_pool2d`` step: the same results (to the rounding
of sums), and the fast kernels never store the convolution's output. The pass looks at public
layer attributes only (exact classes, activation, dtype), so it serves every graph alike.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .. import functional as F
from ..layers.base import Layer, SymbolicTensor
from ..layers.conv import Conv2D
from ..layers.pooling import MaxPooling2D


@dataclass(frozen=True, eq=False)
class Call:
    """``layer`` called on the values of ``inputs`` (as a list when it takes one), giving ``output``."""
    layer: Layer
    inputs: tuple[SymbolicTensor, ...]
    output: SymbolicTensor
    takes_list: bool

    def run(self, values: dict, training: bool) -> Any:
        args = [values[id(t)] for t in self.inputs]
        return self.layer(args if self.takes_list else args[0], training=training)


@dataclass(frozen=True, eq=False)
class ConvMaxPool:
    """``pool(conv(input))`` as one operation, giving the pooling's ``output``."""
    conv: Conv2D
    pool: MaxPooling2D
    input: SymbolicTensor
    output: SymbolicTensor

    def run(self, values: dict, training: bool) -> Any:
        conv, pool, x = self.conv, self.pool, values[id(self.input)]
        if x.dtype != conv.dtype:  # what the layer's own call would cast
            x = x.astype(conv.dtype)
        return F.conv2d_max_pool2d(x, conv.kernel, conv.bias, conv.strides, conv.padding, conv.dilation_rate,
                                   relu=conv.activation is F.relu, pool_size=pool.pool_size,
                                   pool_strides=pool.strides, pool_padding=pool.padding)


def plan(nodes: list[SymbolicTensor], outputs: list[SymbolicTensor], fuse: bool) -> list:
    """The steps that compute ``nodes`` (in graph order, the inputs left out), fused where ``fuse`` allows."""
    steps = [Call(t.layer, t.parents, t, t.takes_list) for t in nodes]
    return fuse_conv_max_pool(steps, outputs) if fuse else steps


def fusable(conv: Layer, pool: Layer) -> bool:
    """Whether ``pool(conv(x))`` can run as ``F.conv2d_max_pool2d``: exact classes (a subclass may compute
    something else), a relu or linear activation (relu commutes with the maximum), one dtype, and no
    activity regularizer (its penalty needs the layer's own output)."""
    return (type(conv) is Conv2D and type(pool) is MaxPooling2D and conv.activation in (F.relu, F.linear)
            and conv.dtype == pool.dtype and conv.activity_regularizer is None and pool.activity_regularizer is None)


def fuse_conv_max_pool(steps: list[Call], outputs: list[SymbolicTensor]) -> list:
    """``steps`` with each Conv2D call whose output only a MaxPooling2D call reads (not another layer, not
    the model's caller) merged with that call into one ``ConvMaxPool`` step, at the conv's place."""
    outside = {id(t) for t in outputs}
    readers: dict[int, list[Call]] = defaultdict(list)
    for step in steps:
        for t in step.inputs:
            readers[id(t)].append(step)
    merged, fused = [], set()
    for step in steps:
        if id(step) in fused:
            continue
        following = readers[id(step.output)]
        if id(step.output) not in outside and len(following) == 1 and not following[0].takes_list \
                and fusable(step.layer, following[0].layer):
            merged.append(ConvMaxPool(step.layer, following[0].layer, step.inputs[0], following[0].output))
            fused.add(id(following[0]))
        else:
            merged.append(step)
    return merged


def run(steps: list, inputs: list[SymbolicTensor], given: list, training: bool) -> dict:
    """Run ``steps`` on the values ``given`` for ``inputs``: every computed value, by ``id`` of its tensor."""
    values = {id(t): v for t, v in zip(inputs, given)}
    for step in steps:
        values[id(step.output)] = step.run(values, training)
    return values
