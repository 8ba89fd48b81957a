"""F.conv2d: output sizes, Keras' padding rule, gradients (finite differences), parity with PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import faltung.functional as F
from faltung.kernels import fast, reference
from faltung.kernels.fast import conv as conv_kernels
from faltung.kernels.padding import normalize_padding, output_size, resolve_pads
from faltung.testing import gradcheck

from conftest import explicit_pads, out_len, random_geometry, tf_same_pads


def test_lecture_layer_formula_on_a_single_position():
    # Z[i,j,r] = sum_{i',j',k} x[i+i', j+j', k] f[i',j',k,r] + b[r], computed by hand for (0,0,r)
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((1, 4, 5, 3)), rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)
    z = F.conv2d(x, w, b).numpy()
    assert z.shape == (1, 3, 3, 2)
    for r in range(2):
        expected = sum(x[0, i, j, k] * w[i, j, k, r] for i in range(2) for j in range(3) for k in range(3))
        assert z[0, 0, 0, r] == pytest.approx(expected + b[r])


@pytest.mark.parametrize("n,k,s,d", [(5, 3, 1, 1), (5, 3, 2, 1), (6, 3, 2, 1), (7, 4, 3, 2), (1, 5, 2, 1),
                                     (4, 2, 1, 1), (10, 3, 3, 3)])
def test_same_padding_is_tensorflows(n, k, s, d):
    pads = resolve_pads("same", (n, n), (k, k), (s, s), (d, d))
    assert pads[0] == tf_same_pads(n, k, s, d)
    x = np.ones((1, n, n, 1))
    z = F.conv2d(x, np.ones((k, k, 1, 1)), strides=s, padding="same", dilation_rate=d)
    assert z.shape == (1, -(-n // s), -(-n // s), 1)


def test_same_padding_puts_the_extra_pixel_bottom_right():
    # 4 wide, kernel 2, stride 1: pad_total 1 -> (0, 1). Output's last column sees the padded zero.
    x = np.arange(1.0, 5.0).reshape(1, 1, 4, 1)
    z = F.conv2d(x, np.ones((1, 2, 1, 1)), padding="same").numpy().ravel()
    np.testing.assert_allclose(z, [3, 5, 7, 4])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3))
def test_output_size_formulas(n, k, s, d):
    k_eff = d * (k - 1) + 1
    assert output_size((n, n), (k, k), (s, s), (d, d), resolve_pads("same", (n, n), (k, k), (s, s), (d, d))) \
        == (-(-n // s),) * 2
    if n >= k_eff:
        assert output_size((n, n), (k, k), (s, s), (d, d), ((0, 0), (0, 0)))[0] == (n - k_eff) // s + 1
    else:
        with pytest.raises(ValueError, match="effective kernel size"):
            output_size((n, n), (k, k), (s, s), (d, d), ((0, 0), (0, 0)))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), min_channels=st.sampled_from([1, 10**9]))
def test_fast_kernels_equal_reference(seed, min_channels):
    """Forward and all three gradients, relu fused or not, both input-gradient algorithms of the fast set."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_kernels, "MIN_CHANNELS_FOR_CORRELATION", min_channels)
        patch.setattr(conv_kernels, "MIN_PIXELS_FOR_CORRELATION", 1)
        _compare_kernel_sets(np.random.default_rng(seed), relu=bool(seed % 2))


def _random_case(rng):
    """A random conv geometry (``random_geometry``), its explicit pads and its output size."""
    g = random_geometry(rng, max_size=9)
    pads = explicit_pads(g["padding"], g["hw"], g["kernel"], g["strides"], g["dilation"])
    out_hw = tuple(out_len(n, k, s, d, *p) for n, k, s, d, p in
                   zip(g["hw"], g["kernel"], g["strides"], g["dilation"], pads))
    return g, pads, out_hw


