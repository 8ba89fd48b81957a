"""Models: Sequential and functional graphs, summary numbers from Keras' formulas, training."""
import io
import contextlib
import warnings

import numpy as np
import pytest

import faltung as ft
from faltung import layers, models


def conv_params(kh, kw, c_in, c_out, bias=True):
    return kh * kw * c_in * c_out + (c_out if bias else 0)


def dense_params(n_in, n_out):
    return n_in * n_out + n_out


def valid(n, k, s=1):
    return (n - k) // s + 1


def same(n, s=1):
    return -(-n // s)


def lenet():
    return models.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10),
    ])


def vgg_small():
    return models.Sequential([
        layers.Input((32, 32, 3)),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPool2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"), layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPool2D(),
        layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(10),
    ])


def strided_bn():
    return models.Sequential([
        layers.Input((31, 33, 3)),
        layers.Conv2D(8, 5, strides=2, padding="same", use_bias=False), layers.BatchNormalization(),
        layers.ReLU(), layers.AveragePooling2D(3, strides=2, padding="same"),
        layers.Conv2D(4, (3, 2), strides=(1, 2), dilation_rate=(2, 1)), layers.GlobalAveragePooling2D(),
        layers.Dense(3),
    ])


def residual():
    x = layers.Input((8, 8, 4))
    h = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    h = layers.Conv2D(4, 3, padding="same")(h)
    h = layers.Add()([x, h])
    c = layers.Concatenate()([h, x])
    y = layers.Dense(2)(layers.Flatten()(c))
    return models.Model(x, y)


# (model, [(output shape, parameter count)] per layer, non-trainable) written from Keras' formulas
def lenet_expected():
    h1 = valid(28, 3); p1 = h1 // 2; h2 = valid(p1, 3); p2 = h2 // 2
    return [((None, h1, h1, 32), conv_params(3, 3, 1, 32)), ((None, p1, p1, 32), 0),
            ((None, h2, h2, 64), conv_params(3, 3, 32, 64)), ((None, p2, p2, 64), 0),
            ((None, p2 * p2 * 64), 0), ((None, 128), dense_params(p2 * p2 * 64, 128)), ((None, 10), dense_params(128, 10))], 0


def vgg_expected():
    return [((None, 32, 32, 32), conv_params(3, 3, 3, 32)), ((None, 32, 32, 32), conv_params(3, 3, 32, 32)),
            ((None, 16, 16, 32), 0), ((None, 16, 16, 64), conv_params(3, 3, 32, 64)),
            ((None, 16, 16, 64), conv_params(3, 3, 64, 64)), ((None, 8, 8, 64), 0), ((None, 4096), 0),
            ((None, 256), dense_params(4096, 256)), ((None, 10), dense_params(256, 10))], 0


def strided_bn_expected():
    h, w = same(31, 2), same(33, 2)
    hp, wp = same(h, 2), same(w, 2)
    h3, w3 = valid(hp, 2 * (3 - 1) + 1), valid(wp, 2, 2)
    return [((None, h, w, 8), conv_params(5, 5, 3, 8, bias=False)), ((None, h, w, 8), 4 * 8), ((None, h, w, 8), 0),
            ((None, hp, wp, 8), 0), ((None, h3, w3, 4), conv_params(3, 2, 8, 4)), ((None, 4), 0),
            ((None, 3), dense_params(4, 3))], 2 * 8


def residual_expected():
    return [((None, 8, 8, 4), 0), ((None, 8, 8, 4), conv_params(3, 3, 4, 4)), ((None, 8, 8, 4), conv_params(3, 3, 4, 4)),
            ((None, 8, 8, 4), 0), ((None, 8, 8, 8), 0), ((None, 512), 0), ((None, 2), dense_params(512, 2))], 0


@pytest.mark.parametrize("make,expected", [(lenet, lenet_expected), (vgg_small, vgg_expected),
                                           (strided_bn, strided_bn_expected), (residual, residual_expected)])
def test_summary_numbers_match_keras_formulas(make, expected):
    model = make()
    rows, non_trainable = expected()
    assert [(l.output_shape, l.count_params()) for l in model.layers] == rows
    total = sum(p for _, p in rows)
    assert model.count_params() == total
    assert sum(w.data.size for w in model.non_trainable_weights) == non_trainable
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total - non_trainable:,}" in text
    assert f"Non-trainable params: {non_trainable:,}" in text
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in text
    assert ("Connected to" in text) == (not isinstance(model, models.Sequential))  # as Keras prints them
    # a real batch flows through with the announced output shape
    x = np.zeros((2,) + model.input_shape[1:], np.float32)
    assert model(x).shape == (2,) + model.output_shape[1:]


def test_sequential_is_a_graph_that_another_model_can_read():
    """A Sequential model has inputs, and each layer one output, as a functional model does: a model made
    of them returns what the layers compute inside it (how Keras users see feature maps)."""
    import faltung.functional as F
    ft.set_seed(0)
    model = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(3, 3, activation="relu", name="c"),
                               layers.MaxPooling2D(2, name="p"), layers.Flatten(), layers.Dense(2)])
    inside = models.Model(model.inputs[0], [model.get_layer("c").output, model.get_layer("p").output])
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype(np.float32)
    conv, pooled = inside.predict(x, verbose=0)
    assert conv.shape == (4, 6, 6, 3) and conv.min() == 0  # relu ran
    np.testing.assert_allclose(pooled, F.max_pool2d(conv, 2).numpy())
    np.testing.assert_allclose(model.predict(x, verbose=0), model.layers[-1](model.layers[-2](pooled)).numpy(),
                               rtol=1e-5, atol=1e-6)
    del inside  # its graph holds the layers' first calls
    model.pop()
    model.pop()
    assert model.outputs[0] is model.get_layer("p").output  # rebuilt: one call per layer again
    with pytest.raises(ValueError, match="has no single output"):
        layers.Dense(2).output


