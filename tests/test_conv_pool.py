"""Conv (+ relu) followed by max pooling as one kernel: the same numbers as the two ops run apart,
finite differences, PyTorch, threaded chunks, and the Sequential models that run it."""
import numpy as np
import pytest

import faltung as ft
import faltung.functional as F
from faltung import Tensor, zoo
from faltung import backend
from faltung.functional import conv_pool as fused_module
from faltung.kernels.fast import conv as conv_kernels
from faltung.testing import gradcheck

from conftest import explicit_pads, random_geometry


def _random_case(seed):
    """A conv geometry, a pool geometry that fits its output, and the inputs (integer-valued for
    every third seed, so that windows hold tied maxima, as relu output does)."""
    rng = np.random.default_rng(seed)
    while True:
        g = random_geometry(rng, max_size=12)
        pads = explicit_pads(g["padding"], g["hw"], g["kernel"], g["strides"], g["dilation"])
        out = [(n + sum(p) - d * (k - 1) - 1) // s + 1 for n, p, k, s, d in
               zip(g["hw"], pads, g["kernel"], g["strides"], g["dilation"])]
        pool = tuple(int(v) for v in rng.integers(1, 4, size=2))
        pool_padding = "same" if rng.integers(2) else "valid"
        if min(out) >= 1 and (pool_padding == "same" or min(o - p for o, p in zip(out, pool)) >= 0):
            break
    pool_strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
    n, c_in, c_out = (int(v) for v in rng.integers(1, 4, size=3))
    dtype = np.float32 if seed % 2 else np.float64
    if seed % 3 == 0:
        x = np.maximum(rng.integers(-2, 3, size=(n, *g["hw"], c_in)), 0).astype(dtype)
        w = rng.integers(-1, 2, size=(*g["kernel"], c_in, c_out)).astype(dtype)
    else:
        x = rng.standard_normal((n, *g["hw"], c_in)).astype(dtype)
        w = rng.standard_normal((*g["kernel"], c_in, c_out)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if rng.integers(2) else None
    conv = dict(strides=g["strides"], padding=g["padding"], dilation_rate=g["dilation"], relu=bool(rng.integers(2)))
    pool = dict(pool_size=pool, pool_strides=pool_strides, pool_padding=pool_padding)
    return x, w, b, conv, pool, rng.standard_normal


def _run(fused, x, w, b, conv, pool, normal):
    inputs = [Tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    xt, wt, bt = inputs + [None] * (3 - len(inputs))
    if fused:
        out = F.conv2d_max_pool2d(xt, wt, bt, **conv, **pool)
    else:
        out = F.max_pool2d(F.conv2d(xt, wt, bt, **conv), pool["pool_size"], pool["pool_strides"],
                           pool["pool_padding"])
    (out * normal(out.shape).astype(x.dtype)).sum().backward()
    return [out.numpy()] + [t.grad for t in inputs]


@pytest.mark.parametrize("seed", range(60))
def test_fused_equals_conv_then_pool(seed, monkeypatch):
    """Forward and gradients equal the two ops run one after the other, on both input-gradient
    algorithms, ties included: the pooling commutes with relu exactly. (Only the rounding of sums
    may differ: with 'valid' pooling the fused op skips conv outputs no window reads, so its
    products have other shapes.)"""
    monkeypatch.setattr(conv_kernels, "MIN_CHANNELS_FOR_CORRELATION", 1 if seed % 4 < 2 else 10**9)
    monkeypatch.setattr(conv_kernels, "MIN_PIXELS_FOR_CORRELATION", 1)
    x, w, b, conv, pool, _ = _random_case(seed)
    fused = _run(True, x, w, b, conv, pool, np.random.default_rng(seed).standard_normal)
    apart = _run(False, x, w, b, conv, pool, np.random.default_rng(seed).standard_normal)
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    for a, c in zip(fused, apart):
        assert a.dtype == c.dtype == x.dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol * max(1.0, float(np.abs(c).max())))


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("conv,pool", [
    (dict(strides=1, padding="valid"), dict(pool_size=2)),
    (dict(strides=2, padding="same"), dict(pool_size=3, pool_strides=2, pool_padding="same")),
    (dict(strides=1, padding=1, dilation_rate=2), dict(pool_size=(2, 3), pool_strides=(1, 2))),
])
def test_gradients_match_finite_differences(conv, pool, relu):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 7, 6, 2)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    assert gradcheck(lambda x, w, b: F.conv2d_max_pool2d(x, w, b, **conv, relu=relu, **pool), [x, w, b])


