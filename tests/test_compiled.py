"""The fast kernels without numba: each compiled kernel falls back (pooling to the reference kernels,
conv + pooling to the convolution then the reference pooling, col2im to NumPy's strided adds), computes
the reference's numbers, and faltung says so once with a KernelWarning."""
import warnings

import numpy as np
import pytest

from faltung.kernels import fast, reference
from faltung.kernels.fast import compiled
from faltung.kernels.padding import resolve_pads

POOL = ((3, 2), (2, 1), "same")  # windows, strides, padding: overlapping windows and padding both


@pytest.fixture
def without_numba(monkeypatch):
    """A process in which numba cannot be imported, and faltung has not said so yet."""
    monkeypatch.setattr(compiled, "_numba", False)
    monkeypatch.setattr(compiled, "_said", False)
    assert not compiled.available()


def _pool_case(rng):
    x = np.maximum(rng.integers(-2, 3, size=(3, 7, 6, 4)), 0).astype(np.float32)  # ties, as relu output has
    pool, strides, padding = POOL
    pads = resolve_pads(padding, x.shape[1:3], pool, strides)
    out_hw = (-(-7 // strides[0]), -(-6 // strides[1]))
    return x, pool, strides, pads, out_hw, rng.standard_normal((3, *out_hw, 4)).astype(np.float32)


def test_pooling_without_numba_is_the_reference(without_numba):
    x, pool, strides, pads, out_hw, grad = _pool_case(np.random.default_rng(0))
    with pytest.warns(compiled.KernelWarning, match="numba is not installed"):
        z, winners = fast.max_pool_forward(x, pool, strides, pads, out_hw)
    z_ref, winners_ref = reference.max_pool_forward(x, pool, strides, pads, out_hw)
    np.testing.assert_array_equal(z, z_ref)
    np.testing.assert_array_equal(winners, winners_ref)  # the reference's own format, for its backward
    np.testing.assert_array_equal(fast.max_pool_backward(grad, winners, x.shape, pool, strides, pads),
                                  reference.max_pool_backward(grad, winners_ref, x.shape, pool, strides, pads))
    np.testing.assert_array_equal(fast.avg_pool_forward(x, pool, strides, pads, out_hw),
                                  reference.avg_pool_forward(x, pool, strides, pads, out_hw))
    np.testing.assert_array_equal(fast.avg_pool_backward(grad, x.shape, pool, strides, pads),
                                  reference.avg_pool_backward(grad, x.shape, pool, strides, pads))


def _conv_pool_case(rng):
    x = rng.standard_normal((2, 9, 8, 3))
    w, b = rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    conv = ((1, 1), (1, 1), ((1, 1), (1, 1)), (9, 8))  # strides, dilation, pads, out_hw: 'same'
    pool = ((2, 2), (2, 2), ((0, 0), (0, 0)), (4, 4))
    return x, w, b, conv, pool


@pytest.mark.parametrize("relu", [False, True])
def test_conv_and_pooling_without_numba_are_the_two_ops_run_apart(without_numba, relu):
    x, w, b, conv, pool = _conv_pool_case(np.random.default_rng(1))
    with pytest.warns(compiled.KernelWarning):
        pooled, state = fast.conv2d_max_pool_forward(x, w, b, conv, pool, relu)
    pooled_ref, state_ref = reference.conv2d_max_pool_forward(x, w, b, conv, pool, relu)
    np.testing.assert_allclose(pooled, pooled_ref, rtol=1e-12, atol=1e-12)
    grad = np.random.default_rng(2).standard_normal(pooled.shape)
    for a, c in zip(fast.conv2d_max_pool_backward(grad, pooled, state, x, w, conv, pool, relu),
                    reference.conv2d_max_pool_backward(grad, pooled_ref, state_ref, x, w, conv, pool, relu)):
        np.testing.assert_allclose(a, c, rtol=1e-11, atol=1e-11)


def test_the_input_gradient_without_numba_is_numpys_col2im(without_numba):
    """Stride 2 on 3 channels takes col2im; without numba NumPy's strided adds compute the same dx."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 9, 7, 3)), rng.standard_normal((3, 3, 3, 5))
    geometry = ((2, 2), (1, 1), ((1, 1), (1, 1)))
    grad = rng.standard_normal((2, 5, 4, 5))
    dx, _, _ = fast.conv2d_backward(grad, x, w, *geometry, need=(True, False, False))
    dx_ref, _, _ = reference.conv2d_backward(grad, x, w, *geometry)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)


def test_without_numba_faltung_says_so_once(without_numba):
    """Many kernel calls, one warning: it names numba and how to install it."""
    x, pool, strides, pads, out_hw, grad = _pool_case(np.random.default_rng(4))
    cx, w, b, conv, cpool = _conv_pool_case(np.random.default_rng(5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            _, winners = fast.max_pool_forward(x, pool, strides, pads, out_hw)
            fast.max_pool_backward(grad, winners, x.shape, pool, strides, pads)
            fast.avg_pool_backward(grad, x.shape, pool, strides, pads)
            fast.conv2d_max_pool_forward(cx, w, b, conv, cpool, True)
    said = [w for w in caught if issubclass(w.category, compiled.KernelWarning)]
    assert len(said) == 1
    assert "pip install 'faltung[fast]'" in str(said[0].message)


def test_with_numba_nothing_is_said():
    if not compiled.available():
        pytest.skip("numba is not installed")
    x, pool, strides, pads, out_hw, grad = _pool_case(np.random.default_rng(6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", compiled.KernelWarning)
        z, took = fast.max_pool_forward(x, pool, strides, pads, out_hw)
        fast.max_pool_backward(grad, took, x.shape, pool, strides, pads)
    assert took.dtype == np.int8 and took.shape == z.shape  # the compiled kernels' own format
