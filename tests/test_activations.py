"""Activations: gradients by finite differences, values and gradients against PyTorch, stability."""
import numpy as np
import pytest

import faltung.functional as F
from faltung import Tensor
from faltung.testing import gradcheck

X = np.random.default_rng(0).standard_normal((4, 7)) * 3

CASES = {
    "relu": (F.relu, lambda t, x: t.relu(x)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda t, x: t.nn.functional.leaky_relu(x, 0.2)),
    "elu": (lambda x: F.elu(x, 1.3), lambda t, x: t.nn.functional.elu(x, 1.3)),
    "sigmoid": (F.sigmoid, lambda t, x: t.sigmoid(x)),
    "tanh": (F.tanh, lambda t, x: t.tanh(x)),
    "softmax": (F.softmax, lambda t, x: t.softmax(x, -1)),
    "softmax_axis0": (lambda x: F.softmax(x, axis=0), lambda t, x: t.softmax(x, 0)),
    "log_softmax": (F.log_softmax, lambda t, x: t.log_softmax(x, -1)),
    "gelu": (F.gelu, lambda t, x: t.nn.functional.gelu(x)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate=True), lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
}


@pytest.mark.parametrize("name", CASES)
def test_gradients_match_finite_differences(name):
    x = X + 0.01 * (np.abs(X) < 0.01)  # keep away from relu's kink
    assert gradcheck(CASES[name][0], [x])


@pytest.mark.parametrize("name", CASES)
def test_parity_with_pytorch(torch, name):
    ours, theirs = CASES[name]
    x = Tensor(X, requires_grad=True)
    y = ours(x)
    tx = torch.tensor(X, requires_grad=True)
    ty = theirs(torch, tx)
    atol = 2e-7 if name == "gelu" else 1e-12  # erf approximation error is below 1.5e-7
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol)
    g = np.random.default_rng(1).standard_normal(X.shape)
    (y * g).sum().backward()
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-6 if name == "gelu" else 1e-12)


def test_no_overflow_for_huge_inputs():
    x = np.array([[-1e4, 0.0, 1e4]], np.float32)
    for fn in (F.sigmoid, F.softmax, F.log_softmax, F.tanh, F.elu, F.gelu):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = fn(x).numpy()
        assert np.all(np.isfinite(out)), fn.__name__
    np.testing.assert_allclose(F.sigmoid(x).numpy(), [[0, 0.5, 1]])
    np.testing.assert_allclose(F.log_softmax(x).numpy(), [[-2e4, -1e4, 0]])


def test_get_activation_by_name():
    assert F.get_activation("ReLU") is F.relu
    assert F.get_activation(None) is F.linear
    with pytest.raises(ValueError, match="unknown activation 'rleu'; faltung knows .*relu"):
        F.get_activation("rleu")


def test_float32_is_kept():
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    for name, (fn, _) in CASES.items():
        assert fn(x).dtype == np.float32, name


def test_keras_activations_namespace_by_name():
    from faltung import activations
    assert activations.get("relu") is F.relu and activations.get(None) is F.linear
    assert activations.serialize(F.tanh) == "tanh" and activations.deserialize("TANH") is F.tanh
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        activations.deserialize("rleu")
    with pytest.raises(ValueError, match="only registered activations"):
        activations.serialize(lambda x: x)
