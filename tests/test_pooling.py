"""F.max_pool2d / F.avg_pool2d: Keras' 'same' semantics, gradients, ties, parity with PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import faltung as ft
import faltung.functional as F
from faltung import Tensor
from faltung.kernels import fast, reference
from faltung.kernels.padding import resolve_pads
from faltung.testing import gradcheck

from conftest import tf_same_pads

POOL = {"max": F.max_pool2d, "avg": F.avg_pool2d}


def test_lecture_max_pooling_formula():
    # Z[i,j,r] = max_{i',j' in [0,m)} X[s*i+i', s*j+j', r] with m = s = 2
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(F.max_pool2d(x, 2).numpy()[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).numpy()[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_default_stride_is_the_pool_size():
    x = np.random.default_rng(0).standard_normal((1, 9, 9, 2))
    assert F.max_pool2d(x, 3).shape == (1, 3, 3, 2)
    assert F.avg_pool2d(x, (3, 2)).shape == (1, 3, 4, 2)


def test_padded_cells_never_win_a_max():
    x = -np.ones((1, 3, 3, 1)) * 5  # all negative: a zero from padding would win if padding counted
    z = F.max_pool2d(x, 2, padding="same").numpy()
    assert z.shape == (1, 2, 2, 1)
    assert np.all(z == -5)


def test_same_average_divides_by_real_cells():
    x = np.ones((1, 3, 3, 1))
    z = F.avg_pool2d(x, 2, padding="same").numpy()
    np.testing.assert_array_equal(z, np.ones((1, 2, 2, 1)))  # border windows have 2 or 1 real cells
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    z = F.avg_pool2d(x, 2, padding="same").numpy()[0, :, :, 0]
    np.testing.assert_allclose(z, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])


def test_max_gradient_goes_to_the_first_of_tied_maxima():
    x = Tensor(np.ones((1, 2, 2, 1)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, :, :, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"), ((2, 3), (1, 2), "same"),
                                                  (3, 1, "valid"), (2, 3, "same")])
def test_gradients_match_finite_differences(kind, pool, strides, padding):
    x = np.random.default_rng(1).standard_normal((2, 5, 7, 3))
    assert gradcheck(lambda t: POOL[kind](t, pool, strides, padding), [x])


def _random_pooling(rng, dtype):
    """A random pooling case: sizes, windows, strides and padding, an input of few values (ties in most
    windows) or normal ones, with a few NaN and -inf in some, and an output gradient."""
    h, w = (int(v) for v in rng.integers(1, 12, size=2))
    pool = tuple(int(v) for v in rng.integers(1, 5, size=2))
    strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
    padding = "same" if rng.integers(2) or h < pool[0] or w < pool[1] else "valid"
    c = int(rng.choice([1, 3, 16, 37]))  # 37: vector loops and their remainders
    x = rng.standard_normal((2, h, w, c)) if rng.integers(2) else rng.integers(-1, 2, (2, h, w, c)).astype(float)
    if rng.integers(3) == 0:
        x[rng.random(x.shape) < 0.1] = np.nan
        x[rng.random(x.shape) < 0.1] = -np.inf
    pads = resolve_pads(padding, (h, w), pool, strides)
    out_hw = (-(-h // strides[0]), -(-w // strides[1])) if padding == "same" else \
        ((h - pool[0]) // strides[0] + 1, (w - pool[1]) // strides[1] + 1)
    return x.astype(dtype), pool, strides, pads, out_hw, rng.standard_normal((2, *out_hw, c)).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(["max", "avg"]), dtype=st.sampled_from([np.float32, np.float64]))
def test_fast_kernels_equal_reference(seed, kind, dtype):
    """Forward and backward in float32 and float64, on tied maxima (the gradient goes to the same first
    maximum), NaN (it wins a max, as the reference's argmax has it) and -inf."""
    x, pool, strides, pads, out_hw, grad = _random_pooling(np.random.default_rng(seed), dtype)
    results = []
    for kernels in (fast, reference):
        if kind == "max":
            z, winners = kernels.max_pool_forward(x, pool, strides, pads, out_hw)
            results.append((z, kernels.max_pool_backward(grad, winners, x.shape, pool, strides, pads)))
        else:
            results.append((kernels.avg_pool_forward(x, pool, strides, pads, out_hw),
                            kernels.avg_pool_backward(grad, x.shape, pool, strides, pads)))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for a, c in zip(*results):
        assert a.dtype == c.dtype == dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol)  # NaN where the reference has NaN


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_nan_propagates_as_in_the_reference(kind):
    """A NaN in a window makes its output NaN; a max's gradient goes to the window's first NaN (the
    reference's argmax), an average's to every cell; windows without NaN are untouched."""
    x = np.arange(16.0, dtype=np.float32).reshape(1, 4, 4, 1)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = np.nan  # two NaN in the top-left 2x2 window
    z, dx = _pool_with_grad(kind, x, 2, None, "valid", 0)
    assert np.isnan(z[0, 0, 0, 0]) and not np.isnan(z[0, 1:, :]).any() and not np.isnan(z[0, :, 1:]).any()
    with ft.backend.kernels("reference"):
        z_ref, dx_ref = _pool_with_grad(kind, x, 2, None, "valid", 0)
    np.testing.assert_array_equal(z, z_ref)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-6)
    if kind == "max":
        assert dx[0, 0, 1, 0] != 0 and dx[0, 1, 0, 0] == 0 and dx[0, 0, 0, 0] == 0


