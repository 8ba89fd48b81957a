"""Reverse-mode automatic differentiation: ``Tensor``, the tape of ``Function`` calls, ``backward()``.

A ``Tensor`` wraps an ndarray. Every differentiable operation is a ``Function``
whose ``forward`` computes on plain arrays and whose hand-written ``backward``
maps the gradient of the output to the gradients of the inputs. While
gradients are enabled each result remembers the ``Function`` that made it;
``backward()`` walks that record in reverse topological order (the chain rule)
and adds the gradients of the leaves into their ``.grad``.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from . import backend

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Compute without recording anything for ``backward()`` (inference, parameter updates)."""
    previous = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous


def as_array(value: Any, dtype=None) -> np.ndarray:
    """The ndarray inside ``value``: a float array keeps its dtype, anything else becomes floatx."""
    if isinstance(value, Tensor):
        value = value.data
    if dtype is not None:
        return np.asarray(value, dtype=dtype)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value
    if isinstance(value, np.generic) and value.dtype.kind == "f":
        return np.asarray(value)
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"cannot make a Tensor from {type(value).__name__}; expected numbers or an array")
    return array.astype(backend.floatx())


class Function:
    """One differentiable operation on the tape.

    Subclasses implement ``forward(*arrays, **options) -> ndarray`` and
    ``backward(grad) -> tuple`` (one gradient, or None, per array input).
    ``self.needs_grad[i]`` says whether input i wants a gradient, so backward
    can skip work nobody asked for.
    """

    needs_grad: tuple[bool, ...] = ()

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> "Tensor":
        """Run ``forward`` on the inputs' arrays and, if any input needs a gradient, record it."""
        tensors = [x if isinstance(x, Tensor) else None for x in inputs]
        dtype = next((t.data.dtype for t in tensors if t is not None), None)
        # Constants (ndarrays, numbers) take the dtype of the Tensors they meet,
        # so a float64 constant never silently promotes a float32 network.
        arrays = [t.data if t is not None else None if x is None else as_array(x, dtype)
                  for t, x in zip(tensors, inputs)]
        fn = cls()
        fn.needs_grad = tuple(t is not None and t.requires_grad for t in tensors)
        record = is_grad_enabled() and any(fn.needs_grad)
        out = Tensor(fn.forward(*arrays, **options), requires_grad=record)
        if record:
            out._fn = fn
            out._parents = tuple(tensors)
        return out


