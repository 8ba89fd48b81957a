"""Keras-style losses (faltung.losses): Keras' documented numbers, agreement with faltung.functional
and PyTorch, sample weights and reductions, label smoothing, get/serialize/deserialize."""
import json

import numpy as np
import pytest

import faltung.functional as F
from faltung import Tensor
from faltung import losses

rng = np.random.default_rng(1)
LOGITS = rng.standard_normal((6, 4)) * 2
LABELS = np.array([0, 3, 1, 1, 2, 3])
ONEHOT = np.eye(4)[LABELS]
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
SIGMOID = 1 / (1 + np.exp(-LOGITS))
BITS = (rng.random((6, 4)) > 0.5).astype(float)


# ----- the numbers in Keras' own docstrings (keras/src/losses/losses.py) -----

def test_keras_documented_values():
    y_true, y_pred = [1, 2], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    scce = losses.SparseCategoricalCrossentropy()
    assert scce(y_true, y_pred).item() == pytest.approx(1.177, abs=1e-3)
    assert scce(y_true, y_pred, sample_weight=np.array([0.3, 0.7])).item() == pytest.approx(0.814, abs=1e-3)
    scce_sum = losses.SparseCategoricalCrossentropy(reduction="sum")
    assert scce_sum(y_true, y_pred).item() == pytest.approx(2.354, abs=1e-3)
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy(reduction=None)(y_true, y_pred).numpy(),
                               [0.0513, 2.303], atol=1e-3)
    one_hot = np.array([[0, 1, 0], [0, 0, 1]])
    assert losses.CategoricalCrossentropy()(one_hot, y_pred).item() == pytest.approx(1.177, abs=1e-3)

    bce = losses.BinaryCrossentropy(from_logits=True)
    assert bce(np.array([0, 1, 0, 0]), np.array([-18.6, 0.51, 2.94, -12.8])).item() == pytest.approx(0.8654, abs=1e-4)
    y_true2, y_pred2 = np.array([[0, 1], [0, 0]]), np.array([[-18.6, 0.51], [2.94, -12.8]])
    assert bce(y_true2, y_pred2).item() == pytest.approx(0.8654, abs=1e-4)
    assert bce(y_true2, y_pred2, sample_weight=[0.8, 0.2]).item() == pytest.approx(0.243, abs=1e-3)
    assert losses.BinaryCrossentropy(from_logits=True, reduction="sum")(y_true2, y_pred2).item() \
        == pytest.approx(1.730, abs=1e-3)
    np.testing.assert_allclose(losses.BinaryCrossentropy(from_logits=True, reduction=None)(y_true2, y_pred2).numpy(),
                               [0.235, 1.496], atol=1e-3)
    np.testing.assert_allclose(losses.binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).numpy(),
                               [0.916, 0.714], atol=1e-3)


# ----- the classes are faltung.functional's losses, with Keras' argument order -----

@pytest.mark.parametrize("make,functional,y_true,y_pred", [
    (lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda p, t: F.sparse_categorical_crossentropy(p, t, from_logits=True), LABELS, LOGITS),
    (losses.SparseCategoricalCrossentropy, F.sparse_categorical_crossentropy, LABELS, PROBS),
    (lambda: losses.CategoricalCrossentropy(from_logits=True),
     lambda p, t: F.categorical_crossentropy(p, t, from_logits=True), ONEHOT, LOGITS),
    (losses.CategoricalCrossentropy, F.categorical_crossentropy, ONEHOT, PROBS),
    (lambda: losses.BinaryCrossentropy(from_logits=True),
     lambda p, t: F.binary_crossentropy(p, t, from_logits=True), BITS, LOGITS),
    (losses.BinaryCrossentropy, F.binary_crossentropy, BITS, SIGMOID),
    (losses.MeanSquaredError, F.mean_squared_error, BITS, LOGITS),
    (losses.MeanAbsoluteError, F.mean_absolute_error, BITS, LOGITS),
])
def test_classes_match_functional_and_are_differentiable(make, functional, y_true, y_pred):
    loss = make()
    x = Tensor(y_pred, requires_grad=True)
    value = loss(y_true, x)
    assert value.shape == ()
    assert value.item() == pytest.approx(functional(y_pred, y_true).item(), rel=1e-12)
    value.backward()
    x2 = Tensor(y_pred, requires_grad=True)
    functional(x2, y_true).backward()
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-10, atol=1e-15)
    # The module function gives the per-sample losses the class averages
    per_sample = loss.call(y_true, y_pred)
    assert per_sample.shape == (6,)
    assert per_sample.numpy().mean() == pytest.approx(value.item(), rel=1e-12)


