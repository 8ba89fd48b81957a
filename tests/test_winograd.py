"""Winograd's F(2x2, 3x3) in the fast kernels: the same results as the lecture's formula (the reference
kernels), a float32 error bounded against float64, and the paths that fall back to im2col."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faltung.kernels import fast, reference
from faltung.kernels.fast import compiled, winograd
from faltung.kernels.padding import output_size, resolve_pads

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")


def _case(rng, n, h, w, c_in, c_out, padding, dtype):
    x = rng.standard_normal((n, h, w, c_in)).astype(dtype)
    f = (rng.standard_normal((3, 3, c_in, c_out)) / np.sqrt(9 * c_in)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    pads = resolve_pads(padding, (h, w), (3, 3), (1, 1))
    return x, f, b, output_size((h, w), (3, 3), (1, 1), (1, 1), pads), pads


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), h=st.integers(3, 19), w=st.integers(3, 19), c_in=st.integers(4, 20),
       c_out=st.integers(4, 20),
       padding=st.sampled_from(["same", "valid", ((3, 0), (0, 4)), ((0, 2), (1, 0))]), relu=st.booleans(), seed=st.integers(0, 99))
def test_forward_and_all_gradients_match_the_lecture_formula_in_float64(n, h, w, c_in, c_out, padding, relu, seed):
    x, f, b, out_hw, pads = _case(np.random.default_rng(seed), n, h, w, c_in, c_out, padding, np.float64)
    geometry = ((1, 1), (1, 1), pads)
    assert winograd.applies(f.shape, (1, 1), (1, 1))
    z = fast.conv2d_forward(x, f, b, *geometry, out_hw, relu=relu)
    np.testing.assert_allclose(z, reference.conv2d_forward(x, f, b, *geometry, out_hw, relu=relu), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed + 1).standard_normal(z.shape)
    ours = fast.conv2d_backward(g, x, f, *geometry, relu_out=z if relu else None)
    theirs = reference.conv2d_backward(g, x, f, *geometry, relu_out=z if relu else None)
    for name, a, c in zip(("dx", "dW", "db"), ours, theirs):
        np.testing.assert_allclose(a, c, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("size, tiling", [(16, winograd.F4), (5, winograd.F2)])
def test_float32_error_against_float64_is_below_1e_4(size, tiling):
    """Activations of realistic scale (unit inputs, He-scaled filters, 128 channels): the float32
    Winograd results' largest error relative to the largest float64 value, for each tiling."""
    assert winograd.choose((size, size)) is tiling
    rng = np.random.default_rng(0)
    x, f, b, out_hw, pads = _case(rng, 8, size, size, 128, 128, "same", np.float64)
    geometry = ((1, 1), (1, 1), pads)
    exact = reference.conv2d_forward(x, f, b, *geometry, out_hw)
    g = rng.standard_normal(exact.shape)
    exact_grads = reference.conv2d_backward(g, x, f, *geometry)
    x32, f32, b32, g32 = (a.astype(np.float32) for a in (x, f, b, g))
    z = fast.conv2d_forward(x32, f32, b32, *geometry, out_hw)
    assert z.dtype == np.float32
    errors = [np.abs(z - exact).max() / np.abs(exact).max()]
    for ours, theirs in zip(fast.conv2d_backward(g32, x32, f32, *geometry), exact_grads):
        assert ours.dtype == np.float32
        errors.append(np.abs(ours - theirs).max() / np.abs(theirs).max())
    assert max(errors) < 1e-4, errors


@pytest.mark.parametrize("tiling", [winograd.F2, winograd.F4])
def test_the_transforms_are_the_lecture_formula_on_one_tile(tiling):
    """One α x α input tile and one filter: Aᵀ[(G f Gᵀ) ⊙ (Bᵀ d B)]A is the m x m cross-correlation."""
    rng = np.random.default_rng(1)
    alpha, m = tiling.alpha, tiling.m
    d, f = rng.standard_normal((1, alpha, alpha, 1)), rng.standard_normal((3, 3, 1, 1))
    v = np.empty((alpha * alpha, 1, 1))
    winograd.input_tiles(d, 0, 0, winograd.coefficients(tiling.bt, d.dtype), 1, 1, v)
    products = v * winograd.filter_transform(f, tiling)
    y = np.empty((1, m, m, 1))
    winograd.output_tiles(products, winograd.coefficients(tiling.at, d.dtype), np.zeros(1), False, 1, 1, y,
                          winograd.NO_POOLING)
    expected = [[np.sum(d[0, i:i + 3, j:j + 3, 0] * f[:, :, 0, 0]) for j in range(m)] for i in range(m)]
    np.testing.assert_allclose(y[0, :, :, 0], expected, rtol=1e-10)