def _compare_kernel_sets(rng, relu):
    """The fast and the reference conv kernels on a random geometry, forward and backward."""
    g, pads, out_hw = _random_case(rng)
    if min(out_hw) < 1:
        return
    x = rng.standard_normal((2, *g["hw"], 3))
    w = rng.standard_normal((*g["kernel"], 3, 2))
    b = rng.standard_normal(2)
    geometry = (g["strides"], g["dilation"], pads)
    z = fast.conv2d_forward(x, w, b, *geometry, out_hw, relu=relu)
    ref = reference.conv2d_forward(x, w, b, *geometry, out_hw, relu=relu)
    np.testing.assert_allclose(z, ref, atol=1e-12)
    grad = rng.standard_normal(z.shape)
    relu_out = (z, ref) if relu else (None, None)
    for a, c in zip(fast.conv2d_backward(grad, x, w, *geometry, relu_out=relu_out[0]),
                    reference.conv2d_backward(grad, x, w, *geometry, relu_out=relu_out[1])):
        np.testing.assert_allclose(a, c, atol=1e-11)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), c_in=st.sampled_from([1, 2, 3, 4, 16, 37]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_compiled_col2im_equals_the_reference(seed, c_in, dtype):
    """The fast kernels' col2im (a compiled loop) adds the window gradients onto the same pixels as the
    reference's, padding, stride and dilation included, in float32 and float64."""
    from faltung.kernels.fast import col2im, compiled
    if not compiled.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(seed)
    g, pads, out_hw = _random_case(rng)
    if min(out_hw) < 1:
        return
    x_shape = (2, *g["hw"], c_in)
    dwin = rng.standard_normal((2 * out_hw[0] * out_hw[1], g["kernel"][0] * g["kernel"][1] * c_in)).astype(dtype)
    dx = np.full(x_shape, np.nan, dtype)  # every cell must be written, also those no window reads
    col2im.add_windows_into(dwin, g["kernel"], g["strides"], g["dilation"], pads, out_hw, dx)
    expected = reference.col2im(dwin, x_shape, g["kernel"], g["strides"], g["dilation"], pads, out_hw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("strides,padding,dilation", [
    (1, "valid", 1), (1, "same", 1), (2, "same", 1), ((2, 3), "same", (1, 2)), (1, 1, 2),
    ((3, 1), ((1, 0), (2, 1)), 1), (2, "valid", 2), (1, ((3, 0), (0, 4)), 1), (1, "same", (2, 1)),
])
@pytest.mark.parametrize("min_channels", [1, 10**9])
def test_gradients_match_finite_differences(strides, padding, dilation, min_channels, monkeypatch):
    monkeypatch.setattr(conv_kernels, "MIN_CHANNELS_FOR_CORRELATION", min_channels)
    monkeypatch.setattr(conv_kernels, "MIN_PIXELS_FOR_CORRELATION", 1)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(2)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, strides, padding, dilation), [x, w, b])


def test_gradcheck_catches_a_wrong_gradient():
    from faltung.autograd import Function

    class Wrong(Function):
        def forward(self, x):
            return x * x

        def backward(self, g):
            return (g * 3,)  # should be 2x

    with pytest.raises(AssertionError, match="differs"):
        gradcheck(Wrong.apply, [np.array([0.5, 1.5])])


def test_float32_stays_float32_and_float64_stays_float64():
    for dtype in (np.float32, np.float64):
        x = np.ones((1, 5, 5, 2), dtype)
        w = np.ones((3, 3, 2, 4), dtype)
        from faltung import Tensor
        xt, wt, bt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True), Tensor(np.zeros(4, dtype), requires_grad=True)
        z = F.conv2d(xt, wt, bt, padding="same")
        assert z.dtype == dtype
        z.sum().backward()
        assert xt.grad.dtype == wt.grad.dtype == bt.grad.dtype == dtype


@pytest.mark.parametrize("kwargs,message", [
    (dict(padding="smae"), "padding must be 'valid', 'same', an int or ((top, bottom), (left, right)); got 'smae'"),
    (dict(padding=-1), "padding must be"),
    (dict(strides=0), "strides must be >= 1; got 0"),
    (dict(strides=(1, 2, 3)), "strides must be an int or a pair of ints"),
    (dict(dilation_rate=1.5), "dilation_rate must be an int or a pair of ints; got 1.5"),
])
def test_bad_options_are_refused_with_their_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        F.conv2d(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), **kwargs)