def test_module_functions_keep_keras_order_and_aliases():
    np.testing.assert_allclose(losses.mean_squared_error(BITS, LOGITS).numpy(), np.mean((BITS - LOGITS) ** 2, -1))
    np.testing.assert_allclose(losses.mae(BITS, LOGITS).numpy(), np.mean(np.abs(BITS - LOGITS), -1))
    assert losses.mse is losses.mean_squared_error and losses.mae is losses.mean_absolute_error
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(LABELS, PROBS).numpy(),
                               -np.log(PROBS[np.arange(6), LABELS]), rtol=1e-6)


def test_rank_alignment_like_keras():
    # y_true (N,) meets y_pred (N, 1): one loss per sample, not an (N, N) broadcast
    y = np.array([0.0, 1.0, 1.0])
    p = np.array([[0.2], [0.7], [0.9]])
    bce = losses.binary_crossentropy(y, p)
    assert bce.shape == (3,)
    np.testing.assert_allclose(bce.numpy(), -(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0])), rtol=1e-6)
    assert losses.mean_squared_error(y[:, None], p[:, 0]).shape == (3,)
    assert losses.MeanSquaredError()(y, p).item() == pytest.approx(np.mean((y - p[:, 0]) ** 2))
    # 1-D predictions are one sample's entries, averaged to one number, as in Keras
    assert losses.mean_squared_error(y, p[:, 0]).shape == ()


# ----- PyTorch, where it is the same definition -----

def test_parity_with_pytorch(torch):
    tf = torch.nn.functional
    cases = [
        (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS,
         lambda x: tf.cross_entropy(x, torch.tensor(LABELS))),
        (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), ONEHOT, LOGITS,
         lambda x: tf.cross_entropy(x, torch.tensor(LABELS), label_smoothing=0.2)),
        (losses.BinaryCrossentropy(from_logits=True), BITS, LOGITS,
         lambda x: tf.binary_cross_entropy_with_logits(x, torch.tensor(BITS))),
        (losses.MeanSquaredError(), BITS, LOGITS, lambda x: tf.mse_loss(x, torch.tensor(BITS))),
        (losses.MeanAbsoluteError(), BITS, LOGITS, lambda x: tf.l1_loss(x, torch.tensor(BITS))),
    ]
    for loss, y_true, y_pred, oracle in cases:
        x = Tensor(y_pred, requires_grad=True)
        value = loss(y_true, x)
        value.backward()
        tx = torch.tensor(y_pred, requires_grad=True)
        expected = oracle(tx)
        expected.backward()
        assert value.item() == pytest.approx(expected.item(), rel=1e-12), loss.name
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-12, err_msg=loss.name)


def test_sample_weight_matches_pytorch_per_sample_losses(torch):
    w = np.array([0.5, 2.0, 0.0, 1.0, 1.5, 0.25])
    value = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS, sample_weight=w)
    per_sample = torch.nn.functional.cross_entropy(torch.tensor(LOGITS), torch.tensor(LABELS), reduction="none")
    # Keras divides the weighted sum by the number of samples, not by the sum of the weights
    assert value.item() == pytest.approx(float((per_sample * torch.tensor(w)).sum() / 6), rel=1e-12)


# ----- sample weights and reductions -----

def test_reductions_and_sample_weight_shapes():
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.0, 0.0])
    per = losses.mean_squared_error(BITS, LOGITS).numpy()
    mse = losses.MeanSquaredError
    assert mse()(BITS, LOGITS, sample_weight=w).item() == pytest.approx(np.sum(per * w) / 6)
    assert mse(reduction="mean")(BITS, LOGITS, sample_weight=w).item() == pytest.approx(np.sum(per * w) / 6)
    assert mse(reduction="sum")(BITS, LOGITS, sample_weight=w).item() == pytest.approx(np.sum(per * w))
    assert mse(reduction="mean_with_sample_weight")(BITS, LOGITS, sample_weight=w).item() \
        == pytest.approx(np.sum(per * w) / 4)
    np.testing.assert_allclose(mse(reduction="none")(BITS, LOGITS, sample_weight=w).numpy(), per * w)
    # (N, 1) weights fit (N,) losses; a scalar weight scales everything
    assert mse()(BITS, LOGITS, sample_weight=w[:, None]).item() == pytest.approx(np.sum(per * w) / 6)
    assert mse()(BITS, LOGITS, sample_weight=3.0).item() == pytest.approx(3 * per.mean())
    # all-zero weights with mean_with_sample_weight: 0, not NaN (Keras' divide_no_nan)
    assert mse(reduction="mean_with_sample_weight")(BITS, LOGITS, sample_weight=np.zeros(6)).item() == 0.0