@pytest.mark.parametrize("tiling", [winograd.F2, winograd.F4])
def test_filter_gradient_is_the_transpose_of_the_filter_transform(tiling):
    """<G f Gᵀ, dU> = <f, Gᵀ dU G> for any f and dU: the kernel gradient's last step is exact."""
    rng = np.random.default_rng(2)
    f, du = rng.standard_normal((3, 3, 5, 7)), rng.standard_normal((tiling.alpha ** 2, 5, 7))
    assert np.isclose(np.sum(winograd.filter_transform(f, tiling) * du), np.sum(f * winograd.filter_gradient(du, tiling)))


def test_other_shapes_and_missing_numba_take_im2col(monkeypatch):
    assert not winograd.applies((3, 3, 8, 8), (2, 2), (1, 1))   # stride 2
    assert not winograd.applies((3, 3, 8, 8), (1, 1), (2, 2))   # dilation
    assert not winograd.applies((5, 5, 8, 8), (1, 1), (1, 1))   # 5x5
    assert not winograd.applies((3, 3, 1, 8), (1, 1), (1, 1))   # one input channel
    monkeypatch.setattr(compiled, "_numba", False)
    monkeypatch.setattr(compiled, "_said", False)
    with pytest.warns(compiled.KernelWarning, match="numba is not installed"):
        assert not winograd.applies((3, 3, 8, 8), (1, 1), (1, 1))
    x, f, b, out_hw, pads = _case(np.random.default_rng(3), 2, 6, 6, 8, 8, "same", np.float64)
    np.testing.assert_allclose(fast.conv2d_forward(x, f, b, (1, 1), (1, 1), pads, out_hw),
                               reference.conv2d_forward(x, f, b, (1, 1), (1, 1), pads, out_hw), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), h=st.integers(4, 19), w=st.integers(4, 19), c_in=st.integers(4, 9),
       c_out=st.integers(4, 9), padding=st.sampled_from(["same", "valid"]), relu=st.booleans(),
       ties=st.booleans(), seed=st.integers(0, 99))
def test_conv_with_2x2_max_pooling_pools_each_tile_as_the_layers_apart_do(n, h, w, c_in, c_out, padding, relu,
                                                                          ties, seed):
    """Winograd's output tiles max-pooled in the same pass (2x2 windows, stride 2) against the layers
    apart. On random values: the reference conv and pooling, values and (through each window's
    winner) gradients. With ``ties`` (integer inputs and filters: equal values in a window), against
    the fast conv then the fast pooling: the same values and the same winners, the first in
    row-major order. (Not against the reference there: F(4x4)'s filter transform has 1/6 and 1/24, so
    two equal sums may differ in their last bit, and either can win.)"""
    from faltung.kernels.fast import conv_pool
    rng = np.random.default_rng(seed)
    x, f, b, out_hw, pads = _case(rng, n, h, w, c_in, c_out, padding, np.float64)
    pooled_hw = (out_hw[0] // 2, out_hw[1] // 2)
    if min(pooled_hw) < 1:
        return
    conv = ((1, 1), (1, 1), pads, out_hw)
    pool = ((2, 2), (2, 2), ((0, 0), (0, 0)), pooled_hw)
    reached = conv_pool.reached(out_hw, pool)
    assert winograd.choose(reached).m % 2 == 0
    if ties:
        x, f = rng.integers(-1, 2, x.shape).astype(np.float64), rng.integers(-1, 2, f.shape).astype(np.float64)
        ours, took = fast.conv2d_max_pool_forward(x, f, b, conv, pool, relu)
        z = fast.conv2d_forward(x, f, b, (1, 1), (1, 1), pads, reached)
        apart, apart_took = fast.max_pool_forward(z, (2, 2), (2, 2), ((0, 0), (0, 0)), pooled_hw)
        np.testing.assert_array_equal(ours, np.maximum(apart, 0) if relu else apart)
        np.testing.assert_array_equal(took, apart_took)
        return
    ours, took = fast.conv2d_max_pool_forward(x, f, b, conv, pool, relu)
    theirs, winner = reference.conv2d_max_pool_forward(x, f, b, conv, pool, relu)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(ours.shape)
    grads = fast.conv2d_max_pool_backward(g, ours, took, x, f, conv, pool, relu)
    expected = reference.conv2d_max_pool_backward(g, theirs, winner, x, f, conv, pool, relu)
    for name, a, c in zip(("dx", "dW", "db"), grads, expected):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10, err_msg=name)
