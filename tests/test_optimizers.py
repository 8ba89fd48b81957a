"""Optimizers: update rules against PyTorch and against Keras' formulas, schedules, config, state."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faltung import optimizers
from faltung.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from faltung.optimizers.schedules import CosineDecay, ExponentialDecay


class Var:
    """The minimal variable an optimizer updates: ``.data`` and ``.name``."""

    def __init__(self, data: np.ndarray, name: str = "w") -> None:
        self.data = data
        self.name = name


SHAPES = [(4, 3), (3,), (2, 2, 1, 3)]
NAMES = ["dense/kernel", "dense/bias", "conv/kernel"]
# Gradient sizes vary from step to step so that AMSGrad's max(v_hat, v) matters.
SCALES = [1.0, 0.3, 2.0, 0.5, 1.5, 0.1]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1234)
    w0 = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) * c for s in SHAPES] for c in SCALES]
    return w0, grads


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def make_vars(w0, dtype=np.float64):
    return [Var(w.astype(dtype), n) for w, n in zip(w0, NAMES)]


def run_faltung(opt, w0, grads, dtype=np.float64, variables=None):
    variables = variables if variables is not None else make_vars(w0, dtype)
    traj = []
    for step_grads in grads:
        opt.apply_gradients(zip(step_grads, variables))
        traj.append([v.data.copy() for v in variables])
    return traj


def run_torch(torch, make_opt, w0, grads, pre_step=None):
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in w0]
    opt = make_opt(params)
    traj = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g, dtype=torch.float64)
        if pre_step is not None:
            pre_step(params)
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def assert_traj_close(a, b, rtol=1e-10, atol=1e-12):
    assert len(a) == len(b)
    for step, (wa, wb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(wa, wb)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step}, variable {i}")


def traj_close(a, b, rtol=1e-10, atol=1e-12):
    return all(np.allclose(x, y, rtol=rtol, atol=atol) for wa, wb in zip(a, b) for x, y in zip(wa, wb))


# --------------------------------------------------------------------------- #
# A float64 re-implementation of Keras 3's documented update rules
# (keras/src/optimizers/*.py and base_optimizer.py), written plainly.
# --------------------------------------------------------------------------- #
def sgd_rule(w, g, s, lr, t, momentum=0.0, nesterov=False):
    if momentum == 0:
        return w - lr * g
    v = momentum * s.get("v", 0.0) - lr * g
    s["v"] = v
    return w + momentum * v - lr * g if nesterov else w + v


def adam_rule(w, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    v = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    s["m"], s["v"] = m, v
    if amsgrad:
        v = np.maximum(s.get("v_hat", 0.0), v)
        s["v_hat"] = v
    alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - alpha * m / (np.sqrt(v) + epsilon)


def rmsprop_rule(w, g, s, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    v = rho * s.get("v", 0.0) + (1 - rho) * g**2
    s["v"] = v
    if centered:
        a = rho * s.get("a", 0.0) + (1 - rho) * g
        s["a"] = a
        inc = lr * g / np.sqrt(v - a**2 + epsilon)
    else:
        inc = lr * g / np.sqrt(v + epsilon)
    if momentum > 0:
        mom = momentum * s.get("mom", 0.0) + inc
        s["mom"] = mom
        return w - mom
    return w - inc


def adagrad_rule(w, g, s, lr, t, initial_accumulator_value=0.1, epsilon=1e-7):
    acc = s.get("acc", initial_accumulator_value) + g**2
    s["acc"] = acc
    return w - lr * g / np.sqrt(acc + epsilon)


RULES = {"sgd": sgd_rule, "adam": adam_rule, "rmsprop": rmsprop_rule, "adagrad": adagrad_rule}


def run_reference(kind, hp, w0, grads, lr, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
    """Keras' apply(): clip, then decoupled decay w - w*wd*lr, then the rule with t = iterations + 1."""
    lr_at = lr if callable(lr) else (lambda step: lr)
    ws = [w.astype(np.float64) for w in w0]
    slots = [{} for _ in ws]
    traj = []
    for step, step_grads in enumerate(grads):
        rate = lr_at(step)
        gs = [np.asarray(g, dtype=np.float64) for g in step_grads]
        if clipnorm is not None:
            gs = [g * clipnorm / max(np.sqrt(np.sum(g**2)), clipnorm) for g in gs]
        elif global_clipnorm is not None:
            norm = np.sqrt(sum(np.sum(g**2) for g in gs))
            gs = [g * global_clipnorm * min(1 / norm, 1 / global_clipnorm) for g in gs]
        elif clipvalue is not None:
            gs = [np.clip(g, -clipvalue, clipvalue) for g in gs]
        if weight_decay is not None:
            ws = [w - w * weight_decay * rate for w in ws]
        ws = [RULES[kind](w, g, s, rate, step + 1, **hp) for w, g, s in zip(ws, gs, slots)]
        traj.append([w.copy() for w in ws])
    return traj