def test_a_window_of_minus_infinity_sends_its_gradient_where_the_reference_does():
    """All cells -inf: the reference's argmax takes each window's position 0, a padding cell in the
    windows of the first row and column (whose gradient is dropped); the compiled loops agree."""
    x = np.full((1, 3, 3, 2), -np.inf)
    pads = resolve_pads("same", (3, 3), (3, 3), (1, 1))
    grad = np.ones((1, 3, 3, 2))
    for kernels in (fast, reference):
        z, took = kernels.max_pool_forward(x, (3, 3), (1, 1), pads, (3, 3))
        assert np.all(z == -np.inf)
        dx = kernels.max_pool_backward(grad, took, x.shape, (3, 3), (1, 1), pads)
        np.testing.assert_array_equal(dx[0, :, :, 1], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_bad_arguments_are_refused():
    x = np.ones((1, 4, 4, 1))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'; got 'full'"):
        F.max_pool2d(x, 2, padding="full")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        F.avg_pool2d(x, 2, padding=1)
    with pytest.raises(ValueError, match="pool_size must be >= 1; got 0"):
        F.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="output height would be 0"):
        F.avg_pool2d(np.ones((1, 1, 4, 1)), 2)
    with pytest.raises(ValueError, match=r"x must have rank 4 \(N, H, W, C\); got shape \(4, 4\)"):
        F.max_pool2d(np.ones((4, 4)), 2)


def test_global_pooling():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(F.global_avg_pool2d(x).numpy(), x.mean(axis=(1, 2)))
    np.testing.assert_allclose(F.global_max_pool2d(x).numpy(), x.max(axis=(1, 2)))
    assert gradcheck(F.global_avg_pool2d, [x]) and gradcheck(F.global_max_pool2d, [x])


