"""Stateful metrics (faltung.metrics): Keras' documented values, running means weighted by batch size,
sample weights, reset, how "accuracy" is resolved, top-k, errors, get/serialize/deserialize."""
import json

import numpy as np
import pytest

from faltung import Tensor, losses, metrics


# ----- the examples in Keras' docstrings (keras/src/metrics/*.py) -----

def test_keras_documented_values():
    m = metrics.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.result() == 0.75
    m.reset_state()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert m.result() == 0.5

    m = metrics.BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert m.result() == 0.75
    m.reset_state()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == 0.5

    m = metrics.CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)

    m = metrics.SparseCategoricalAccuracy()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)

    m = metrics.TopKCategoricalAccuracy(k=1)
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == 0.5

    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)

    m = metrics.MeanSquaredError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert m.result() == 0.25
    m = metrics.MeanAbsoluteError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert m.result() == 0.25
    m.reset_state()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert m.result() == 0.5

    m = metrics.Mean()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 4.0
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0


def test_default_names_and_directions():
    expected = {metrics.Accuracy: "accuracy", metrics.BinaryAccuracy: "binary_accuracy",
                metrics.CategoricalAccuracy: "categorical_accuracy",
                metrics.SparseCategoricalAccuracy: "sparse_categorical_accuracy",
                metrics.TopKCategoricalAccuracy: "top_k_categorical_accuracy",
                metrics.SparseTopKCategoricalAccuracy: "sparse_top_k_categorical_accuracy",
                metrics.MeanSquaredError: "mean_squared_error", metrics.MeanAbsoluteError: "mean_absolute_error",
                metrics.Mean: "mean"}
    for cls, name in expected.items():
        assert cls().name == name
    # callbacks read _direction to decide whether larger is better
    assert metrics.SparseCategoricalAccuracy()._direction == "up"
    assert metrics.MeanSquaredError()._direction == "down"


# ----- running means weighted by batch size, sample weights, reset -----

def test_running_mean_is_weighted_by_batch_size():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([0, 1], [[0.9, 0.1], [0.2, 0.8]])  # 2 of 2 right
    assert m.result() == 1.0
    m.update_state([0, 0, 0, 1, 1, 1], [[0.9, 0.1]] * 3 + [[0.9, 0.1]] * 3)  # 3 of 6 right
    assert m.result() == pytest.approx(5 / 8)  # not (1.0 + 0.5) / 2
    m.update_state(np.zeros((0,)), np.zeros((0, 2)))  # an empty batch changes nothing
    assert m.result() == pytest.approx(5 / 8)

    mse = metrics.MeanSquaredError()
    mse.update_state([[0.0, 0.0]], [[1.0, 1.0]])  # one sample, error 1
    mse.update_state(np.zeros((3, 2)), np.zeros((3, 2)))  # three samples, error 0
    assert mse.result() == pytest.approx(0.25)


def test_sample_weights_count_instead_of_samples():
    m = metrics.BinaryAccuracy()
    m.update_state([[1], [0]], [[0.9], [0.9]], sample_weight=[3.0, 1.0])  # right with weight 3
    assert m.result() == pytest.approx(0.75)
    m.update_state([[1]], [[0.1]], sample_weight=[4.0])  # wrong with weight 4
    assert m.result() == pytest.approx(3 / 8)
    # A Mean over (N, K) values averages each row first; (N, 1) weights fit (N,) values
    mean = metrics.Mean()
    mean.update_state([[1.0, 3.0], [10.0, 20.0]], sample_weight=[[1.0], [0.0]])
    assert mean.result() == 2.0
    # a scalar weight counts the whole batch once, with that weight (as Keras)
    mean = metrics.Mean()
    mean.update_state([2.0, 4.0], sample_weight=2.0)
    mean.update_state([9.0], sample_weight=1.0)
    assert mean.result() == pytest.approx((3.0 * 2 + 9.0) / 3)


def test_reset_and_empty_result_and_call():
    m = metrics.CategoricalAccuracy()
    assert m.result() == 0.0  # nothing seen: 0, not NaN (Keras' divide_no_nan)
    assert m([[0, 1]], [[0.2, 0.8]]) == 1.0  # calling updates and returns the result
    m.update_state([[0, 1]], [[0.8, 0.2]])
    assert m.result() == 0.5
    m.reset_state()
    assert m.result() == 0.0
    m.update_state([[1, 0]], [[0.8, 0.2]])
    assert m.result() == 1.0