# --------------------------------------------------------------------------- #
# Against PyTorch, where torch.optim's rule is the same one
# --------------------------------------------------------------------------- #
LR = 0.05

TORCH_CASES = {
    "sgd": (lambda: SGD(LR), lambda t, p: t.optim.SGD(p, lr=LR), None),
    # torch: buf = mu*buf + g; w -= lr*buf.  Keras: v = mu*v - lr*g; w += v.  With a constant
    # lr, v == -lr*buf, so the rules coincide (momentum -> momentum, dampening=0).
    "sgd_momentum": (lambda: SGD(LR, momentum=0.9), lambda t, p: t.optim.SGD(p, lr=LR, momentum=0.9), None),
    # torch nesterov: w -= lr*(g + mu*buf) == Keras w += mu*v - lr*g.
    "sgd_nesterov": (
        lambda: SGD(LR, momentum=0.9, nesterov=True),
        lambda t, p: t.optim.SGD(p, lr=LR, momentum=0.9, nesterov=True),
        None,
    ),
    # Without momentum Keras' decoupled decay w -= lr*wd*w, then w -= lr*g, equals torch's
    # coupled L2 term g + wd*w: same weight_decay value.
    "sgd_weight_decay": (
        lambda: SGD(LR, weight_decay=0.1),
        lambda t, p: t.optim.SGD(p, lr=LR, weight_decay=0.1),
        None,
    ),
    # clipvalue == torch.nn.utils.clip_grad_value_ before the step.
    "sgd_clipvalue": (
        lambda: SGD(LR, momentum=0.5, clipvalue=0.4),
        lambda t, p: t.optim.SGD(p, lr=LR, momentum=0.5),
        lambda t, params: t.nn.utils.clip_grad_value_(params, 0.4),
    ),
    # Keras adds epsilon to the uncorrected sqrt(v) ("epsilon hat"), torch to the bias-corrected
    # sqrt(v / (1 - beta_2**t)); they coincide only for epsilon = 0. beta_1/beta_2 -> betas.
    "adam_eps0": (
        lambda: Adam(LR, beta_1=0.8, beta_2=0.95, epsilon=0.0),
        lambda t, p: t.optim.Adam(p, lr=LR, betas=(0.8, 0.95), eps=0.0),
        None,
    ),
    # amsgrad: both keep max(v_hat, v) of the uncorrected v.
    "adam_amsgrad_eps0": (
        lambda: Adam(LR, beta_1=0.8, beta_2=0.95, epsilon=0.0, amsgrad=True),
        lambda t, p: t.optim.Adam(p, lr=LR, betas=(0.8, 0.95), eps=0.0, amsgrad=True),
        None,
    ),
    # torch AdamW: w *= 1 - lr*wd, then Adam; Keras: w -= w*wd*lr, then Adam.
    "adamw_eps0": (
        lambda: AdamW(LR, weight_decay=0.1, epsilon=0.0),
        lambda t, p: t.optim.AdamW(p, lr=LR, weight_decay=0.1, eps=0.0),
        None,
    ),
    # Keras puts epsilon inside the sqrt, torch outside: equal for epsilon = 0. rho -> alpha.
    "rmsprop_eps0": (
        lambda: RMSprop(LR, rho=0.8, epsilon=0.0),
        lambda t, p: t.optim.RMSprop(p, lr=LR, alpha=0.8, eps=0.0),
        None,
    ),
    # torch: buf = mu*buf + g/sqrt(v); w -= lr*buf.  Keras: mom = mu*mom + lr*g/sqrt(v); w -= mom.
    "rmsprop_momentum_eps0": (
        lambda: RMSprop(LR, rho=0.8, momentum=0.5, epsilon=0.0),
        lambda t, p: t.optim.RMSprop(p, lr=LR, alpha=0.8, eps=0.0, momentum=0.5),
        None,
    ),
    "rmsprop_centered_eps0": (
        lambda: RMSprop(LR, rho=0.8, epsilon=0.0, centered=True),
        lambda t, p: t.optim.RMSprop(p, lr=LR, alpha=0.8, eps=0.0, centered=True),
        None,
    ),
    # Adagrad: epsilon inside (Keras) vs outside (torch) the sqrt; equal for 0. torch's
    # initial_accumulator_value defaults to 0, Keras' to 0.1: pass it; lr_decay=0.
    "adagrad_eps0": (
        lambda: Adagrad(LR, initial_accumulator_value=0.1, epsilon=0.0),
        lambda t, p: t.optim.Adagrad(p, lr=LR, initial_accumulator_value=0.1, eps=0.0),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch(case, torch, problem):
    w0, grads = problem
    make_ours, make_theirs, pre_step = TORCH_CASES[case]
    ours = run_faltung(make_ours(), w0, grads)
    hook = None if pre_step is None else (lambda params: pre_step(torch, params))
    theirs = run_torch(torch, lambda p: make_theirs(torch, p), w0, grads, hook)
    assert not traj_close(ours, [w0] * len(grads), rtol=1e-3), "the weights should have moved"
    assert_traj_close(ours, theirs)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: Adam(LR, epsilon=0.1), lambda t, p: t.optim.Adam(p, lr=LR, eps=0.1)),
        (lambda: RMSprop(LR, epsilon=0.1), lambda t, p: t.optim.RMSprop(p, lr=LR, alpha=0.9, eps=0.1)),
        (lambda: Adagrad(LR, epsilon=0.1), lambda t, p: t.optim.Adagrad(p, lr=LR, initial_accumulator_value=0.1, eps=0.1)),
        (
            lambda: SGD(LR, momentum=0.9, weight_decay=0.1),
            lambda t, p: t.optim.SGD(p, lr=LR, momentum=0.9, weight_decay=0.1),
        ),
    ],
    ids=["adam", "rmsprop", "adagrad", "sgd_momentum_weight_decay"],
)
def test_where_keras_and_torch_differ(ours, theirs, torch, problem):
    """These rules are *not* torch's (epsilon placement, decoupled decay): the comparison with
    torch above is limited to the cases where they coincide, and the reference tests cover these."""
    w0, grads = problem
    a = run_faltung(ours(), w0, grads)
    b = run_torch(torch, lambda p: theirs(torch, p), w0, grads)
    assert not traj_close(a, b, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- #
# Against the plain float64 re-implementation of Keras' formulas
# --------------------------------------------------------------------------- #
REFERENCE_CASES = {
    "sgd_momentum_weight_decay": (
        lambda: SGD(LR, momentum=0.9, weight_decay=0.1), "sgd", {"momentum": 0.9}, {"weight_decay": 0.1}),
    "sgd_nesterov_clipnorm": (
        lambda: SGD(LR, momentum=0.9, nesterov=True, clipnorm=1.0),
        "sgd", {"momentum": 0.9, "nesterov": True}, {"clipnorm": 1.0}),
    "sgd_global_clipnorm": (
        lambda: SGD(LR, global_clipnorm=2.0), "sgd", {}, {"global_clipnorm": 2.0}),
    "sgd_exponential_decay": (
        lambda: SGD(ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5), momentum=0.9),
        "sgd", {"momentum": 0.9}, {"lr": lambda step: 0.1 * 0.5 ** (step / 2)}),
    "adam_default": (lambda: Adam(), "adam", {}, {"lr": 0.001}),
    "adam_big_epsilon": (lambda: Adam(LR, epsilon=0.1), "adam", {"epsilon": 0.1}, {}),
    "adam_amsgrad_weight_decay": (
        lambda: Adam(LR, epsilon=0.1, amsgrad=True, weight_decay=0.05),
        "adam", {"epsilon": 0.1, "amsgrad": True}, {"weight_decay": 0.05}),
    "adam_clipnorm": (lambda: Adam(LR, clipnorm=0.5), "adam", {}, {"clipnorm": 0.5}),
    "adam_clipvalue": (lambda: Adam(LR, clipvalue=0.3), "adam", {}, {"clipvalue": 0.3}),
    "adamw_default_decay": (lambda: AdamW(LR), "adam", {}, {"weight_decay": 0.004}),
    "adamw_cosine_decay": (
        lambda: AdamW(CosineDecay(0.1, decay_steps=4, alpha=0.1), weight_decay=0.2, epsilon=0.1),
        "adam", {"epsilon": 0.1},
        {"weight_decay": 0.2,
         "lr": lambda step: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(step, 4) / 4)) + 0.1)}),
    "rmsprop_big_epsilon": (lambda: RMSprop(LR, epsilon=0.1), "rmsprop", {"epsilon": 0.1}, {}),
    "rmsprop_centered_momentum": (
        lambda: RMSprop(LR, rho=0.7, momentum=0.5, epsilon=0.1, centered=True),
        "rmsprop", {"rho": 0.7, "momentum": 0.5, "epsilon": 0.1, "centered": True}, {}),
    "rmsprop_weight_decay_global_clipnorm": (
        lambda: RMSprop(LR, weight_decay=0.3, global_clipnorm=1.0),
        "rmsprop", {}, {"weight_decay": 0.3, "global_clipnorm": 1.0}),
    "adagrad_big_epsilon": (
        lambda: Adagrad(LR, initial_accumulator_value=0.2, epsilon=0.1),
        "adagrad", {"initial_accumulator_value": 0.2, "epsilon": 0.1}, {}),
    "adagrad_weight_decay_clipvalue": (
        lambda: Adagrad(LR, weight_decay=0.1, clipvalue=0.5),
        "adagrad", {}, {"weight_decay": 0.1, "clipvalue": 0.5}),
}