class Tensor:
    """An ndarray that remembers how it was computed, so gradients can flow back to it.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([[2., 4.]], dtype=float32)
    """

    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only float Tensors can require gradients; got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.name = name
        self._fn: Function | None = None
        self._parents: tuple = ()

    # ----- array-like surface -----
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.transpose())

    def __len__(self) -> int:
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut off from the tape."""
        return Tensor(self.data)

    def astype(self, dtype) -> "Tensor":
        return Cast.apply(self, dtype=np.dtype(dtype))

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, prefix='Tensor(')}, dtype={self.data.dtype}{flag})"

    # ----- backward -----
    def backward(self, grad: Any = None) -> None:
        """Add d(self)/d(leaf) · grad into ``leaf.grad`` for every leaf that requires a gradient.

        ``grad`` defaults to 1 for a single-element tensor (a loss). Gradients of
        a tensor used twice are summed (multivariate chain rule).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a Tensor that does not require grad "
                               "(no input had requires_grad=True, or it was made under no_grad())")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() needs grad for a non-scalar Tensor of shape {self.shape}")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(as_array(grad), dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"grad has shape {grad.shape}; expected the tensor's shape {self.shape}")
        order = _topological_order(self)
        grads: dict[int, np.ndarray] = {id(self): grad}
        for node in order:
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._fn is None:  # a leaf: keep its gradient
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            parent_grads = node._fn.backward(g)
            for parent, pg in zip(node._parents, parent_grads):
                if parent is None or pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.shape:
                    raise RuntimeError(f"{type(node._fn).__name__}.backward returned a gradient of shape "
                                       f"{pg.shape} for an input of shape {parent.shape}")
                if pg.dtype != parent.data.dtype:
                    pg = pg.astype(parent.data.dtype)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    # ----- operators -----
    def __add__(self, other): return Add.apply(self, other)
    def __radd__(self, other): return Add.apply(other, self)
    def __sub__(self, other): return Sub.apply(self, other)
    def __rsub__(self, other): return Sub.apply(other, self)
    def __mul__(self, other): return Mul.apply(self, other)
    def __rmul__(self, other): return Mul.apply(other, self)
    def __truediv__(self, other): return Div.apply(self, other)
    def __rtruediv__(self, other): return Div.apply(other, self)
    def __matmul__(self, other): return MatMul.apply(self, other)
    def __rmatmul__(self, other): return MatMul.apply(other, self)
    def __pow__(self, other): return Pow.apply(self, other)
    def __rpow__(self, other): return Pow.apply(other, self)
    def __neg__(self): return Neg.apply(self)
    def __pos__(self): return self
    def __getitem__(self, index): return GetItem.apply(self, index=_plain_index(index))

    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        return Sum.apply(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        return Mean.apply(self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        return Max.apply(self, axis=_axis(axis), keepdims=keepdims)

    def reshape(self, *shape) -> "Tensor":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    def transpose(self, *axes) -> "Tensor":
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(self, axes=axes or None)

    def exp(self) -> "Tensor":
        return Exp.apply(self)

    def log(self) -> "Tensor":
        return Log.apply(self)


class Parameter(Tensor):
    """A trainable weight (Keras calls it a variable): a leaf Tensor that requires a gradient."""

    def __init__(self, data: Any, name: str | None = None, trainable: bool = True):
        super().__init__(data, requires_grad=True, name=name)
        self.trainable = trainable


def tensor(data: Any, requires_grad: bool = False, dtype=None) -> Tensor:
    """``Tensor(data)`` unless ``data`` already is one."""
    if isinstance(data, Tensor) and dtype is None and not requires_grad:
        return data
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes reachable from ``root``, each before the nodes it was computed from (iterative DFS)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent is not None and parent.requires_grad and id(parent) not in seen:
                stack.append((parent, False))
    order.reverse()
    return order


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _plain_index(index):
    """Indices may hold Tensors (e.g. label arrays, stored as floats): use their arrays as integers."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        data = index.data
        if data.dtype.kind == "f":
            if not np.all(data == np.round(data)):
                raise IndexError(f"a Tensor used as an index must hold whole numbers; got {data.ravel()[:5]}")
            data = data.astype(np.intp)
        return data
    return index


def unbroadcast(grad: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if grad.shape == tuple(shape):
        return np.asarray(grad)
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return np.asarray(grad).reshape(shape)  # a 0-d result stays an array, not a NumPy scalar


# ----- elementwise and structural Functions -----

class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = unbroadcast(g * self.b, self.a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(g * self.a, self.b.shape) if self.needs_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = unbroadcast(g / self.b, self.a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(-g * self.a / (self.b * self.b), self.b.shape) if self.needs_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Pow(Function):
    """a ** b; d/da = b·a^(b-1), d/db = a^b·ln a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, g):
        ga = gb = None
        if self.needs_grad[0]:
            ga = unbroadcast(g * self.b * self.a ** (self.b - 1), self.a.shape)
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(self.a > 0, np.log(np.where(self.a > 0, self.a, 1)), 0)
            gb = unbroadcast(g * self.out * log_a, self.b.shape)
        return ga, gb


class MatMul(Function):
    """a @ b with NumPy's rules (1-D operands, batched stacks)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if self.needs_grad[0]:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g2
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb


class Cast(Function):
    def forward(self, a, dtype):
        self.dtype_in = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return (g.astype(self.dtype_in),)


class Sum(Function):
    def forward(self, a, axis, keepdims):
        out = np.sum(a, axis=axis, keepdims=True)
        self.shape, self.kept = a.shape, out.shape
        return out if keepdims else _drop_axes(out, axis)

    def backward(self, g):
        return (np.broadcast_to(g.reshape(self.kept), self.shape).copy(),)


class Mean(Function):
    def forward(self, a, axis, keepdims):
        out = np.mean(a, axis=axis, keepdims=True)
        self.shape, self.kept = a.shape, out.shape
        self.count = a.size // out.size if out.size else 1
        return out if keepdims else _drop_axes(out, axis)

    def backward(self, g):
        g = g.reshape(self.kept) / g.dtype.type(self.count)
        return (np.broadcast_to(g, self.shape).copy(),)


class Max(Function):
    """Maximum over axes; the gradient is shared equally between tied maxima."""

    def forward(self, a, axis, keepdims):
        self.a, self.axis = a, axis
        self.out = np.max(a, axis=axis, keepdims=True)
        return self.out if keepdims else _drop_axes(self.out, axis)

    def backward(self, g):
        mask = self.a == self.out
        ties = mask.sum(axis=self.axis, keepdims=True).astype(g.dtype)  # int counts would promote to float64
        return (mask * (g.reshape(self.out.shape) / ties),)


def _drop_axes(kept: np.ndarray, axis) -> np.ndarray:
    """Remove the size-1 reduced axes that keepdims=True left in place."""
    return np.asarray(kept.squeeze(axis=axis))


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)


class Transpose(Function):
    def forward(self, a, axes):
        self.axes = None if axes is None else tuple(ax % a.ndim for ax in axes)  # argsort needs them >= 0
        return np.transpose(a, self.axes)

    def backward(self, g):
        if self.axes is None:
            return (np.transpose(g),)
        return (np.transpose(g, np.argsort(self.axes)),)


class GetItem(Function):
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    def backward(self, g):
        out = np.zeros(self.shape, dtype=self.dtype)
        np.add.at(out, self.index, g)  # add.at: repeated fancy indices accumulate
        return (out,)


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        return (g * self.out,)


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return (g / self.a,)