def test_tensors_and_float32_results():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(Tensor([1.0, 2.0, 0.0]), Tensor([[0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]]))
    assert isinstance(m.result(), float)
    assert m.result() == float(np.float32(2 / 3))  # computed as Keras' float32 result
    m64 = metrics.SparseCategoricalAccuracy(dtype="float64")
    m64.update_state([1, 2, 0], np.eye(3)[[1, 2, 1]])
    assert m64.result() == 2 / 3


# ----- how "accuracy" is resolved (Keras' compile_utils.get_metric) -----

@pytest.mark.parametrize("loss,cls", [
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    ("SparseCategoricalCrossentropy", metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), metrics.CategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
    ("bce", metrics.BinaryAccuracy),
    (losses.get(losses.binary_crossentropy), metrics.BinaryAccuracy),
])
def test_accuracy_resolved_from_the_loss(loss, cls):
    for written in ("accuracy", "acc", "Accuracy"):
        m = metrics.get(written, loss=loss)
        assert type(m) is cls
        assert m.name == written  # the log key is what the user wrote


@pytest.mark.parametrize("y_true,y_pred,cls", [
    (np.array([[1], [0]]), np.array([[0.8], [0.3]]), metrics.BinaryAccuracy),             # y_pred (N, 1)
    (np.array([1, 0]), np.array([[0.8], [0.3]]), metrics.BinaryAccuracy),
    (np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.6, 0.2, 0.2]]), metrics.SparseCategoricalAccuracy),
    (np.array([[2], [0]]), np.array([[0.1, 0.2, 0.7], [0.6, 0.2, 0.2]]), metrics.SparseCategoricalAccuracy),
    (np.eye(3)[[2, 0]], np.array([[0.1, 0.2, 0.7], [0.6, 0.2, 0.2]]), metrics.CategoricalAccuracy),
])
def test_accuracy_resolved_from_shapes_on_first_update(y_true, y_pred, cls):
    m = metrics.get("acc")  # no loss: decided by the first batch
    assert isinstance(m, metrics.AutoAccuracy) and m.resolved is None and m.result() == 0.0
    m.update_state(y_true, y_pred)
    assert type(m.resolved) is cls and m.resolved.name == "acc" and m.name == "acc"
    assert m.result() == 1.0
    m.reset_state()  # the choice stays, the counts go
    assert type(m.resolved) is cls and m.result() == 0.0


def test_accuracy_with_a_non_crossentropy_loss_waits_for_shapes():
    m = metrics.get("accuracy", loss="mse")
    assert isinstance(m, metrics.AutoAccuracy)
    m.update_state(np.array([[1.0], [0.0], [1.0]]), np.array([[0.7], [0.6], [0.2]]))
    assert type(m.resolved) is metrics.BinaryAccuracy
    assert m.result() == pytest.approx(1 / 3)


# ----- top-k -----

def test_top_k():
    scores = np.array([[0.1, 0.5, 0.3, 0.1], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    labels = np.array([2, 3, 0])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels, scores, k=1), [0, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels, scores, k=2), [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels, scores, k=3), [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels, scores, k=4), [1, 1, 1])
    # (N, 1) labels and one-hot labels give the same answer
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels[:, None], scores, k=2),
                                  [1, 0, 1])
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(np.eye(4)[labels], scores, k=2), [1, 0, 1])
    # the default k is 5, so with 4 classes every label is in the top k
    m = metrics.get("sparse_top_k_categorical_accuracy")
    assert m.k == 5 and m.name == "sparse_top_k_categorical_accuracy"
    m.update_state(labels, scores)
    assert m.result() == 1.0
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    m.update_state(labels, scores)
    assert m.result() == pytest.approx(2 / 3)


# ----- get, serialize, deserialize -----

def test_get_names_aliases_instances_and_callables():
    assert type(metrics.get("mse")) is metrics.MeanSquaredError and metrics.get("mse").name == "mse"
    assert type(metrics.get("MAE")) is metrics.MeanAbsoluteError
    assert type(metrics.get("mean_absolute_error")) is metrics.MeanAbsoluteError
    assert type(metrics.get("CategoricalAccuracy")) is metrics.CategoricalAccuracy
    assert type(metrics.get("binary_accuracy")) is metrics.BinaryAccuracy
    assert type(metrics.get("top_k_categorical_accuracy")) is metrics.TopKCategoricalAccuracy
    assert metrics.get(None) is None
    mine = metrics.BinaryAccuracy(threshold=0.7, name="ba")
    assert metrics.get(mine) is mine
    assert type(metrics.get(metrics.MeanSquaredError)) is metrics.MeanSquaredError

    def within_one(y_true, y_pred):
        return (np.abs(np.asarray(y_true) - np.asarray(y_pred)) <= 1).astype(float)

    m = metrics.get(within_one)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "within_one"
    m.update_state([1.0, 5.0, 2.0, 0.0], [1.5, 2.0, 2.0, 3.0])
    assert m.result() == 0.5