@pytest.mark.parametrize("case", sorted(REFERENCE_CASES))
def test_matches_keras_formula(case, problem):
    w0, grads = problem
    make, kind, hp, extra = REFERENCE_CASES[case]
    extra = dict(extra)
    lr = extra.pop("lr", LR)
    ours = run_faltung(make(), w0, grads)
    ref = run_reference(kind, hp, w0, grads, lr, **extra)
    assert_traj_close(ours, ref)
    if extra:
        # the decay/clipping of this case changed the result (the case tests something)
        plain = run_reference(kind, hp, w0, grads, lr)
        assert not traj_close(plain, ref, rtol=1e-6, atol=1e-9)


def test_adam_first_step_is_lr_times_sign():
    # With zero epsilon, Adam's first step is exactly lr * sign(g) (bias correction at t=1).
    v = Var(np.zeros(5))
    g = np.array([3.0, -0.5, 1e-3, -20.0, 7.0])
    Adam(learning_rate=0.01, epsilon=0.0).apply_gradients([(g, v)])
    np.testing.assert_allclose(v.data, -0.01 * np.sign(g), rtol=1e-12)


def test_weight_decay_is_decoupled_and_uses_learning_rate():
    w = Var(np.array([2.0, -4.0]), "kernel")
    SGD(learning_rate=0.1, weight_decay=0.5).apply_gradients([(np.zeros(2), w)])
    np.testing.assert_allclose(w.data, [2.0 - 2.0 * 0.5 * 0.1, -4.0 + 4.0 * 0.5 * 0.1])