def test_bad_shapes_and_dtypes_are_refused():
    with pytest.raises(ValueError, match="kernel expects C_in=3 input channels but x has 1"):
        F.conv2d(np.ones((1, 5, 5, 1)), np.ones((3, 3, 3, 2)))
    with pytest.raises(ValueError, match=r"x must have rank 4 \(N, H, W, C_in\); got shape \(5, 5\)"):
        F.conv2d(np.ones((5, 5)), np.ones((3, 3, 1, 1)))
    with pytest.raises(ValueError, match="bias has 3 entries; expected one per filter, C_out=2"):
        F.conv2d(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"output height would be 0: input height 2 .* effective kernel size 3"):
        F.conv2d(np.ones((1, 2, 5, 1)), np.ones((3, 3, 1, 1)))
    with pytest.raises(TypeError, match="dtypes must match: x is float32, kernel is float64"):
        F.conv2d(np.ones((1, 5, 5, 1), np.float32), np.ones((3, 3, 1, 1)))
    with pytest.raises(TypeError, match="kernel must be a numeric array"):
        F.conv2d(np.ones((1, 5, 5, 1)), "filter")


def test_normalize_padding_accepts_every_form():
    assert normalize_padding("SAME") == "same"
    assert normalize_padding(2) == ((2, 2), (2, 2))
    assert normalize_padding(((1, 2), (3, 0))) == ((1, 2), (3, 0))
    with pytest.raises(ValueError):
        normalize_padding("same", allow_explicit=False) and normalize_padding(1, allow_explicit=False)


