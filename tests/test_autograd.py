"""Tensor and the tape: operators, broadcasting, accumulation, no_grad, dtypes."""
import numpy as np
import pytest

import faltung as ft
from faltung import Tensor
from faltung.testing import gradcheck

rng = np.random.default_rng(0)


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b * b + 1),
    lambda a, b: (a * a + 1) ** b, lambda a, b: 2.0 - a * 3 + 1 / (b * b + 1), lambda a, b: -a * b,
])
def test_broadcasting_elementwise_gradients(op):
    assert gradcheck(op, [rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 4))])


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
                                    ((2, 3, 4), (1, 4, 2))])
def test_matmul_gradients(shapes):
    assert gradcheck(lambda a, b: a @ b, [rng.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("fn", [
    lambda a: a.sum(), lambda a: a.sum(axis=1), lambda a: a.sum(axis=(0, 2), keepdims=True),
    lambda a: a.mean(), lambda a: a.mean(axis=-1), lambda a: a.max(axis=1), lambda a: a.max(),
    lambda a: a.reshape(4, 6), lambda a: a.transpose(2, 0, 1), lambda a: a.T, lambda a: a[1:, ::2],
    lambda a: a[np.array([0, 0, 1])], lambda a: (a * a + 1).log(), lambda a: a.exp(), lambda a: a ** 3,
])
def test_reduction_and_structural_gradients(fn):
    assert gradcheck(fn, [rng.standard_normal((2, 3, 4))])


def test_a_tensor_used_twice_accumulates():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3, 5, 7])
    y = x * 2
    y.sum().backward()  # .grad accumulates across backward calls, as in PyTorch
    np.testing.assert_allclose(x.grad, [5, 7, 9])


def test_max_shares_the_gradient_between_ties():
    x = Tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5]])


def test_no_grad_records_nothing():
    x = Tensor([1.0], requires_grad=True)
    with ft.no_grad():
        y = x * 2
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    assert (x * 2).requires_grad  # enabled again after the block


def test_deep_chains_do_not_recurse():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones(3))


def test_dtypes():
    assert Tensor([1, 2]).dtype == np.float32  # lists and ints become floatx
    assert Tensor(np.ones(2)).dtype == np.float64  # a float64 array keeps its dtype
    x32 = Tensor(np.ones(2, np.float32), requires_grad=True)
    y = x32 * np.ones(2) + 2.5  # float64 constants take the tensor's dtype: no silent promotion
    assert y.dtype == np.float32
    y.sum().backward()
    assert x32.grad.dtype == np.float32
    assert x32.astype(np.float64).dtype == np.float64


def test_reflected_operators_with_ndarrays():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3, 4])


def test_backward_errors():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"needs grad for a non-scalar Tensor of shape \(2, 2\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\); expected the tensor's shape \(2, 2\)"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(TypeError, match="only float Tensors can require gradients"):
        Tensor(np.array([1, 2]), requires_grad=True, dtype=np.int64)


def test_gradient_with_respect_to_an_intermediate_is_not_stored():
    x = Tensor([2.0], requires_grad=True)
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(x.grad, [36.0])  # d(9x^2)/dx = 18x


def test_pool_matmul_equals_numpy(monkeypatch):
    pytest.importorskip("threadpoolctl")
    from faltung.kernels.fast import parallel
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.setenv("FALTUNG_NUM_THREADS", "2")
    a = rng.standard_normal((301, 257)).astype(np.float32)
    b = rng.standard_normal((257, 129)).astype(np.float32)
    try:
        np.testing.assert_allclose(parallel.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(parallel.matmul(a.T.copy().T, b), a @ b, rtol=1e-5, atol=1e-4)
    finally:
        parallel._threads = None


def test_review_edge_cases():
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    x.transpose(-1, 0, 1).sum().backward()
    assert x.grad.shape == (2, 3, 4)
    assert gradcheck(lambda a: a.transpose(-1, 0, -2) * np.arange(24.0).reshape(4, 2, 3), [rng.standard_normal((2, 3, 4))])
    x32 = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    x32.max(axis=1).sum().backward()
    assert x32.grad.dtype == np.float32
    scalar = Tensor(np.array(2.0), requires_grad=True)
    (scalar * np.ones(3)).sum().backward()
    assert isinstance(scalar.grad, np.ndarray) and scalar.grad.shape == ()
    v = Tensor(np.arange(5.0), requires_grad=True)
    v[Tensor(np.array([0, 2, 2]))].sum().backward()
    np.testing.assert_array_equal(v.grad, [1, 0, 2, 0, 0])