def test_exclude_from_weight_decay_by_name_and_by_variable():
    kernel, bias, other = Var(np.ones(3), "dense/kernel"), Var(np.ones(2), "dense/bias"), Var(np.ones(2), "x")
    opt = SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bias"])
    opt.apply([np.zeros(3), np.zeros(2), np.zeros(2)], [kernel, bias, other])
    np.testing.assert_allclose(kernel.data, 0.95)
    np.testing.assert_array_equal(bias.data, 1.0)
    np.testing.assert_array_equal(other.data, 1.0)


@settings(max_examples=30, deadline=None)
@given(
    scale=st.floats(1e-3, 1e3),
    clipnorm=st.floats(1e-2, 10.0),
    seed=st.integers(0, 2**16),
)
def test_clipnorm_bounds_each_step(scale, clipnorm, seed):
    g = np.random.default_rng(seed).normal(size=(3, 4)) * scale
    v = Var(np.zeros((3, 4)))
    SGD(learning_rate=1.0, clipnorm=clipnorm).apply_gradients([(g, v)])
    step = np.linalg.norm(v.data)
    assert step == pytest.approx(min(np.linalg.norm(g), clipnorm), rel=1e-9)


def test_global_clipnorm_scales_all_gradients_together():
    a, b = Var(np.zeros(2)), Var(np.zeros(1))
    SGD(learning_rate=1.0, global_clipnorm=1.0).apply([np.array([3.0, 0.0]), np.array([4.0])], [a, b])
    np.testing.assert_allclose(a.data, [-0.6, 0.0])
    np.testing.assert_allclose(b.data, [-0.8])


