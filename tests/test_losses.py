"""Losses: Keras' definitions and reduction, stability for logits of ±1e4, gradients, PyTorch parity."""
import numpy as np
import pytest

import faltung.functional as F
from faltung import Tensor
from faltung.testing import gradcheck

rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((5, 4)) * 2
LABELS = np.array([0, 3, 1, 1, 2])
ONEHOT = np.eye(4)[LABELS]
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)


def test_sparse_crossentropy_is_mean_negative_log_probability():
    expected = -np.mean(np.log(PROBS[np.arange(5), LABELS]))
    assert F.sparse_categorical_crossentropy(LOGITS, LABELS, from_logits=True).item() == pytest.approx(expected)
    assert F.sparse_categorical_crossentropy(PROBS, LABELS).item() == pytest.approx(expected)
    assert F.categorical_crossentropy(LOGITS, ONEHOT, from_logits=True).item() == pytest.approx(expected)
    assert F.categorical_crossentropy(PROBS, ONEHOT).item() == pytest.approx(expected)
    # Keras accepts labels of shape (N, 1) too
    assert F.sparse_categorical_crossentropy(PROBS, LABELS[:, None]).item() == pytest.approx(expected)


def test_binary_and_regression_losses():
    x = rng.standard_normal((6, 3))
    z = (rng.random((6, 3)) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-x))
    expected = -np.mean(z * np.log(p) + (1 - z) * np.log(1 - p))
    assert F.binary_crossentropy(x, z, from_logits=True).item() == pytest.approx(expected)
    assert F.binary_crossentropy(p, z).item() == pytest.approx(expected, rel=1e-6)
    assert F.mean_squared_error(x, z).item() == pytest.approx(np.mean((x - z) ** 2))
    assert F.mean_absolute_error(x, z).item() == pytest.approx(np.mean(np.abs(x - z)))


@pytest.mark.parametrize("loss,target", [
    (lambda o: F.sparse_categorical_crossentropy(o, LABELS, from_logits=True), LOGITS),
    (lambda o: F.sparse_categorical_crossentropy(o, LABELS), PROBS),
    (lambda o: F.categorical_crossentropy(o, ONEHOT, from_logits=True), LOGITS),
    (lambda o: F.categorical_crossentropy(o, ONEHOT), PROBS),
    (lambda o: F.binary_crossentropy(o, ONEHOT, from_logits=True), LOGITS),
    (lambda o: F.binary_crossentropy(o, ONEHOT), PROBS),
    (lambda o: F.mean_squared_error(o, ONEHOT), LOGITS),
    (lambda o: F.mean_absolute_error(o, ONEHOT), LOGITS),
])
def test_gradients_match_finite_differences(loss, target):
    assert gradcheck(loss, [target])


def test_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], np.float32)
    for from_logits in (True,):
        x = Tensor(logits, requires_grad=True)
        loss = F.sparse_categorical_crossentropy(x, [1, 1], from_logits=from_logits)
        loss.backward()
        assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1e4, rel=1e-6)
        assert np.all(np.isfinite(x.grad))
    x = Tensor(logits, requires_grad=True)
    loss = F.binary_crossentropy(x, np.ones_like(logits), from_logits=True)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad))
    probs = np.array([[1.0, 0.0, 0.0]], np.float32)  # a confident wrong answer: clipped, not inf
    assert np.isfinite(F.sparse_categorical_crossentropy(probs, [1]).item())