class _Subclassed(models.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2)

    def call(self, x, training=False):
        return self.dense(x)


def test_a_subclassed_model_has_no_graph_to_read():
    with pytest.raises(ValueError, match="subclassed model's layers are not a graph"):
        _Subclassed().inputs


def test_sequential_builds_from_first_call_and_from_input_shape():
    model = models.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.count_params()
    model(np.zeros((3, 5), np.float32))
    assert model.count_params() == dense_params(5, 4) + dense_params(4, 2)
    model2 = models.Sequential([layers.Dense(4, input_shape=(5,))])
    assert model2.built and model2.output_shape == (None, 4)
    model2.add(layers.Dense(1))
    assert model2.output_shape == (None, 1)
    assert model2.pop().units == 1 and model2.output_shape == (None, 4)


def test_functional_shared_layer_and_multiple_inputs():
    a, b = layers.Input((3,)), layers.Input((3,))
    shared = layers.Dense(2)
    out = layers.Add()([shared(a), shared(b)])
    model = models.Model([a, b], out)
    xa, xb = np.ones((4, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3)
    k, bias = shared.get_weights()
    np.testing.assert_allclose(model([xa, xb]).numpy(), xa @ k + bias + xb @ k + bias, rtol=1e-6)
    assert model.count_params() == dense_params(3, 2)


def test_model_errors():
    x = layers.Input((3,))
    with pytest.raises(ValueError, match="not among the inputs"):
        models.Model(layers.Input((3,)), layers.Dense(1)(x))
    with pytest.raises(TypeError, match="Sequential takes layers; got int"):
        models.Sequential([3])
    d = layers.Dense(1, name="same")
    with pytest.raises(ValueError, match="named 'same'"):
        models.Sequential([d, layers.Dense(1, name="same")])


def bars(n, size=12, seed=0):
    """Vertical (0) vs horizontal (1) bars at random places, with noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, size, size, 1)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        pos, start = rng.integers(1, size - 1), rng.integers(0, size // 2)
        length = rng.integers(size // 3, size // 2 + 1)
        if y[i] == 0:
            x[i, start:start + length, pos, 0] += 1.0
        else:
            x[i, pos, start:start + length, 0] += 1.0
    return x, y


def bar_model():
    return models.Sequential([
        layers.Input((12, 12, 1)), layers.Conv2D(8, 3, activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(2, activation="softmax"),
    ])


def test_a_cnn_learns_vertical_versus_horizontal_bars():
    ft.set_seed(0)
    x, y = bars(600)
    x_test, y_test = bars(300, seed=1)
    model = bar_model()
    model.compile(optimizer=ft.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=32, validation_split=0.1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 6 and history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.95
    probabilities = model.predict(x_test, batch_size=64, verbose=0)
    assert probabilities.shape == (300, 2) and probabilities.dtype == np.float32
    assert np.mean(probabilities.argmax(1) == y_test) == pytest.approx(accuracy)


def test_seed_makes_training_repeatable():
    results = []
    for _ in range(2):
        ft.set_seed(5)
        x, y = bars(64)
        model = bar_model()
        model.compile("sgd", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_evaluate_returns_a_scalar_without_metrics_and_batch_methods():
    ft.set_seed(1)
    model = models.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 1), np.float32)
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    first = model.train_on_batch(x, y)
    second = model.train_on_batch(x, y)
    assert second < first
    assert model.test_on_batch(x, y) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_uint8_images_warn_once_without_rescaling_and_are_cast():
    x = np.random.default_rng(0).integers(0, 256, (8, 12, 12, 1)).astype(np.uint8)
    y = np.zeros(8, int)
    model = bar_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="Rescaling"):
        model.fit(x, y, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, verbose=0)  # once only
    scaled = models.Sequential([layers.Input((12, 12, 1)), layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(2)])
    scaled.compile("sgd", "sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled.fit(x, y, verbose=0)


def test_fit_refuses_bad_data_before_training():
    model = bar_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"x has shape \(4, 12, 12\), so each sample is \(12, 12\); .* expects samples of shape \(12, 12, 1\)"):
        model.fit(np.zeros((4, 12, 12)), np.zeros(4), verbose=0)
    bad = np.zeros((4, 12, 12, 1))
    bad[2, 3, 4, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(first at index \(2, 3, 4, 0\)\)"):
        model.fit(bad, np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        model.fit(np.zeros((4, 12, 12, 1)), np.zeros(3), verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        bar_model().fit(np.zeros((4, 12, 12, 1)), np.zeros(4))
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_output(verbose):
    model = models.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        model.fit(np.ones((10, 3)), np.ones((10, 1)), epochs=2, batch_size=4, verbose=verbose)
    text = out.getvalue()
    assert "Epoch 2/2" in text and "loss" in text and "mae" in text


def test_validation_split_point_is_keras(monkeypatch):
    seen = {}
    model = models.Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    original = model._run_batches

    def spy(x, y, batch_size, indices, step, callbacks, kind, bar, *rest):
        seen.setdefault(kind, len(indices))
        return original(x, y, batch_size, indices, step, callbacks, kind, bar, *rest)
    monkeypatch.setattr(model, "_run_batches", spy)
    model.fit(np.zeros((10, 1)), np.zeros((10, 1)), validation_split=0.25, verbose=0)
    assert seen == {"train": 7, "test": 3}  # floor(10 * 0.75) training samples, as Keras