# --------------------------------------------------------------------------- #
# dtype and in-place updates
# --------------------------------------------------------------------------- #
VARIANTS = {
    "sgd": lambda: SGD(LR),
    "sgd_nesterov_wd": lambda: SGD(LR, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam_amsgrad_clipnorm": lambda: Adam(LR, amsgrad=True, clipnorm=1.0),
    "adamw_schedule": lambda: AdamW(ExponentialDecay(LR, 3, 0.5)),
    "rmsprop_centered_momentum": lambda: RMSprop(LR, momentum=0.5, centered=True, global_clipnorm=2.0),
    "adagrad_clipvalue": lambda: Adagrad(LR, clipvalue=0.5),
}


@pytest.mark.parametrize("case", sorted(VARIANTS))
@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
def test_float32_stays_float32_and_updates_in_place(case, grad_dtype, problem):
    w0, grads = problem
    variables = make_vars(w0, np.float32)
    arrays = [v.data for v in variables]
    opt = VARIANTS[case]()
    grads32 = [[g.astype(grad_dtype) for g in step] for step in grads]
    traj = run_faltung(opt, w0, grads32, variables=variables)
    for v, arr in zip(variables, arrays):
        assert v.data is arr, "the variable's array must be updated in place, not rebound"
        assert v.data.dtype == np.float32
    for key, value in opt.get_state(variables).items():
        if "/" in key:
            assert value.dtype == np.float32, key
    ref = run_faltung(VARIANTS[case](), w0, grads, dtype=np.float64)
    assert_traj_close(traj, ref, rtol=1e-4, atol=1e-5)


def test_float64_stays_float64_with_float32_gradients(problem):
    w0, grads = problem
    variables = make_vars(w0, np.float64)
    Adam(LR).apply_gradients(zip([g.astype(np.float32) for g in grads[0]], variables))
    assert all(v.data.dtype == np.float64 for v in variables)


# --------------------------------------------------------------------------- #
# State: exact resume
# --------------------------------------------------------------------------- #
RESUME_CASES = dict(VARIANTS)
RESUME_CASES["sgd_cosine"] = lambda: SGD(CosineDecay(0.1, 5, alpha=0.2, warmup_target=0.2, warmup_steps=2), momentum=0.9)
RESUME_CASES["adagrad"] = lambda: Adagrad(LR, initial_accumulator_value=0.3)


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_get_state_set_state_resume_is_bit_identical(case, dtype, problem):
    w0, grads = problem
    straight = run_faltung(RESUME_CASES[case](), w0, grads, dtype=dtype)

    first = RESUME_CASES[case]()
    config = first.get_config()
    variables = make_vars(w0, dtype)
    run_faltung(first, w0, grads[:3], variables=variables)
    state = first.get_state(variables)
    weights = [v.data.copy() for v in variables]
    del first

    second = type(RESUME_CASES[case]()).from_config(json.loads(json.dumps(config)))
    fresh = [Var(w, n) for w, n in zip(weights, NAMES)]  # new objects: state is keyed by position
    second.set_state(fresh, state)
    assert second.iterations == 3
    resumed = run_faltung(second, w0, grads[3:], variables=fresh)
    for step, (a, b) in enumerate(zip(straight[3:], resumed)):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype == dtype
            assert np.array_equal(x, y), f"resumed step {step + 3} differs"


def test_state_keys_and_copies(problem):
    w0, grads = problem
    variables = make_vars(w0)
    opt = Adam(LR, amsgrad=True)
    fresh_state = opt.get_state(variables)
    assert set(fresh_state) == {"iterations", "learning_rate"} | {
        f"{s}/{i}" for s in ("momentum", "velocity", "velocity_hat") for i in range(3)
    }
    assert all(np.all(a == 0) for k, a in fresh_state.items() if "/" in k)
    run_faltung(opt, w0, grads[:2], variables=variables)
    state = opt.get_state(variables)
    assert state["iterations"].dtype == np.int64 and int(state["iterations"]) == 2
    assert all(isinstance(a, np.ndarray) for a in state.values())
    state["momentum/0"][...] = 123.0
    assert not np.any(opt.get_state(variables)["momentum/0"] == 123.0), "get_state must return copies"
    assert set(SGD(LR).get_state(variables)) == {"iterations", "learning_rate"}
    assert set(Adagrad().get_state(variables)) == {"iterations", "learning_rate"} | {f"accumulator/{i}" for i in range(3)}
    np.testing.assert_array_equal(Adagrad(initial_accumulator_value=0.1).get_state(variables)["accumulator/1"], 0.1)


def test_state_restores_a_changed_learning_rate(problem):
    w0, grads = problem
    opt = SGD(0.1, momentum=0.9)
    config = opt.get_config()
    variables = make_vars(w0)
    opt.apply_gradients(zip(grads[0], variables))
    opt.learning_rate = 0.01  # as ReduceLROnPlateau does
    other = SGD.from_config(config)
    other.set_state(variables, opt.get_state(variables))
    assert other.learning_rate == 0.01


def test_set_state_errors_change_nothing(problem):
    w0, grads = problem
    variables = make_vars(w0, np.float32)
    opt = RMSprop(LR, momentum=0.5)
    run_faltung(opt, w0, grads[:2], variables=variables)
    good = opt.get_state(variables)
    target = RMSprop(LR, momentum=0.5)

    missing = {k: v for k, v in good.items() if k != "momentum/2"}
    with pytest.raises(ValueError, match="missing.*momentum/2"):
        target.set_state(variables, missing)
    with pytest.raises(ValueError, match=r"'velocity/1'.*shape \(4,\).*expected shape \(3,\)"):
        target.set_state(variables, {**good, "velocity/1": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match=r"'velocity/0'.*float64.*expected.*float32"):
        target.set_state(variables, {**good, "velocity/0": good["velocity/0"].astype(np.float64)})
    with pytest.raises(ValueError, match="unexpected.*average_gradient/0"):
        target.set_state(variables, {**good, "average_gradient/0": np.zeros((4, 3), np.float32)})
    with pytest.raises(ValueError, match="iterations"):
        target.set_state(variables, {**good, "iterations": np.array(-1)})
    with pytest.raises(ValueError, match="missing"):
        target.set_state(variables + [Var(np.zeros(2, np.float32))], good)
    assert target.iterations == 0
    assert np.all(target.get_state(variables)["velocity/0"] == 0)


# --------------------------------------------------------------------------- #
# Steps, iterations, learning rate
# --------------------------------------------------------------------------- #
def test_iterations_count_applied_steps_and_none_grads_are_skipped():
    a, b = Var(np.ones(2), "a"), Var(np.ones(3), "b")
    opt = SGD(learning_rate=0.5)
    assert opt.iterations == 0
    opt.apply([np.ones(2), np.ones(3)], [a, b])
    with pytest.warns(UserWarning, match="'b'"):
        opt.apply_gradients([(np.ones(2), a), (None, b)])
    assert opt.iterations == 2
    np.testing.assert_allclose(a.data, 0.0)
    np.testing.assert_allclose(b.data, 0.5)
    opt.apply_gradients([])
    assert opt.iterations == 2
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, a), (None, b)])
    assert opt.iterations == 2


