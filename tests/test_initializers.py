"""Initializers: Keras' fans, variances, truncation, dtypes, seeding, lookup and config."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from faltung import backend, initializers
from faltung.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Ones,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    compute_fans,
)

TRUNC = 0.87962566103423978  # stddev of N(0, 1) truncated to [-2, 2]
DENSE = (256, 512)
CONV = (3, 3, 64, 128)  # (kh, kw, C_in, C_out): fan_in = 576, fan_out = 1152


@pytest.fixture(autouse=True)
def _seed():
    backend.set_seed(1234)
    yield
    backend.set_floatx("float32")


@pytest.mark.parametrize(
    "shape, fans",
    [((), (1, 1)), ((7,), (7, 7)), ((3, 4), (3, 4)), ((3, 3, 16, 32), (144, 288)), ((5, 2, 8), (10, 40)), (CONV, (576, 1152))],
)
def test_compute_fans(shape, fans):
    assert compute_fans(shape) == fans


# name -> (class, expected stddev as a function of (fan_in, fan_out), "uniform" | "truncated")
VARIANCE_SCALING = {
    "glorot_uniform": (GlorotUniform, lambda i, o: math.sqrt(2.0 / (i + o)), "uniform"),
    "glorot_normal": (GlorotNormal, lambda i, o: math.sqrt(2.0 / (i + o)), "truncated"),
    "he_uniform": (HeUniform, lambda i, o: math.sqrt(2.0 / i), "uniform"),
    "he_normal": (HeNormal, lambda i, o: math.sqrt(2.0 / i), "truncated"),
    "lecun_uniform": (LecunUniform, lambda i, o: math.sqrt(1.0 / i), "uniform"),
    "lecun_normal": (LecunNormal, lambda i, o: math.sqrt(1.0 / i), "truncated"),
}


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(VARIANCE_SCALING))
def test_variance_scaling_statistics(name, shape):
    cls, std_of, kind = VARIANCE_SCALING[name]
    fan_in, fan_out = compute_fans(shape)
    std = std_of(fan_in, fan_out)
    x = initializers.get(name)(shape)
    assert isinstance(x, np.ndarray) and x.shape == shape and x.dtype == np.float32
    assert type(initializers.get(name)) is cls
    x64 = x.astype(np.float64)
    n = x.size
    assert abs(x64.mean()) < 5 * std / math.sqrt(n)
    assert x64.std() == pytest.approx(std, rel=0.02)
    if kind == "uniform":
        limit = math.sqrt(3.0) * std  # e.g. Glorot: sqrt(6 / (fan_in + fan_out))
        assert np.abs(x64).max() <= np.float32(limit)
        assert np.abs(x64).max() > 0.99 * limit
    else:
        bound = 2.0 * std / TRUNC  # 2 stddev of the untruncated draw
        assert np.abs(x64).max() <= np.float32(bound) * (1 + 1e-7)
        assert np.abs(x64).max() > 0.97 * bound
        # a normal with that stddev but no truncation would put ~4.6% beyond the bound
        assert np.mean(np.abs(x64) > 0.999 * bound) < 0.001


def test_truncated_normal_initializer():
    x = TruncatedNormal(mean=1.0, stddev=0.5)((200, 300)).astype(np.float64)
    assert x.min() >= 0.0 and x.max() <= 2.0
    assert x.mean() == pytest.approx(1.0, abs=0.01)
    assert x.std() == pytest.approx(0.5 * TRUNC, rel=0.02)  # no rescaling outside VarianceScaling


def test_untruncated_normal_variance_scaling():
    x = VarianceScaling(scale=3.0, mode="fan_out", distribution="untruncated_normal")(DENSE).astype(np.float64)
    std = math.sqrt(3.0 / 512)
    assert x.std() == pytest.approx(std, rel=0.02)
    assert np.abs(x).max() > 3.5 * std  # tails are kept


def test_fan_avg_and_empty_fans():
    x = VarianceScaling(scale=0.25, mode="fan_avg", distribution="uniform")((400, 100)).astype(np.float64)
    assert x.std() == pytest.approx(math.sqrt(0.25 / 250), rel=0.02)
    # a zero fan is replaced by 1 (Keras' max(1, n)), so empty weights do not divide by zero
    y = VarianceScaling(scale=0.25, mode="fan_in", distribution="truncated_normal")((0, 5))
    assert y.shape == (0, 5) and y.dtype == np.float32


def test_random_normal_and_uniform():
    x = RandomNormal(mean=1.0, stddev=2.0)((300, 300)).astype(np.float64)
    assert x.mean() == pytest.approx(1.0, abs=0.03)
    assert x.std() == pytest.approx(2.0, rel=0.02)
    u = RandomUniform(minval=2.0, maxval=3.0)((300, 300)).astype(np.float64)
    assert u.min() >= 2.0 and u.max() <= 3.0
    assert u.mean() == pytest.approx(2.5, abs=0.01)
    assert u.var() == pytest.approx(1.0 / 12.0, rel=0.02)
    assert RandomNormal().stddev == 0.05 and RandomNormal().mean == 0.0
    assert (RandomUniform().minval, RandomUniform().maxval) == (-0.05, 0.05)
    assert np.abs(RandomUniform()((1000,))).max() <= np.float32(0.05)


def test_constant_zeros_ones():
    c = Constant(0.5)((2, 3))
    assert c.dtype == np.float32 and c.shape == (2, 3) and np.all(c == 0.5)
    assert Constant()((2,)).tolist() == [0.0, 0.0]
    assert Constant(3)((2,), dtype="int32").dtype == np.int32
    z, o = Zeros()((4,)), Ones()((4,), dtype=np.float64)
    assert z.dtype == np.float32 and not z.any()
    assert o.dtype == np.float64 and np.all(o == 1.0)


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "random_normal", "truncated_normal", "zeros", "ones"])
def test_dtype_argument_and_floatx(name):
    init = initializers.get(name)
    assert init((3, 4), dtype="float64").dtype == np.float64
    assert init((3, 4)).dtype == np.float32
    backend.set_floatx("float64")
    assert init((3, 4)).dtype == np.float64


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "random_uniform", "truncated_normal"])
def test_random_initializers_refuse_integer_dtypes(name):
    with pytest.raises(ValueError, match=r"`dtype` must be a float dtype.*int32"):
        initializers.get(name)((2, 2), dtype="int32")


@pytest.mark.parametrize("name", sorted(VARIANCE_SCALING) + ["random_normal", "random_uniform", "truncated_normal"])
def test_set_seed_makes_draws_repeatable(name):
    init = initializers.get(name)
    backend.set_seed(7)
    a, b = init((5, 6)), init((5, 6))
    backend.set_seed(7)
    a2, b2 = init((5, 6)), init((5, 6))
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    assert not np.array_equal(a, b)


def test_draws_come_from_the_backend_generator():
    backend.set_seed(3)
    GlorotUniform()((4, 4))
    after_init = backend.rng().random()
    backend.set_seed(3)
    assert backend.rng().random() != after_init  # the initializer advanced backend.rng()


def test_integer_seed_repeats_on_every_call():
    init = HeNormal(seed=11)
    assert np.array_equal(init((4, 5)), init((4, 5)))
    assert not np.array_equal(init((4, 5)), HeNormal(seed=12)((4, 5)))
    assert init.get_config() == {"seed": 11}


@pytest.mark.parametrize(
    "identifier, cls",
    [
        ("glorot_uniform", GlorotUniform), ("GlorotUniform", GlorotUniform), ("glorot_normal", GlorotNormal),
        ("he_uniform", HeUniform), ("he_normal", HeNormal), ("lecun_uniform", LecunUniform),
        ("lecun_normal", LecunNormal), ("zeros", Zeros), ("zero", Zeros), ("ones", Ones), ("one", Ones),
        ("constant", Constant), ("random_normal", RandomNormal), ("normal", RandomNormal),
        ("random_uniform", RandomUniform), ("uniform", RandomUniform), ("truncated_normal", TruncatedNormal),
        ("variance_scaling", VarianceScaling), (HeUniform, HeUniform),
        ({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.1}}, RandomNormal),
    ],
)
def test_get(identifier, cls):
    assert type(initializers.get(identifier)) is cls


def test_get_passthrough_and_errors():
    init = Constant(2.0)
    assert initializers.get(init) is init
    assert initializers.get(None) is None
    fn = lambda shape, dtype=None: np.full(shape, 9.0)  # noqa: E731
    assert initializers.get(fn) is fn
    with pytest.raises(ValueError, match=r"'glorot_uniformm'.*glorot_uniform"):
        initializers.get("glorot_uniformm")
    with pytest.raises(ValueError, match="could not interpret"):
        initializers.get(3.5)


@pytest.mark.parametrize(
    "init",
    [GlorotUniform(), HeNormal(seed=3), Constant(0.25), Zeros(), RandomNormal(1.0, 0.2),
     RandomUniform(-1.0, 2.0, seed=5), TruncatedNormal(0.0, 0.3),
     VarianceScaling(2.0, "fan_out", "normal")],
    ids=lambda i: type(i).__name__,
)
def test_config_round_trip(init):
    config = json.loads(json.dumps(initializers.serialize(init)))
    again = initializers.deserialize(config)
    assert type(again) is type(init)
    assert again.get_config() == init.get_config()
    if getattr(init, "seed", None) is not None or isinstance(init, (Constant, Zeros)):
        assert np.array_equal(again((3, 4)), init((3, 4)))


def test_variance_scaling_config_and_normal_alias():
    vs = VarianceScaling(scale=2.0, mode="fan_out", distribution="normal")
    assert vs.get_config() == {"seed": None, "scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}
    assert GlorotUniform().get_config() == {"seed": None}


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: VarianceScaling(mode="fan_middle"), r"`mode` must be one of.*fan_in.*mode='fan_middle'"),
        (lambda: VarianceScaling(scale=0.0), r"`scale` must be a finite float > 0; received scale=0\.0"),
        (lambda: VarianceScaling(distribution="cauchy"), r"distribution='cauchy'"),
        (lambda: RandomUniform(minval=1.0, maxval=0.0), r"maxval.*minval=1\.0, maxval=0\.0"),
        (lambda: RandomNormal(stddev="wide"), r"stddev='wide'"),
        (lambda: HeNormal(seed=-1), r"`seed` must be a non-negative int or None; received seed=-1"),
        (lambda: Constant([1.0, 2.0]), r"`value` must be a real scalar"),
        (lambda: GlorotUniform()((3, -1)), r"`shape` must be a tuple of non-negative ints; received shape=\(3, -1\)"),
        (lambda: Zeros()((2.5, 2)), r"shape=\(2\.5, 2\)"),
        (lambda: Ones()((2,), dtype="not-a-dtype"), r"dtype='not-a-dtype'"),
    ],
)
def test_argument_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
