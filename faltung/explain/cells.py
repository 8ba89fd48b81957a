"""One output cell of a layer written out as the lecture writes it: its terms, the bias, the sum,
the activation and the value the model computed.

A conv cell is ``z[i,j,r] = sum_{k,i',j'} x[s·i + d·i' - pad, s·j + d·j' - pad, k] · f[i',j',k,r] + b[r]``
(taps in the zero padding read 0); a pooling cell is the max or the mean of the real cells in its
window; a Dense unit is ``sum_k x[k] · W[k,u] + b[u]``. Products and sums are taken in float64 (the
product of two float32 numbers is exact there), so they differ from the model's float32 value by
its rounding only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..kernels.padding import resolve_pads
from .graph import Node, Trace

KINDS = ("conv", "max_pool", "avg_pool", "dense", "scale", "activation", "copy", "sum")


class Term(NamedTuple):
    """One term of a cell's sum: where it reads the layer's input, the input value there, the
    weight it meets and their product (weight and product are None for a max)."""

    position: tuple[int, ...]
    input: float
    weight: float | None
    product: float | None
    padded: bool = False


@dataclass(frozen=True)
class Cell:
    """The explanation of one output value ``value`` of layer ``layer`` at ``position``.

    Term arrays (n terms): ``positions`` (n, 3) rows (i, j, k) into the layer's (H, W, C) input,
    or (n, 1) rows (k,) into a vector input; a tap in the zero padding has a row or column
    outside the input, ``padded`` True and input 0. ``inputs`` (n,), ``weights`` (n,) and
    ``products`` (n,) float64 (None for max pooling and activations). ``pre_activation`` is
    ``products.sum() + bias`` (the max of the inputs for max pooling, the input itself for an
    activation layer), and ``value`` the model's own float32 output at ``position``:
    ``activation(pre_activation)`` to float32 rounding. ``winner`` is the index of the first
    maximum (max pooling).
    """

    layer: str
    kind: str
    position: tuple[int, ...]
    positions: np.ndarray
    inputs: np.ndarray
    weights: np.ndarray | None
    products: np.ndarray | None
    padded: np.ndarray
    bias: float
    pre_activation: float
    activation: str
    value: float
    winner: int | None = None

    @property
    def terms(self) -> list[Term]:
        """The terms as ``Term(position, input, weight, product, padded)`` tuples, in summation order
        (input channel k outermost, then the window's rows i' and columns j')."""
        weights = [None] * len(self.inputs) if self.weights is None else self.weights.tolist()
        products = [None] * len(self.inputs) if self.products is None else self.products.tolist()
        return [Term(tuple(int(v) for v in p), float(x), w, q, bool(pad)) for p, x, w, q, pad in
                zip(self.positions, self.inputs, weights, products, self.padded)]


def window(size: int, kernel: int, stride: int, dilation: int, pad_before: int, out_index: int) -> np.ndarray:
    """The input indices (kernel,) that output ``out_index`` reads along one axis: ``s·i + d·i' - pad``
    for i' = 0..kernel-1; indices < 0 or >= ``size`` lie in the zero padding."""
    return out_index * stride - pad_before + dilation * np.arange(kernel)


def window_tables(layer: Any, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For a Conv2D or pooling layer: (out_h, kh) input rows and (out_w, kw) input columns of every
    output row and column (the page draws windows from these tables, ``cell`` reads them)."""
    kernel, dilation = _geometry(layer)
    pads = resolve_pads(layer.padding, in_hw, kernel, layer.strides, dilation)
    rows = np.stack([window(in_hw[0], kernel[0], layer.strides[0], dilation[0], pads[0][0], i)
                     for i in range(out_hw[0])])
    cols = np.stack([window(in_hw[1], kernel[1], layer.strides[1], dilation[1], pads[1][0], j)
                     for j in range(out_hw[1])])
    return rows, cols


def _geometry(layer: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    if hasattr(layer, "kernel_size"):
        return layer.kernel_size, layer.dilation_rate
    return layer.pool_size, (1, 1)


def kind_of(layer: Any) -> str | None:
    """Which formula explains ``layer``'s cells (one of KINDS), or None if none does."""
    from ..layers import core, merge, normalization, pooling
    from ..layers.conv import Conv2D
    from .. import functional as F
    if isinstance(layer, Conv2D):
        return "conv"
    if isinstance(layer, (pooling.MaxPooling2D, pooling.GlobalMaxPooling2D)):
        return "max_pool"
    if isinstance(layer, (pooling.AveragePooling2D, pooling.GlobalAveragePooling2D)):
        return "avg_pool"
    if isinstance(layer, core.Dense):
        return "dense"
    if isinstance(layer, (core.Rescaling, normalization.BatchNormalization)):
        return "scale"
    if isinstance(layer, core.Activation) and layer.activation is not F.softmax:
        return "activation"
    if isinstance(layer, core.ReLU):
        return "activation"
    if isinstance(layer, (core.Flatten, core.Dropout, core.Reshape)):
        return "copy"
    if isinstance(layer, merge.Add):
        return "sum"
    return None


def activation_name(layer: Any) -> str:
    """The name of the activation a layer applies last ('linear' for none)."""
    from ..layers import core
    if isinstance(layer, core.ReLU):
        default = layer.max_value is None and layer.negative_slope == 0 and layer.threshold == 0
        return "relu" if default else "ReLU"
    activation = getattr(layer, "activation", None)
    return "linear" if activation is None else getattr(activation, "__name__", "activation")


def scale_and_shift(layer: Any, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(channels,) a and c with ``layer(x) = x·a + c`` per channel, float64, for Rescaling and
    BatchNormalization in inference mode: ``gamma·(x - mean)/sqrt(var + eps) + beta``."""
    from ..layers.core import Rescaling
    if isinstance(layer, Rescaling):
        return np.full(channels, layer.scale), np.full(channels, layer.offset)
    gamma = np.ones(channels) if layer.gamma is None else layer.gamma.data.astype(np.float64)
    beta = np.zeros(channels) if layer.beta is None else layer.beta.data.astype(np.float64)
    a = gamma / np.sqrt(layer.moving_variance.data.astype(np.float64) + layer.epsilon)
    return a, beta - layer.moving_mean.data.astype(np.float64) * a


def _position(value: Any, shape: tuple[int, ...], layer: str) -> tuple[int, ...]:
    position = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(position) != len(shape) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                              for v in position):
        raise ValueError(f"layer {layer!r} outputs shape {shape} per image; a cell is {len(shape)} ints "
                         f"(e.g. {tuple(0 for _ in shape)}); got {value!r}")
    if not all(0 <= v < n for v, n in zip(position, shape)):
        raise ValueError(f"cell {tuple(int(v) for v in position)} is outside layer {layer!r}'s output of shape {shape}")
    return tuple(int(v) for v in position)


def explain_cell(tr: Trace, node: Node, position: Any) -> Cell:
    """The explanation of one output cell of ``node`` in the traced forward pass ``tr``."""
    out = tr.values[node.key]
    pos = _position(position, out.shape, node.key)
    kind = kind_of(node.layer)
    if kind is None:
        raise ValueError(f"no cell formula for layer {node.key!r} ({type(node.layer).__name__}); formulas "
                         "exist for Conv2D, pooling, Dense, Rescaling, BatchNormalization, activations, "
                         "Flatten, Dropout, Reshape and Add")
    x = tr.input_of(node).astype(np.float64)
    value = float(out[pos])
    common = dict(layer=node.key, kind=kind, position=pos, value=value, activation=activation_name(node.layer))
    build = {"conv": _conv, "max_pool": _pool, "avg_pool": _pool, "dense": _dense, "scale": _scale,
             "activation": _activation, "copy": _copy, "sum": _sum}[kind]
    return build(tr, node, x, pos, common)


def _conv(tr, node, x, pos, common) -> Cell:
    layer = node.layer
    i, j, r = pos
    out = tr.values[node.key]
    rows, cols = window_tables(layer, x.shape[:2], out.shape[:2])
    ii, jj = rows[i], cols[j]
    channels = x.shape[2]
    # k outermost: one input channel's window after the other, as the page lists them
    kk, ri, cj = np.meshgrid(np.arange(channels), np.arange(len(ii)), np.arange(len(jj)), indexing="ij")
    kk, ri, cj = kk.ravel(), ri.ravel(), cj.ravel()
    rr, cc = ii[ri], jj[cj]
    inside = (rr >= 0) & (rr < x.shape[0]) & (cc >= 0) & (cc < x.shape[1])
    inputs = np.where(inside, x[np.clip(rr, 0, x.shape[0] - 1), np.clip(cc, 0, x.shape[1] - 1), kk], 0.0)
    weights = layer.kernel.data[ri, cj, kk, r].astype(np.float64)
    products = inputs * weights
    bias = 0.0 if layer.bias is None else float(layer.bias.data[r])
    return Cell(positions=np.stack([rr, cc, kk], axis=1), inputs=inputs, weights=weights, products=products,
                padded=~inside, bias=bias, pre_activation=float(products.sum() + bias), **common)


def _pool(tr, node, x, pos, common) -> Cell:
    layer = node.layer
    if len(pos) == 1:  # global pooling: the whole map is the window
        c = pos[0]
        rr, cc = (a.ravel() for a in np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[1]), indexing="ij"))
    else:
        i, j, c = pos
        rows, cols = window_tables(layer, x.shape[:2], tr.values[node.key].shape[:2])
        rr, cc = (a.ravel() for a in np.meshgrid(rows[i], cols[j], indexing="ij"))
        # padded cells never win a max and are not counted in a mean (Keras): they are no terms at all
        inside = (rr >= 0) & (rr < x.shape[0]) & (cc >= 0) & (cc < x.shape[1])
        rr, cc = rr[inside], cc[inside]
    inputs = x[rr, cc, c]
    positions = np.stack([rr, cc, np.full_like(rr, c)], axis=1)
    padded = np.zeros(len(inputs), bool)
    if common["kind"] == "max_pool":
        winner = int(np.argmax(inputs))
        return Cell(positions=positions, inputs=inputs, weights=None, products=None, padded=padded, bias=0.0,
                    pre_activation=float(inputs[winner]), winner=winner, **common)
    weights = np.full(len(inputs), 1.0 / len(inputs))
    products = inputs * weights
    return Cell(positions=positions, inputs=inputs, weights=weights, products=products, padded=padded, bias=0.0,
                pre_activation=float(products.sum()), **common)


def _dense(tr, node, x, pos, common) -> Cell:
    layer = node.layer
    if x.ndim != 1:
        raise ValueError(f"cell formulas for Dense layers need a vector input; layer {node.key!r} reads shape "
                         f"{x.shape}")
    (u,) = pos
    weights = layer.kernel.data[:, u].astype(np.float64)
    products = x * weights
    bias = 0.0 if layer.bias is None else float(layer.bias.data[u])
    return Cell(positions=np.arange(len(x))[:, None], inputs=x, weights=weights, products=products,
                padded=np.zeros(len(x), bool), bias=bias, pre_activation=float(products.sum() + bias), **common)


def _one_term(pos, x, weight, bias, common, pre=None) -> Cell:
    value = float(x[pos])
    weights = None if weight is None else np.array([weight])
    products = None if weight is None else np.array([value * weight])
    return Cell(positions=np.array([pos]), inputs=np.array([value]), weights=weights, products=products,
                padded=np.zeros(1, bool), bias=bias,
                pre_activation=value if weight is None else value * weight + bias, **common)


def _scale(tr, node, x, pos, common) -> Cell:
    a, c = scale_and_shift(node.layer, x.shape[-1])
    return _one_term(pos, x, float(a[pos[-1]]), float(c[pos[-1]]), common)


def _activation(tr, node, x, pos, common) -> Cell:
    return _one_term(pos, x, None, 0.0, common)


def _copy(tr, node, x, pos, common) -> Cell:
    # Flatten, Reshape and Dropout (at inference) keep the values in channels-last order
    flat = np.ravel_multi_index(pos, tr.values[node.key].shape)
    return _one_term(tuple(int(v) for v in np.unravel_index(flat, x.shape)), x, None, 0.0, common)


def _sum(tr, node, x, pos, common) -> Cell:
    inputs = np.array([float(tr.values[p][pos]) for p in node.parents])
    ones = np.ones(len(inputs))
    return Cell(positions=np.array([pos] * len(inputs)), inputs=inputs, weights=ones, products=inputs.copy(),
                padded=np.zeros(len(inputs), bool), bias=0.0, pre_activation=float(inputs.sum()), **common)


def cell(model: Any, image: Any, layer: Any, position: Any) -> Cell:
    """Explain one output value of ``layer`` (a Layer, its name or its index) for ``image``.

    ``position``: (i, j, channel) for a layer with (h, w, C) outputs, (unit,) or an int for a
    vector output. ``image``: (H, W, C) with the model's input shape (or (1, H, W, C), or (H, W)
    for one channel), raw as the model takes it. Runs the model once; for many cells of one
    image, ``trace(model, image)`` once and call ``explain_cell`` on it.

    >>> from faltung import lecture, layers, models
    >>> net = models.Sequential([layers.Input((4, 5, 1)), layers.Conv2D(1, 2, use_bias=False)])
    >>> net.layers[0].set_weights([lecture.EXAMPLE2_A.reshape(2, 2, 1, 1)])
    >>> cell(net, lecture.EXAMPLE2_B, 0, (1, 1, 0)).value   # the lecture's C[1, 1]
    -28.0
    """
    tr = Trace(model, image)
    return explain_cell(tr, tr.node(layer), position)