def test_bad_gradient_shape_changes_nothing():
    a, b = Var(np.ones(2), "a"), Var(np.ones(3), "b")
    opt = Adam()
    with pytest.raises(ValueError, match=r"'b'.*shape \(2,\).*expected.*\(3,\)"):
        opt.apply([np.ones(2), np.ones(2)], [a, b])
    np.testing.assert_array_equal(a.data, 1.0)
    assert opt.iterations == 0
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        opt.apply([np.ones(2), np.ones(2)], [a])


def test_variable_without_array_data_is_a_type_error():
    with pytest.raises(TypeError, match=r"variable 0 \('w'\).*float numpy array"):
        SGD().apply([np.ones(2)], [Var([1.0, 2.0])])
    with pytest.raises(TypeError, match="float numpy array"):
        SGD().apply([np.ones(2)], [Var(np.array([1, 2]))])


def test_learning_rate_is_settable_and_used():
    w = Var(np.zeros(1))
    opt = SGD(learning_rate=0.1)
    opt.apply_gradients([(np.ones(1), w)])
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    opt.apply_gradients([(np.ones(1), w)])
    np.testing.assert_allclose(w.data, [-0.6])
    assert opt.get_config()["learning_rate"] == 0.5
    with pytest.raises(ValueError, match=r"learning_rate.*-1"):
        opt.learning_rate = -1.0


