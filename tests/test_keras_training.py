"""Keras' training options against Keras 3 itself (torch backend): sample_weight, class_weight,
regularizers and constraints give the same loss history from the same initial weights; predict_on_batch,
clone_model, to_json/model_from_json, model.losses."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import faltung as ft  # noqa: E402
from faltung import constraints, layers, models, optimizers, regularizers  # noqa: E402

keras = pytest.importorskip("keras")
pytest.importorskip("torch")
if keras.backend.backend() != "torch":
    pytest.skip("these tests compare with Keras on its torch backend", allow_module_level=True)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return x, y


def _build(lib, regularize: bool):
    """The same small CNN in faltung (``lib`` = faltung's module) or Keras."""
    kw_conv = dict(kernel_regularizer=lib.regularizers.l2(0.02),
                   kernel_constraint=lib.constraints.MaxNorm(1.2, axis=[0, 1, 2]),
                   bias_regularizer=lib.regularizers.L1(0.05)) if regularize else {}
    kw_dense = dict(bias_regularizer=lib.regularizers.l1(0.01), activity_regularizer=lib.regularizers.l1_l2(0.01, 0.02),
                    kernel_constraint=lib.constraints.UnitNorm(axis=0)) if regularize else {}
    return lib.models.Sequential([
        lib.layers.Input((6, 6, 1)),
        lib.layers.Conv2D(3, 3, activation="relu", **kw_conv),
        lib.layers.Flatten(),
        lib.layers.Dense(3, activation="softmax", **kw_dense),
    ])


class _Keras:  # Keras' modules under the names _build uses
    regularizers, constraints, models, layers = (keras.regularizers, keras.constraints, keras.models, keras.layers)


def _twins(regularize):
    ours, theirs = _build(ft, regularize), _build(_Keras, regularize)
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    for model, opt in ((ours, optimizers.SGD(0.1, momentum=0.5)), (theirs, keras.optimizers.SGD(0.1, momentum=0.5))):
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return ours, theirs


@pytest.mark.parametrize("option", ["sample_weight", "class_weight", "regularizers"])
def test_loss_history_equals_keras(option):
    x, y = _data()
    weights = np.random.default_rng(2).uniform(0, 2, len(x)).astype(np.float32)
    ours, theirs = _twins(regularize=option == "regularizers")
    kwargs = dict(epochs=3, batch_size=8, shuffle=False, verbose=0, validation_split=0.25)
    if option == "sample_weight":
        kwargs["sample_weight"] = weights
    if option == "class_weight":
        kwargs["class_weight"] = {0: 0.5, 1: 2.0, 2: 1.0}
    h_ours, h_keras = ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(h_ours[key], h_keras[key], rtol=2e-4, atol=1e-5, err_msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    ev = dict(sample_weight=weights, verbose=0, batch_size=16)
    np.testing.assert_allclose(ours.evaluate(x, y, **ev), theirs.evaluate(x, y, **ev), rtol=2e-4)
    if option == "regularizers":
        ours(x[:5]), theirs(x[:5])
        assert len(ours.losses) == len(theirs.losses) == 4
        np.testing.assert_allclose(sum(float(p.item()) for p in ours.losses),
                                   sum(float(p.detach()) for p in theirs.losses), rtol=1e-4)
        norms = np.sqrt((ours.layers[0].kernel.data ** 2).sum(axis=(0, 1, 2)))
        assert norms.max() <= 1.2 + 1e-5  # max_norm held after every step


def test_constraints_and_regularizers_equal_keras_functions():
    w = np.random.default_rng(3).standard_normal((3, 3, 2, 4)).astype(np.float32)
    for ours, theirs in ((constraints.MaxNorm(1.0, axis=[0, 1, 2]), keras.constraints.MaxNorm(1.0, axis=[0, 1, 2])),
                         (constraints.NonNeg(), keras.constraints.NonNeg()),
                         (constraints.UnitNorm(axis=0), keras.constraints.UnitNorm(axis=0)),
                         (constraints.MinMaxNorm(0.5, 1.0, 0.7, axis=3), keras.constraints.MinMaxNorm(0.5, 1.0, 0.7, 3))):
        np.testing.assert_allclose(ours(w), np.asarray(theirs(keras.ops.convert_to_tensor(w))), rtol=1e-5, atol=1e-7)
    for ours, theirs in ((regularizers.L1(0.3), keras.regularizers.L1(0.3)), (regularizers.l2(0.2), keras.regularizers.L2(0.2)),
                         (regularizers.l1_l2(), keras.regularizers.l1_l2())):
        np.testing.assert_allclose(float(ours(w).item()), float(theirs(keras.ops.convert_to_tensor(w))), rtol=1e-5)
    assert regularizers.get("l2").l2 == 0.01 and isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert regularizers.deserialize(regularizers.serialize(regularizers.L1L2(0.1, 0.2))).get_config() == \
        {"l1": 0.1, "l2": 0.2}


def test_regularized_layers_round_trip_through_files(tmp_path):
    ours, _ = _twins(regularize=True)
    ours.save(tmp_path / "m.faltung")
    again = models.load_model(tmp_path / "m.faltung")
    assert again.layers[0].kernel.constraint.get_config() == {"max_value": 1.2, "axis": [0, 1, 2]}
    assert again.layers[2].activity_regularizer.get_config() == {"l1": 0.01, "l2": 0.02}
    x, _ = _data(5)
    again(x), ours(x)
    np.testing.assert_allclose([p.item() for p in again.losses], [p.item() for p in ours.losses], rtol=1e-6)


def test_fit_option_errors_name_what_was_received():
    x, y = _data(10)
    model, _ = _twins(False)
    with pytest.raises(ValueError, match="both class_weight and sample_weight"):
        model.fit(x, y, sample_weight=np.ones(10), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight must be 10 numbers, one per sample, shape \(10,\); got shape \(9,\)"):
        model.fit(x, y, sample_weight=np.ones(9), verbose=0)
    with pytest.raises(ValueError, match="finite values >= 0"):
        model.evaluate(x, y, sample_weight=-np.ones(10), verbose=0)


def test_predict_on_batch_clone_and_json():
    x, _ = _data(4)
    model, theirs = _twins(False)
    np.testing.assert_allclose(model.predict_on_batch(x), theirs.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
    clone = models.clone_model(model)
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert clone.count_params() == model.count_params()
    assert not np.array_equal(clone.layers[0].kernel.data, model.layers[0].kernel.data)  # fresh weights
    again = models.model_from_json(model.to_json())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    inputs = layers.Input((6, 6, 1))
    shared = layers.Conv2D(2, 3)
    functional = models.Model(inputs, layers.Add()([shared(inputs), shared(inputs)]))
    copy = models.clone_model(functional)
    assert len(copy.weights) == 2 and copy.output_shape == functional.output_shape
    with pytest.raises(ValueError, match="model_from_json: not valid JSON"):
        models.model_from_json("{")