def _torch_pool(torch, kind, x, pool, strides, pads):
    tx = torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), requires_grad=True)
    (top, bottom), (left, right) = pads
    tf = torch.nn.functional
    if kind == "max":
        padded = tf.pad(tx, (left, right, top, bottom), value=-np.inf)
        return tx, tf.max_pool2d(padded, pool, strides)
    # Keras' 'same' average: window sum over real cells / number of real cells
    sums = tf.avg_pool2d(tf.pad(tx, (left, right, top, bottom)), pool, strides, divisor_override=1)
    ones = torch.ones((1, 1, *x.shape[1:3]), dtype=tx.dtype)
    counts = tf.avg_pool2d(tf.pad(ones, (left, right, top, bottom)), pool, strides, divisor_override=1)
    return tx, sums / counts


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(150))
def test_parity_with_pytorch(torch, kind, seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 17, size=2))
    pool = tuple(int(v) for v in rng.integers(1, 6, size=2))
    strides = tuple(int(v) for v in rng.integers(1, 4, size=2)) if rng.integers(3) else None
    padding = "same" if rng.integers(2) else "valid"
    s = strides or pool
    x = rng.standard_normal((int(rng.integers(1, 4)), h, w, int(rng.integers(1, 4))))
    if padding == "same":
        pads = (tf_same_pads(h, pool[0], s[0]), tf_same_pads(w, pool[1], s[1]))
    else:
        pads = ((0, 0), (0, 0))
        if h < pool[0] or w < pool[1]:
            with pytest.raises(ValueError, match="would be"):
                POOL[kind](x, pool, strides, padding)
            return
    xt = Tensor(x, requires_grad=True)
    z = POOL[kind](xt, pool, strides, padding)
    tx, tz = _torch_pool(torch, kind, x, pool, s, pads)
    np.testing.assert_allclose(z.numpy(), tz.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    grad = rng.standard_normal(z.shape)
    (z * grad).sum().backward()
    tz.backward(torch.tensor(np.ascontiguousarray(grad.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(xt.grad, tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12)


def _pool_with_grad(kind, x, pool, strides, padding, grad_seed):
    xt = Tensor(x, requires_grad=True)
    z = POOL[kind](xt, pool, strides, padding)
    (z * np.random.default_rng(grad_seed).standard_normal(z.shape)).sum().backward()
    return z.numpy(), xt.grad


@pytest.mark.parametrize("seed", range(40))
def test_tied_maxima_match_pytorch(torch, seed):
    """Inputs of a few integer values (and relu-like runs of zeros) tie inside most windows; the
    gradient still goes to the first maximum in row-major order, tiling windows or not."""
    rng = np.random.default_rng(500 + seed)
    h, w = (int(v) for v in rng.integers(2, 14, size=2))
    pool = tuple(int(v) for v in rng.integers(1, 4, size=2))
    strides = None if seed % 2 else tuple(int(v) for v in rng.integers(1, 4, size=2))
    s = strides or pool
    padding = "same" if seed % 3 == 0 else "valid"
    if padding == "valid" and (h < pool[0] or w < pool[1]):
        return
    x = np.maximum(rng.integers(-2, 3, size=(2, h, w, 3)), 0).astype(np.float64)
    pads = (tf_same_pads(h, pool[0], s[0]), tf_same_pads(w, pool[1], s[1])) if padding == "same" \
        else ((0, 0), (0, 0))
    z, dx = _pool_with_grad("max", x, pool, strides, padding, seed)
    tx, tz = _torch_pool(torch, "max", x, pool, s, pads)
    tz.backward(torch.tensor(np.ascontiguousarray(
        np.random.default_rng(seed).standard_normal(z.shape).transpose(0, 3, 1, 2))))
    np.testing.assert_array_equal(z, tz.detach().numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(dx, tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_2x2_loops_equal_the_general_loops(seed, kind, monkeypatch):
    """2x2 windows at stride 2 take loops of their own; they equal the general loops, forward and backward,
    on odd sizes (a last row or column no window reads), ties and NaN included."""
    from faltung.kernels.fast import pooling
    rng = np.random.default_rng(900 + seed)
    h, w = (int(v) for v in rng.integers(2, 15, size=2))
    x = np.maximum(rng.integers(-2, 4, size=(3, h, w, 17)), 0).astype(np.float32 if seed % 2 else np.float64)
    x[rng.random(x.shape) < 0.02] = np.nan
    x[0, 0, 0, 0] = np.nan
    assert pooling.is_2x2((2, 2), (2, 2), ((0, 0), (0, 0)))
    special = _pool_with_grad(kind, x, 2, None, "valid", seed)
    monkeypatch.setattr(pooling, "is_2x2", lambda pool, strides, pads: False)
    general = _pool_with_grad(kind, x, 2, None, "valid", seed)
    assert np.isnan(special[0]).any()
    for a, b in zip(special, general):
        assert a.dtype == b.dtype == x.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_threaded_chunks_equal_one_pass_over_the_batch(workers, kind, monkeypatch):
    """The batch split over a thread pool in chunks of one or two images gives the same forward and
    gradient as the whole batch in one chunk, for tiling, overlapping and gapped windows, 'valid'
    and 'same'; the forward also equals the plain reference."""
    from faltung.kernels.fast import parallel, pooling
    if workers > 1:
        pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(11)
    x = np.maximum(rng.integers(-3, 5, size=(7, 9, 8, 6)), 0).astype(np.float32)  # relu-like, with ties
    for pool, strides, padding in [((2, 2), None, "valid"), ((3, 3), (2, 2), "same"), ((2, 3), (3, 2), "valid"),
                                   ((3, 2), None, "same")]:
        monkeypatch.setattr(pooling, "_share", lambda n: n)
        whole = _pool_with_grad(kind, x, pool, strides, padding, 5)
        monkeypatch.setattr(parallel, "_threads", None)
        monkeypatch.setenv("FALTUNG_NUM_THREADS", str(workers))
        monkeypatch.setattr(pooling, "_share", lambda n: 1)  # one image a chunk
        try:
            chunked = _pool_with_grad(kind, x, pool, strides, padding, 5)
        finally:
            monkeypatch.setattr(parallel, "_threads", None)
            monkeypatch.delenv("FALTUNG_NUM_THREADS")
        for a, b in zip(chunked, whole):
            np.testing.assert_array_equal(a, b)
        s = pool if strides is None else strides
        pads = resolve_pads(padding, (9, 8), pool, s)
        kernel = reference.max_pool_forward if kind == "max" else reference.avg_pool_forward
        z = kernel(x, pool, s, pads, chunked[0].shape[1:3])
        np.testing.assert_allclose(chunked[0], z[0] if kind == "max" else z, rtol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_an_empty_batch_pools_to_an_empty_batch(kind):
    x = Tensor(np.zeros((0, 4, 5, 3), np.float32), requires_grad=True)
    z = POOL[kind](x, 2, None, "same")
    assert z.shape == (0, 2, 3, 3)
    z.sum().backward()
    assert x.grad.shape == (0, 4, 5, 3)
