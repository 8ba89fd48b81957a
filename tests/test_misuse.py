"""API misuse gets a clear error early (Keras' behaviour where Keras has one), never a silent NaN."""
import numpy as np
import pytest

import faltung as ft
from faltung import layers, models, optimizers


def small_model():
    model = models.Sequential([layers.Input((4, 4, 1)), layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_predict_refuses_values_beyond_float32_naming_the_largest():
    model = small_model()
    x = np.zeros((2, 4, 4, 1))
    x[1, 2, 3, 0] = -3e300
    with pytest.raises(ValueError, match=r"3e\+300.*float32"):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match="float32"):
        model.fit(x, np.zeros(2, int), verbose=0)
    with pytest.raises(ValueError, match="float32"):
        model.evaluate(x, np.zeros(2, int), verbose=0)
    x[1, 2, 3, 0] = 3e38  # still a float32 number: accepted
    assert model.predict(x, verbose=0).shape == (2, 3)


def test_float64_model_takes_large_float64_values():
    ft.backend.set_floatx("float64")
    try:
        model = models.Sequential([layers.Input((2,)), layers.Dense(1, kernel_initializer="zeros")])
    finally:
        ft.backend.set_floatx("float32")
    assert model.predict(np.full((1, 2), 1e300), verbose=0).tolist() == [[0.0]]


def test_evaluate_on_no_samples_is_an_error_like_fit():
    model = small_model()
    empty_x, empty_y = np.zeros((0, 4, 4, 1)), np.zeros(0, int)
    with pytest.raises(ValueError, match="no samples"):
        model.evaluate(empty_x, empty_y, verbose=0)
    with pytest.raises(ValueError, match="no training samples"):
        model.fit(empty_x, empty_y, verbose=0)


@pytest.mark.parametrize("use", ["compile", "fit", "build", "predict", "call"])
def test_empty_sequential_is_refused_clearly(use):
    model = models.Sequential(name="nothing")
    actions = {
        "compile": lambda: model.compile(optimizer="adam", loss="mse"),
        "fit": lambda: model.fit(np.ones((2, 3)), np.ones((2, 3)), verbose=0),
        "build": lambda: model.build((None, 3)),
        "predict": lambda: model.predict(np.ones((2, 3)), verbose=0),
        "call": lambda: model(np.ones((2, 3))),
    }
    with pytest.raises((ValueError, RuntimeError), match="no layers|compile"):
        actions[use]()
    with pytest.raises(ValueError, match="'nothing' has no layers"):
        model.compile(optimizer="adam", loss="mse")


def test_sequential_emptied_by_pop_is_refused():
    model = small_model()
    model.pop(), model.pop()
    with pytest.raises(ValueError, match="no layers"):
        model.predict(np.ones((1, 4, 4, 1)), verbose=0)


def test_compile_without_optimizer_uses_keras_default_rmsprop(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=None, loss="mse")
    assert isinstance(model.optimizer, optimizers.RMSprop)
    before = model.get_weights()[0].copy()
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert not np.array_equal(before, model.get_weights()[0])
    model.save(tmp_path / "m.faltung")
    assert isinstance(models.load_model(tmp_path / "m.faltung").optimizer, optimizers.RMSprop)
