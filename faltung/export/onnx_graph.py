"""The ONNX graph under construction: nodes, weights, unique names, and each tensor's memory layout.

faltung is channels-last (NHWC) while ONNX's Conv and pooling ops are channels-first
(NCHW). Every value remembers which of the two it is stored in; an op that needs the
other layout asks for it and gets one Transpose, made once per value and reused, so a
run of conv, activation and pooling ops costs one transpose in and one out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

DTYPE = np.float32
TO_NCHW = (0, 3, 1, 2)  # NHWC -> NCHW: physical axis i holds logical axis TO_NCHW[i]
TO_NHWC = (0, 2, 3, 1)  # NCHW -> NHWC


@dataclass(frozen=True)
class Value:
    """A tensor of the graph: its ONNX ``name``, its ``shape`` in faltung's (channels-last) terms
    with None for unknown sizes (the batch axis always), and whether a 4-D value is stored NCHW."""

    name: str
    shape: tuple
    nchw: bool = False

    @property
    def rank(self) -> int:
        return len(self.shape)

    def physical_axis(self, axis: int) -> int:
        """Where faltung's ``axis`` (negative allowed) of this value lies in the stored tensor."""
        axis %= self.rank
        return TO_NCHW.index(axis) if self.nchw else axis


class GraphBuilder:
    """Collects the nodes and initializers of one graph; hands out unique tensor names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()
        self._weights: dict[tuple, str] = {}
        self._other_layout: dict[str, str] = {}  # name -> the same data transposed to the other layout

    # ----- names and constants -----
    def fresh(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``, ... whichever is still free."""
        name, count = base, 0
        while name in self._names:
            count += 1
            name = f"{base}_{count}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim ``name`` (a graph input or output) so no internal tensor takes it."""
        if name in self._names:
            raise ValueError(f"two graph inputs or outputs would both be named {name!r}")
        self._names.add(name)

    def const(self, base: str, array: Any, dtype: Any = DTYPE, key: tuple | None = None) -> str:
        """An initializer holding ``array`` (cast to ``dtype``); ``key`` shares it between the calls of a
        shared layer instead of storing its weights twice."""
        if key is not None and key in self._weights:
            return self._weights[key]
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(np.asarray(array, dtype=dtype)), name))
        if key is not None:
            self._weights[key] = name
        return name

    def ints(self, base: str, values: Sequence[int]) -> str:
        """A 1-D int64 initializer (shapes, pads, slice bounds)."""
        return self.const(base, np.asarray(values, dtype=np.int64), dtype=np.int64)

    def scalar(self, base: str, value: float) -> str:
        return self.const(base, np.asarray(value), dtype=DTYPE)

    # ----- nodes -----
    def op(self, op_type: str, inputs: Sequence[str], base: str, **attrs: Any) -> str:
        """Append one ``op_type`` node and return the name of its (single) output."""
        out = self.fresh(f"{base}/{op_type}")
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    # ----- layouts -----
    def transposed(self, value: Value, to_nchw: bool, base: str) -> str:
        """``value``'s data in NCHW (``to_nchw``) or NHWC layout, transposing at most once per value."""
        if value.rank != 4 or value.nchw == to_nchw:
            return value.name
        if value.name not in self._other_layout:
            out = self.op("Transpose", [value.name], base, perm=list(TO_NCHW if to_nchw else TO_NHWC))
            self._other_layout[value.name] = out
            self._other_layout[out] = value.name  # transposing back later reuses the original
        return self._other_layout[value.name]

    def nchw(self, value: Value, base: str) -> str:
        """``value`` (4-D) stored channels-first, as ONNX's Conv and pooling ops need it."""
        return self.transposed(value, True, base)

    def nhwc(self, value: Value, base: str) -> str:
        """``value`` stored in faltung's own layout (a no-op unless it is a 4-D NCHW value)."""
        return self.transposed(value, False, base)

    def common_layout(self, values: Sequence[Value], base: str) -> tuple[list[str], bool]:
        """Names of ``values`` all in one layout (the one most of them have; NCHW on a tie, since
        that is what a following conv needs), and whether that layout is NCHW."""
        four_d = [v for v in values if v.rank == 4]
        nchw = bool(four_d) and 2 * sum(v.nchw for v in four_d) >= len(four_d)
        return [self.transposed(v, nchw, base) for v in values], nchw

    def rename(self, old: str, new: str) -> None:
        """Call the tensor ``old`` ``new`` everywhere (to give a graph output its layer's name)."""
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, name in enumerate(names):
                    if name == old:
                        names[i] = new