def _torch_conv(torch, x, w, b, strides, dilation, pads):
    tx = torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), requires_grad=True)
    tw = torch.tensor(np.ascontiguousarray(w.transpose(3, 2, 0, 1)), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    (top, bottom), (left, right) = pads
    padded = torch.nn.functional.pad(tx, (left, right, top, bottom))
    out = torch.nn.functional.conv2d(padded, tw, tb, stride=strides, dilation=dilation)
    return tx, tw, tb, out


@pytest.mark.parametrize("seed", range(300))
def test_parity_with_pytorch(torch, seed, monkeypatch):
    # both input-gradient algorithms (correlation with the rotated kernel; col2im) on every geometry
    monkeypatch.setattr(conv_kernels, "MIN_CHANNELS_FOR_CORRELATION", 1 if seed % 2 else 10**9)
    monkeypatch.setattr(conv_kernels, "MIN_PIXELS_FOR_CORRELATION", 1)
    rng = np.random.default_rng(seed)
    g = random_geometry(rng)
    n, c_in, c_out = (int(v) for v in rng.integers(1, 4, size=3))
    dtype = np.float64 if seed % 3 else np.float32
    x = rng.standard_normal((n, *g["hw"], c_in)).astype(dtype)
    w = rng.standard_normal((*g["kernel"], c_in, c_out)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    pads = explicit_pads(g["padding"], g["hw"], g["kernel"], g["strides"], g["dilation"])
    expected_hw = [out_len(nn, k, s, d, *p) for nn, k, s, d, p in
                   zip(g["hw"], g["kernel"], g["strides"], g["dilation"], pads)]
    if min(expected_hw) < 1:
        with pytest.raises(ValueError, match="would be"):
            F.conv2d(x, w, b, g["strides"], g["padding"], g["dilation"])
        return
    from faltung import Tensor
    fx, fw, fb = (Tensor(a, requires_grad=True) for a in (x, w, b))
    z = F.conv2d(fx, fw, fb, g["strides"], g["padding"], g["dilation"])
    tx, tw, tb, tz = _torch_conv(torch, x, w, b, g["strides"], g["dilation"], pads)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(z.numpy(), tz.detach().numpy().transpose(0, 2, 3, 1), **tol)
    grad = rng.standard_normal(z.shape).astype(dtype)
    (z * grad).sum().backward()
    tz.backward(torch.tensor(np.ascontiguousarray(grad.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(fx.grad, tx.grad.numpy().transpose(0, 2, 3, 1), **tol)
    np.testing.assert_allclose(fw.grad, tw.grad.numpy().transpose(2, 3, 1, 0), **tol)
    np.testing.assert_allclose(fb.grad, tb.grad.numpy(), **tol)


def test_fused_relu_equals_conv_then_relu():
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    fused = F.conv2d(x, w, b, padding="same", relu=True).numpy()
    np.testing.assert_array_equal(fused, F.relu(F.conv2d(x, w, b, padding="same")).numpy())
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, strides=2, padding="same", relu=True), [x, w, b])


@pytest.mark.parametrize("workers", [1, 2])
def test_threaded_chunks_equal_the_plain_adjoint(workers, monkeypatch):
    """The batch split over a thread pool in cache-sized chunks gives the plain formulas' results."""
    from faltung.kernels.fast import parallel
    if workers > 1:
        pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.setenv("FALTUNG_NUM_THREADS", str(workers))
    monkeypatch.setattr(conv_kernels, "CHUNK_BYTES", 4096)  # many chunks even for a small batch
    monkeypatch.setattr(conv_kernels, "MIN_CHANNELS_FOR_CORRELATION", 1)
    monkeypatch.setattr(conv_kernels, "MIN_PIXELS_FOR_CORRELATION", 1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 9, 8, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 5)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    try:
        for strides in ((1, 1), (2, 2)):
            out_hw = output_size(x.shape[1:3], (3, 3), strides, (1, 1), pads)
            ref = reference.conv2d_forward(x, w, None, strides, (1, 1), pads, out_hw)
            out = conv_kernels.conv2d_forward(x, w, None, strides, (1, 1), pads, out_hw)
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
            g = rng.standard_normal(ref.shape).astype(np.float32)
            dx, dw, db = conv_kernels.conv2d_backward(g, x, w, strides, (1, 1), pads)
            # the adjoint of Z[n,i,j,r] = sum xp[n, s*i+a, s*j+b, k] w[a,b,k,r], one output position at a time
            xp = np.pad(x, ((0, 0), *pads, (0, 0))).astype(np.float64)
            dxp, dw_ref = np.zeros_like(xp), np.zeros(w.shape)
            for i in range(ref.shape[1]):
                for j in range(ref.shape[2]):
                    rows = slice(strides[0] * i, strides[0] * i + 3)
                    cols = slice(strides[1] * j, strides[1] * j + 3)
                    dxp[:, rows, cols, :] += np.einsum("nr,abkr->nabk", g[:, i, j], w)
                    dw_ref += np.einsum("nabk,nr->abkr", xp[:, rows, cols, :], g[:, i, j])
            np.testing.assert_allclose(dx, dxp[:, 1:-1, 1:-1], rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(dw, dw_ref, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(db, g.sum(axis=(0, 1, 2)), rtol=1e-5, atol=1e-4)
    finally:
        parallel._threads = None  # the next user reads FALTUNG_NUM_THREADS afresh


@pytest.mark.parametrize("seed", range(12))
def test_many_channel_layers_match_pytorch(torch, seed):
    """Forward and all gradients in float32 with enough channels for the correlation path of dx."""
    rng = np.random.default_rng(1000 + seed)
    h, w = (int(v) for v in rng.integers(4, 14, size=2))
    c_in, c_out = (int(v) for v in rng.choice([16, 32], size=2))
    padding = ["same", "valid", 1, ((2, 0), (1, 2))][seed % 4]
    x = rng.standard_normal((2, h, w, c_in)).astype(np.float32)
    k = (rng.standard_normal((3, 3, c_in, c_out)) / 10).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    pads = explicit_pads(padding, (h, w), (3, 3), (1, 1), (1, 1))
    from faltung import Tensor
    fx, fw, fb = (Tensor(a, requires_grad=True) for a in (x, k, b))
    z = F.conv2d(fx, fw, fb, padding=padding)
    tx, tw, tb, tz = _torch_conv(torch, x, k, b, (1, 1), (1, 1), pads)
    np.testing.assert_allclose(z.numpy(), tz.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
    grad = rng.standard_normal(z.shape).astype(np.float32)
    (z * grad).sum().backward()
    tz.backward(torch.tensor(np.ascontiguousarray(grad.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(fx.grad, tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fw.grad, tw.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(fb.grad, tb.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_an_empty_batch_has_zero_kernel_and_bias_gradients():
    from faltung import Tensor
    x = Tensor(np.zeros((0, 5, 5, 2), np.float32), requires_grad=True)
    w = Tensor(np.ones((3, 3, 2, 4), np.float32), requires_grad=True)
    b = Tensor(np.ones(4, np.float32), requires_grad=True)
    z = F.conv2d(x, w, b, padding="same", relu=True)
    assert z.shape == (0, 5, 5, 4)
    z.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape and b.grad.shape == (4,)
    assert not w.grad.any() and not b.grad.any() and w.grad.dtype == np.float32