def test_weighted_loss_gradient():
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 0.0])
    x = Tensor(LOGITS, requires_grad=True)
    losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, x, sample_weight=w).backward()
    softmax = PROBS.copy()
    softmax[np.arange(6), LABELS] -= 1
    np.testing.assert_allclose(x.grad, softmax * w[:, None] / 6, atol=1e-12)


# ----- label smoothing (Keras' formulas) -----

def test_categorical_label_smoothing_formula():
    eps = 0.1
    smoothed = ONEHOT * (1 - eps) + eps / 4  # 0.1/C elsewhere, 0.9 + 0.1/C on the target
    assert smoothed[0, 0] == pytest.approx(0.925) and smoothed[0, 1] == pytest.approx(0.025)
    expected = -np.mean(np.sum(smoothed * np.log(PROBS), axis=-1))
    value = losses.CategoricalCrossentropy(label_smoothing=eps)(ONEHOT, PROBS).item()
    assert value == pytest.approx(expected, rel=1e-6)
    assert value != pytest.approx(losses.CategoricalCrossentropy()(ONEHOT, PROBS).item(), rel=1e-3)


def test_binary_label_smoothing_formula():
    eps = 0.3
    z = BITS * (1 - eps) + 0.5 * eps  # squeezed towards 0.5
    np.testing.assert_allclose(np.unique(z), [0.15, 0.85])
    expected = np.mean(-(z * np.log(SIGMOID) + (1 - z) * np.log(1 - SIGMOID)))
    assert losses.BinaryCrossentropy(label_smoothing=eps)(BITS, SIGMOID).item() == pytest.approx(expected, rel=1e-6)
    assert losses.BinaryCrossentropy(from_logits=True, label_smoothing=eps)(BITS, LOGITS).item() \
        == pytest.approx(expected, rel=1e-6)


# ----- names, get, serialization -----

def test_default_names_are_keras():
    assert losses.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    assert losses.CategoricalCrossentropy().name == "categorical_crossentropy"
    assert losses.BinaryCrossentropy().name == "binary_crossentropy"
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.MeanAbsoluteError().name == "mean_absolute_error"
    assert losses.MeanSquaredError().reduction == "sum_over_batch_size"


def test_get_by_name_instance_class_callable_and_dict():
    assert isinstance(losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get("SparseCategoricalCrossentropy"), losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get("bce"), losses.BinaryCrossentropy)
    assert isinstance(losses.get("MAE"), losses.MeanAbsoluteError)
    # a string names the loss as written (Keras' compile); a class name keeps the default name
    assert losses.get("mse").name == "mse"
    assert losses.get("MeanSquaredError").name == "mean_squared_error"
    assert losses.get(None) is None
    instance = losses.CategoricalCrossentropy(from_logits=True)
    assert losses.get(instance) is instance
    assert isinstance(losses.get(losses.MeanAbsoluteError), losses.MeanAbsoluteError)
    got = losses.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert isinstance(got, losses.CategoricalCrossentropy) and got.from_logits is True

    def halved_mse(y_true, y_pred):
        return 0.5 * losses.mean_squared_error(y_true, y_pred)

    wrapped = losses.get(halved_mse)
    assert isinstance(wrapped, losses.Loss) and wrapped.name == "halved_mse"
    assert wrapped(BITS, LOGITS).item() == pytest.approx(0.5 * np.mean((BITS - LOGITS) ** 2))


def test_get_errors_name_what_is_known():
    with pytest.raises(ValueError, match=r"unknown loss 'Mse' \(names are case-sensitive.*did you mean") as err:
        losses.get("Mse")
    assert "'mean_squared_error'" in str(err.value)
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; faltung knows .*'sparse_categorical"):
        losses.get("hinge")
    with pytest.raises(TypeError, match="could not interpret loss identifier 42"):
        losses.get(42)