def test_parity_with_pytorch(torch):
    x = Tensor(LOGITS, requires_grad=True)
    loss = F.sparse_categorical_crossentropy(x, LABELS, from_logits=True)
    loss.backward()
    tx = torch.tensor(LOGITS, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(LABELS))
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-12)
    x = Tensor(LOGITS, requires_grad=True)
    loss = F.binary_crossentropy(x, ONEHOT, from_logits=True)
    loss.backward()
    tx = torch.tensor(LOGITS, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(ONEHOT))
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-12)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\) for 4 classes; got values from 0 to 4"):
        F.sparse_categorical_crossentropy(LOGITS, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"labels must have shape \(5,\) to match predictions \(5, 4\); got \(3,\)"):
        F.sparse_categorical_crossentropy(LOGITS, [0, 1, 2])
    with pytest.raises(ValueError, match="whole class numbers"):
        F.sparse_categorical_crossentropy(LOGITS, [0, 1, 2, 0.5, 1])
    with pytest.raises(ValueError, match=r"target must have the predictions' shape \(5, 4\); got \(5,\)"):
        F.categorical_crossentropy(LOGITS, LABELS)


# ----- reduction="mean" | "sum" | "none" -----

REDUCIBLE = [
    (F.sparse_categorical_crossentropy, PROBS, LABELS, lambda: -np.log(PROBS[np.arange(5), LABELS])),
    (F.categorical_crossentropy, PROBS, ONEHOT, lambda: -np.log(PROBS[np.arange(5), LABELS])),
    (F.binary_crossentropy, PROBS, ONEHOT,
     lambda: -np.mean(ONEHOT * np.log(PROBS) + (1 - ONEHOT) * np.log(1 - PROBS), axis=-1)),
    (F.mean_squared_error, LOGITS, ONEHOT, lambda: np.mean((LOGITS - ONEHOT) ** 2, axis=-1)),
    (F.mean_absolute_error, LOGITS, ONEHOT, lambda: np.mean(np.abs(LOGITS - ONEHOT), axis=-1)),
]


@pytest.mark.parametrize("loss,output,target,per_sample", REDUCIBLE)
def test_reductions_are_mean_sum_and_per_sample(loss, output, target, per_sample):
    expected = per_sample()
    none = loss(output, target, reduction="none")
    assert none.shape == (5,)
    np.testing.assert_allclose(none.numpy(), expected, rtol=1e-6)
    assert loss(output, target, reduction="sum").item() == pytest.approx(expected.sum(), rel=1e-6)
    assert loss(output, target, reduction="mean").item() == pytest.approx(expected.mean(), rel=1e-6)
    assert loss(output, target).item() == pytest.approx(expected.mean(), rel=1e-6)  # the default


def test_reduction_none_keeps_all_axes_but_the_last():
    x = rng.standard_normal((2, 3, 4, 5))
    labels = rng.integers(0, 5, size=(2, 3, 4))
    out = F.sparse_categorical_crossentropy(x, labels, from_logits=True, reduction="none")
    assert out.shape == (2, 3, 4)
    assert F.mean_squared_error(x, np.zeros_like(x), reduction="none").shape == (2, 3, 4)
    assert F.binary_crossentropy(x, np.ones_like(x), from_logits=True, reduction="none").shape == (2, 3, 4)
    # "sum" adds the per-sample losses, not every entry
    mse_sum = F.mean_squared_error(x, np.zeros_like(x), reduction="sum").item()
    assert mse_sum == pytest.approx(np.sum(np.mean(x ** 2, axis=-1)))


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_reduced_gradients_match_finite_differences(reduction):
    assert gradcheck(lambda o: F.sparse_categorical_crossentropy(o, LABELS, from_logits=True,
                                                                 reduction=reduction), [LOGITS])
    assert gradcheck(lambda o: F.binary_crossentropy(o, ONEHOT, from_logits=True, reduction=reduction), [LOGITS])
    assert gradcheck(lambda o: F.mean_absolute_error(o, ONEHOT, reduction=reduction), [LOGITS])


def test_sum_reduction_matches_pytorch(torch):
    x = Tensor(LOGITS, requires_grad=True)
    loss = F.sparse_categorical_crossentropy(x, LABELS, from_logits=True, reduction="sum")
    loss.backward()
    tx = torch.tensor(LOGITS, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(LABELS), reduction="sum")
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-12)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        F.mean_squared_error(LOGITS, ONEHOT, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.sparse_categorical_crossentropy(LOGITS, LABELS, reduction=None)