def test_get_errors_list_known_names():
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; faltung knows .*'mse'.*'accuracy'") as err:
        metrics.get("f1")
    assert "'sparse_top_k_categorical_accuracy'" in str(err.value)
    with pytest.raises(ValueError, match="did you mean 'mse'"):
        metrics.get("Mse")
    with pytest.raises(TypeError, match="could not interpret metric identifier 3"):
        metrics.get(3)
    with pytest.raises(ValueError, match="unknown loss 'mse_loss'"):  # a bad loss is named too
        metrics.get("accuracy", loss="mse_loss")


@pytest.mark.parametrize("metric", [
    metrics.BinaryAccuracy(threshold=0.3, name="acc"),
    metrics.SparseTopKCategoricalAccuracy(k=3),
    metrics.TopKCategoricalAccuracy(k=2, name="top2"),
    metrics.MeanSquaredError(dtype="float64"),
    metrics.get("accuracy"),
    metrics.get("acc", loss="categorical_crossentropy"),
    metrics.get(metrics.sparse_categorical_accuracy),
    metrics.Mean(name="avg"),
])
def test_serialization_round_trip_through_json(metric):
    config = json.loads(json.dumps(metrics.serialize(metric)))
    restored = metrics.deserialize(config)
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()
    assert restored.name == metric.name


def test_keras_config_keys():
    assert metrics.serialize(metrics.BinaryAccuracy()) == {
        "class_name": "BinaryAccuracy", "config": {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.5}}
    assert metrics.SparseTopKCategoricalAccuracy().get_config() == {
        "name": "sparse_top_k_categorical_accuracy", "dtype": "float32", "k": 5}


def test_deserialize_never_runs_code_and_names_the_unknown():
    with pytest.raises(ValueError, match=r"unknown metric 'AUC'; faltung knows .*'BinaryAccuracy'"):
        metrics.deserialize({"class_name": "AUC", "config": {}})
    with pytest.raises(ValueError, match="unknown metric function 'exec'"):
        metrics.deserialize({"class_name": "MeanMetricWrapper", "config": {"fn": "exec", "name": "x"}})
    with pytest.raises(ValueError, match=r"unknown config keys \['num_thresholds'\]"):
        metrics.deserialize({"class_name": "BinaryAccuracy", "config": {"num_thresholds": 200}})
    config = metrics.serialize(metrics.get(lambda t, p: np.zeros(len(t))))
    with pytest.raises(ValueError, match="unknown metric function '<lambda>'"):
        metrics.deserialize(config)


# ----- loud errors -----

def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"y_true labels must be in \[0, 3\) for 3 classes; got values from 0 to 3"):
        metrics.SparseCategoricalAccuracy().update_state([0, 3], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"one class label per sample, shape \(2,\).*got \(3,\)"):
        metrics.SparseCategoricalAccuracy().update_state([0, 1, 2], np.ones((2, 3)))
    with pytest.raises(ValueError, match="whole class numbers"):
        metrics.SparseTopKCategoricalAccuracy().update_state([0.5, 1], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"one-hot with y_pred's shape \(2, 3\); got \(2,\) \(integer labels\? "
                                         r"use sparse_categorical_accuracy\)"):
        metrics.CategoricalAccuracy().update_state([0, 1], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"same shape; got y_true \(2, 2\) and y_pred \(2, 3\)"):
        metrics.MeanSquaredError().update_state(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\) does not fit values of shape \(2,\)"):
        metrics.MeanAbsoluteError().update_state(np.ones((2, 2)), np.ones((2, 2)), sample_weight=[1, 1, 1])
    with pytest.raises(ValueError, match=r"threshold must be a float in \(0, 1\); got 1\.5"):
        metrics.BinaryAccuracy(threshold=1.5)
    with pytest.raises(ValueError, match="k must be a positive int; got 0"):
        metrics.SparseTopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match="dtype must be a float dtype such as 'float32'; got 'int32'"):
        metrics.Mean(dtype="int32")
    with pytest.raises(TypeError, match="y_pred must be a numeric array"):
        metrics.Accuracy().update_state([1], np.array(["1"]))