@pytest.mark.parametrize("loss", [
    losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum", name="scce"),
    losses.CategoricalCrossentropy(label_smoothing=0.1, reduction=None),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.05),
    losses.MeanSquaredError(reduction="mean_with_sample_weight"),
    losses.MeanAbsoluteError(name="l1"),
    losses.get(losses.binary_crossentropy),
])
def test_serialization_round_trip_through_json(loss):
    text = json.dumps(losses.serialize(loss))
    restored = losses.deserialize(json.loads(text))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    y_true, y_pred = (LABELS, PROBS) if isinstance(loss, losses.SparseCategoricalCrossentropy) else (BITS, SIGMOID)
    np.testing.assert_allclose(restored(y_true, y_pred).numpy(), loss(y_true, y_pred).numpy())


def test_keras_config_keys():
    assert losses.BinaryCrossentropy().get_config() == {
        "name": "binary_crossentropy", "reduction": "sum_over_batch_size",
        "from_logits": False, "label_smoothing": 0.0, "axis": -1}
    assert losses.serialize(losses.SparseCategoricalCrossentropy()) == {
        "class_name": "SparseCategoricalCrossentropy",
        "config": {"name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size",
                   "from_logits": False, "ignore_class": None}}


def test_deserialize_never_runs_code_and_names_the_unknown():
    with pytest.raises(ValueError, match=r"unknown loss 'os\.system'; faltung knows"):
        losses.deserialize({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match=r"unknown loss 'Loss'"):  # the abstract base is not restorable
        losses.deserialize({"class_name": "Loss", "config": {}})
    with pytest.raises(ValueError, match=r"unknown loss function 'eval'"):
        losses.deserialize({"class_name": "LossFunctionWrapper", "config": {"fn": "eval"}})
    with pytest.raises(ValueError, match=r"unknown config keys \['gamma'\]"):
        losses.deserialize({"class_name": "BinaryCrossentropy", "config": {"gamma": 2.0}})
    with pytest.raises(ValueError, match="must be a dict"):
        losses.deserialize({"config": {}})
    # a custom function is saved by name, and refused by name when loaded
    config = losses.serialize(losses.get(lambda y_true, y_pred: losses.mse(y_true, y_pred)))
    assert config["config"]["fn"] == "<lambda>"
    with pytest.raises(ValueError, match=r"unknown loss function '<lambda>'"):
        losses.deserialize(json.loads(json.dumps(config)))


# ----- loud errors -----

def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"reduction must be one of .*'sum_over_batch_size'.*; got 'avg'"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be a float in \[0, 1\]; got 1\.5"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(TypeError, match="from_logits must be a bool; got 'yes'"):
        losses.BinaryCrossentropy(from_logits="yes")
    with pytest.raises(ValueError, match=r"axis must be -1 .*; got 1"):
        losses.CategoricalCrossentropy(axis=1)
    with pytest.raises(ValueError, match="ignore_class is not supported yet; got ignore_class=255"):
        losses.SparseCategoricalCrossentropy(ignore_class=255)
    with pytest.raises(ValueError, match=r"y_true and y_pred must have the same shape; got y_true \(6, 3\) "
                                         r"and y_pred \(6, 4\)"):
        losses.MeanSquaredError()(BITS[:, :3], LOGITS)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(5,\) does not fit the per-sample losses "
                                         r"of shape \(6,\)"):
        losses.MeanSquaredError()(BITS, LOGITS, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        losses.SparseCategoricalCrossentropy()(LABELS + 1, PROBS)
    with pytest.raises(TypeError, match="y_true must be a numeric array"):
        losses.MeanSquaredError()(np.array(["a"] * 6), LOGITS)


def test_base_loss_needs_call_and_subclasses_get_snake_case_names():
    class HalfSquare(losses.Loss):
        def call(self, y_true, y_pred):
            return 0.5 * losses.mean_squared_error(y_true, y_pred)

    loss = HalfSquare()
    assert loss.name == "half_square"
    assert loss(BITS, LOGITS).item() == pytest.approx(0.5 * np.mean((BITS - LOGITS) ** 2))
    with pytest.raises(NotImplementedError, match="must implement call"):
        losses.Loss()(BITS, LOGITS)