def test_schedule_learning_rate_follows_iterations_and_is_not_settable_to_a_number():
    schedule = ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = SGD(learning_rate=schedule)
    w = Var(np.zeros(1))
    assert opt.learning_rate == pytest.approx(0.1)
    opt.apply_gradients([(np.ones(1), w)])
    opt.apply_gradients([(np.ones(1), w)])
    assert opt.learning_rate == pytest.approx(0.025)
    np.testing.assert_allclose(w.data, [-0.15])
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3


def test_callable_learning_rate():
    w = Var(np.zeros(1))
    opt = SGD(learning_rate=lambda: 0.25)
    opt.apply_gradients([(np.ones(1), w)])
    np.testing.assert_allclose(w.data, [-0.25])
    with pytest.raises(TypeError, match="callable learning_rate"):
        opt.get_config()


# --------------------------------------------------------------------------- #
# Schedules
# --------------------------------------------------------------------------- #
def test_schedules_namespace():
    assert optimizers.schedules.ExponentialDecay is ExponentialDecay
    assert optimizers.schedules.CosineDecay is optimizers.CosineDecay


@pytest.mark.parametrize("step", [0, 1, 3, 10, 25])
def test_exponential_decay(step):
    s = ExponentialDecay(0.2, decay_steps=10, decay_rate=0.7)
    assert s(step) == pytest.approx(0.2 * 0.7 ** (step / 10), rel=1e-12)
    stair = ExponentialDecay(0.2, decay_steps=10, decay_rate=0.7, staircase=True)
    assert stair(step) == pytest.approx(0.2 * 0.7 ** (step // 10), rel=1e-12)


def test_cosine_decay():
    s = CosineDecay(0.4, decay_steps=100, alpha=0.1)
    assert s(0) == pytest.approx(0.4)
    assert s(50) == pytest.approx(0.4 * (0.9 * 0.5 + 0.1))
    assert s(30) == pytest.approx(0.4 * (0.9 * 0.5 * (1 + math.cos(math.pi * 0.3)) + 0.1))
    assert s(100) == pytest.approx(0.04)
    assert s(1000) == pytest.approx(0.04)


def test_cosine_decay_with_warmup():
    s = CosineDecay(0.0, decay_steps=10, alpha=0.0, warmup_target=1.0, warmup_steps=4)
    assert s(0) == 0.0
    assert s(2) == pytest.approx(0.5)
    assert s(4) == pytest.approx(1.0)
    assert s(9) == pytest.approx(0.5)
    assert s(14) == pytest.approx(0.0, abs=1e-15)
    assert s(100) == pytest.approx(0.0, abs=1e-15)


def test_schedule_errors():
    with pytest.raises(ValueError, match=r"decay_steps.*> 0.*decay_steps=0"):
        ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        CosineDecay(0.1, decay_steps=-3)
    with pytest.raises(ValueError, match="step"):
        ExponentialDecay(0.1, 2, 0.5)(-1)


# --------------------------------------------------------------------------- #
# Config, lookup and defaults
# --------------------------------------------------------------------------- #
KERAS_DEFAULTS = {
    SGD: {"name": "SGD", "learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": None},
    Adam: {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
           "amsgrad": False, "weight_decay": None},
    AdamW: {"name": "adamw", "learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-7, "amsgrad": False},
    RMSprop: {"name": "rmsprop", "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
              "centered": False, "weight_decay": None},
    Adagrad: {"name": "adagrad", "learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7,
              "weight_decay": None},
}


@pytest.mark.parametrize("cls", list(KERAS_DEFAULTS), ids=lambda c: c.__name__)
def test_keras_defaults(cls):
    config = cls().get_config()
    for key, value in KERAS_DEFAULTS[cls].items():
        assert config[key] == value, key
    assert config["clipnorm"] is None and config["clipvalue"] is None and config["global_clipnorm"] is None


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_config_round_trip(case):
    opt = RESUME_CASES[case]()
    config = opt.get_config()
    json.dumps(config)
    again = type(opt).from_config(config)
    assert type(again) is type(opt)
    assert again.get_config() == config
    assert again.learning_rate == pytest.approx(opt.learning_rate)


def test_schedule_in_config():
    opt = SGD(ExponentialDecay(0.1, 100, 0.96, staircase=True), momentum=0.9)
    config = opt.get_config()
    assert config["learning_rate"] == {
        "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.96,
                   "staircase": True, "name": "ExponentialDecay"},
    }
    again = SGD.from_config(config)
    assert isinstance(again._learning_rate, ExponentialDecay) and again._learning_rate.staircase
    assert isinstance(config["learning_rate"], dict), "from_config must not modify the config it is given"
    serialized = optimizers.serialize(opt)
    assert serialized["class_name"] == "SGD"
    assert optimizers.deserialize(serialized).get_config() == config


def test_keras_only_arguments_at_their_defaults_are_accepted():
    config = {"name": "adam", "learning_rate": 0.002, "use_ema": False, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None}
    assert Adam.from_config(config).learning_rate == 0.002
    with pytest.raises(ValueError, match=r"use_ema.*not implemented.*use_ema=True"):
        Adam(use_ema=True)


@pytest.mark.parametrize("name, cls", [("adam", Adam), ("ADAM", Adam), ("sgd", SGD), ("SGD", SGD),
                                       ("rmsprop", RMSprop), ("RMSprop", RMSprop), ("adagrad", Adagrad),
                                       ("AdamW", AdamW)])
def test_get_by_name(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert opt.get_config() == cls().get_config()


def test_get_passes_instances_and_configs():
    opt = Adam(learning_rate=0.3)
    assert optimizers.get(opt) is opt
    got = optimizers.get({"class_name": "rmsprop", "config": {"learning_rate": 0.2, "rho": 0.5}})
    assert isinstance(got, RMSprop) and got.rho == 0.5 and got.learning_rate == 0.2
    assert optimizers.get(None) is None


def test_get_unknown_name():
    with pytest.raises(ValueError, match=r"'nadamx'.*adagrad.*adam.*adamw.*rmsprop.*sgd"):
        optimizers.get("nadamx")
    with pytest.raises(ValueError, match="could not interpret"):
        optimizers.get(42)


# --------------------------------------------------------------------------- #
# Argument validation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda: SGD(learning_rate=-0.1), ValueError, r"`learning_rate` must be a float >= 0; received learning_rate=-0\.1"),
        (lambda: SGD(momentum=1.5), ValueError, r"`momentum` must be a float in \[0, 1\]; received momentum=1\.5"),
        (lambda: SGD(momentum=-0.1), ValueError, r"momentum=-0\.1"),
        (lambda: SGD(nesterov="yes"), TypeError, r"`nesterov` must be a bool; received nesterov='yes'"),
        (lambda: SGD(lr=0.1), TypeError, r"unexpected keyword argument.*'lr'"),
        (lambda: Adam(foo=1), TypeError, r"Adam\(\) got unexpected keyword argument.*'foo'"),
        (lambda: Adam(beta_1=1.0), ValueError, r"`beta_1` must be a float in \[0, 1\); received beta_1=1\.0"),
        (lambda: Adam(epsilon=-1e-8), ValueError, r"epsilon=-1e-08"),
        (lambda: Adam(learning_rate="fast"), ValueError, r"learning_rate='fast'"),
        (lambda: Adam(learning_rate=float("nan")), ValueError, r"learning_rate=nan"),
        (lambda: AdamW(weight_decay=None), ValueError, r"weight_decay=None"),
        (lambda: RMSprop(rho=2.0), ValueError, r"`rho`.*rho=2\.0"),
        (lambda: Adagrad(initial_accumulator_value=-1), ValueError, r"initial_accumulator_value=-1"),
        (lambda: SGD(weight_decay=-0.1), ValueError, r"weight_decay=-0\.1"),
        (lambda: SGD(clipnorm=0.0), ValueError, r"`clipnorm` must be a float > 0.*clipnorm=0\.0"),
        (lambda: SGD(clipnorm=1.0, clipvalue=1.0), ValueError, r"only one of.*clipnorm=1\.0, clipvalue=1\.0"),
    ],
)
def test_argument_errors(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()