def test_pointwise_conv_under_pooling_that_leaves_pixels_out():
    """A 1x1 conv whose last row and column no 2x2 window reads (5x5 -> 2x2): only 4x4 outputs
    are computed, so it must not take the whole-image pointwise shortcut."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 5, 5, 3)), rng.standard_normal((1, 1, 3, 4)), rng.standard_normal(4)
    assert gradcheck(lambda x, w, b: F.conv2d_max_pool2d(x, w, b, relu=True), [x, w, b])
    fused = _run(True, x, w, b, dict(relu=True), dict(pool_size=2, pool_strides=None, pool_padding="valid"),
                 np.random.default_rng(0).standard_normal)
    apart = _run(False, x, w, b, dict(relu=True), dict(pool_size=2, pool_strides=None, pool_padding="valid"),
                 np.random.default_rng(0).standard_normal)
    for a, c in zip(fused, apart):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(30))
def test_parity_with_pytorch(torch, seed):
    """conv2d (explicit zero padding), relu, max_pool2d in PyTorch, on random geometry."""
    rng = np.random.default_rng(100 + seed)
    g = random_geometry(rng, max_size=12)
    pads = explicit_pads(g["padding"], g["hw"], g["kernel"], g["strides"], g["dilation"])
    out = [(n + sum(p) - d * (k - 1) - 1) // s + 1 for n, p, k, s, d in
           zip(g["hw"], pads, g["kernel"], g["strides"], g["dilation"])]
    pool = tuple(int(min(v, o)) for v, o in zip(rng.integers(1, 4, size=2), out))
    if min(out) < 1:
        return
    pool_strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
    n, c_in, c_out = (int(v) for v in rng.integers(1, 4, size=3))
    x, w = rng.standard_normal((n, *g["hw"], c_in)), rng.standard_normal((*g["kernel"], c_in, c_out))
    b = rng.standard_normal(c_out)
    fx, fw, fb = (Tensor(a, requires_grad=True) for a in (x, w, b))
    z = F.conv2d_max_pool2d(fx, fw, fb, g["strides"], g["padding"], g["dilation"], relu=True, pool_size=pool,
                            pool_strides=pool_strides)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in
                  (np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.ascontiguousarray(w.transpose(3, 2, 0, 1)), b))
    (top, bottom), (left, right) = pads
    tz = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, (left, right, top, bottom)), tw, tb,
                                    stride=g["strides"], dilation=g["dilation"])
    tz = torch.nn.functional.max_pool2d(torch.relu(tz), pool, pool_strides)
    np.testing.assert_allclose(z.numpy(), tz.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-10)
    grad = rng.standard_normal(z.shape)
    (z * grad).sum().backward()
    tz.backward(torch.tensor(np.ascontiguousarray(grad.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(fx.grad, tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fw.grad, tw.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fb.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("workers", [1, 2])
def test_threaded_chunks_equal_one_chunk(workers, monkeypatch):
    """The batch split over a thread pool in small chunks gives the numbers of one chunk."""
    from faltung.kernels.fast import parallel
    if workers > 1:
        pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((9, 10, 9, 4)).astype(np.float32), rng.standard_normal((3, 3, 4, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    conv, pool = dict(strides=1, padding="same", relu=True), dict(pool_size=3, pool_strides=2, pool_padding="same")
    monkeypatch.setattr(conv_kernels, "CHUNK_BYTES", 10**9)
    whole = _run(True, x, w, b, conv, pool, np.random.default_rng(1).standard_normal)
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.setenv("FALTUNG_NUM_THREADS", str(workers))
    monkeypatch.setattr(conv_kernels, "CHUNK_BYTES", 4096)
    try:
        chunked = _run(True, x, w, b, conv, pool, np.random.default_rng(1).standard_normal)
    finally:
        monkeypatch.setattr(parallel, "_threads", None)
        monkeypatch.delenv("FALTUNG_NUM_THREADS")
    for a, c in zip(chunked, whole):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)  # the chunks' dW and db add up in another order


def test_bad_arguments_are_refused():
    x, w = np.ones((1, 6, 6, 2), np.float32), np.ones((3, 3, 2, 4), np.float32)
    with pytest.raises(ValueError, match="C_in=3 input channels but x has 2"):
        F.conv2d_max_pool2d(x, np.ones((3, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="pool_size"):
        F.conv2d_max_pool2d(x, w, pool_size=0)
    with pytest.raises(ValueError, match="would be"):
        F.conv2d_max_pool2d(x, w, pool_size=5)  # a 4x4 conv output is smaller than the pool


def _count_fused_calls(monkeypatch) -> list:
    """Count the fused operations run from now on."""
    calls = []
    original = fused_module.Conv2DMaxPool2DOp.apply.__func__
    monkeypatch.setattr(fused_module.Conv2DMaxPool2DOp, "apply",
                        classmethod(lambda cls, *a, **k: calls.append(1) or original(cls, *a, **k)))
    return calls


@pytest.mark.parametrize("net,shape", [("lenet", (28, 28, 1)), ("vgg-small", (32, 32, 3))])
def test_sequential_runs_conv_and_pool_as_one_kernel(net, shape, monkeypatch):
    """A zoo net trains to the same weights (to rounding) whether its Conv2D + MaxPooling2D pairs run
    fused or apart, and they do run fused (two pairs in each of these nets)."""
    calls = _count_fused_calls(monkeypatch)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (6, *shape)).astype(np.uint8), rng.integers(0, 10, 6)
    results = []
    try:
        for fuse in (True, False):
            backend.configure(fusion=fuse)
            ft.set_seed(0)
            model = zoo.build(net, shape, 10)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            for _ in range(2):
                model.train_on_batch(x, y)
            results.append([model.predict(x, verbose=0)] + [w.numpy() for w in model.weights])
            assert len(calls) == 2 * 3  # two pairs, in two training steps and one prediction; none unfused
    finally:
        backend.configure(fusion=True)
    for a, c in zip(*results):  # the same up to the rounding of sums over other shapes
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)


def test_only_relu_or_linear_convs_followed_by_max_pooling_fuse():
    from faltung import layers
    from faltung.models.graph import fusable
    conv = layers.Conv2D(2, 3, activation="relu")
    assert fusable(conv, layers.MaxPooling2D(2))
    assert fusable(layers.Conv2D(2, 3), layers.MaxPooling2D(2))
    assert not fusable(layers.Conv2D(2, 3, activation="tanh"), layers.MaxPooling2D(2))
    assert not fusable(conv, layers.AveragePooling2D(2))
    assert not fusable(conv, layers.MaxPooling2D(2, dtype="float64"))

    class MyConv(layers.Conv2D):  # a subclass may compute something else
        pass
    assert not fusable(MyConv(2, 3), layers.MaxPooling2D(2))


def test_fusion_is_a_pass_over_any_graph(monkeypatch):
    """In a functional model a conv fuses with the max pooling that alone reads it; a conv that another
    layer reads too, or that the model returns, runs on its own; fused or not, the outputs agree."""
    from faltung import layers, models
    calls = _count_fused_calls(monkeypatch)
    ft.set_seed(0)
    inputs = layers.Input((12, 12, 2))
    a = layers.Conv2D(4, 3, activation="relu")(inputs)  # read by its pooling only: fused
    b = layers.Conv2D(4, 3)(inputs)                      # read by its pooling and by Flatten: apart
    c = layers.Conv2D(4, 3, activation="tanh")(inputs)   # tanh does not commute with the maximum: apart
    pooled = [layers.MaxPooling2D(2)(t) for t in (a, b, c)]
    joined = layers.Concatenate()([layers.Flatten()(t) for t in pooled + [b]])
    model = models.Model(inputs, joined)
    x = np.random.default_rng(0).standard_normal((3, 12, 12, 2)).astype(np.float32)
    fused = model.predict(x, verbose=0)
    assert len(calls) == 1
    try:
        backend.configure(fusion=False)
        apart = model.predict(x, verbose=0)
    finally:
        backend.configure(fusion=True)
    assert len(calls) == 1
    np.testing.assert_allclose(fused, apart, rtol=1e-5, atol=1e-6)
    seeing = models.Model(inputs, [a, pooled[0]])  # a model that returns the conv's output too
    conv_out, pool_out = seeing.predict(x, verbose=0)
    assert len(calls) == 1
    np.testing.assert_allclose(F.max_pool2d(conv_out, 2).numpy(), pool_out, rtol=1e-6)


def test_an_empty_batch():
    x = Tensor(np.zeros((0, 6, 6, 2), np.float32), requires_grad=True)
    w = Tensor(np.ones((3, 3, 2, 4), np.float32), requires_grad=True)
    z = F.conv2d_max_pool2d(x, w, relu=True)
    assert z.shape == (0, 2, 2, 4)
    z.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape and not w.grad.any()
