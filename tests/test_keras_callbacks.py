"""Keras' TensorBoard, ProgbarLogger and LambdaCallback behaviour, and plot_model."""
import contextlib
import io

import numpy as np
import pytest

import faltung as ft
from faltung import callbacks, layers, models


def _model():
    ft.set_seed(0)
    model = models.Sequential([layers.Input((4, 4, 1)), layers.Conv2D(2, 3, activation="relu"), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((20, 4, 4, 1)).astype(np.float32), rng.integers(0, 3, 20)


def test_tensorboard_event_files_are_read_by_tensorboard(tmp_path):
    pytest.importorskip("tensorboardX")
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    model, x, y = _model()
    board = callbacks.TensorBoard(log_dir=tmp_path / "logs", histogram_freq=1, update_freq="batch")
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.2, verbose=0, callbacks=[board])
    train = accumulator.EventAccumulator(str(tmp_path / "logs" / "train"))
    train.Reload()
    val = accumulator.EventAccumulator(str(tmp_path / "logs" / "validation"))
    val.Reload()
    tags = train.Tags()
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss"} <= set(tags["scalars"])
    assert f"{model.layers[0].name}/kernel/histogram" in tags["histograms"]
    losses = [e.value for e in train.Scalars("epoch_loss")]
    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1, 2]
    assert len(train.Scalars("batch_loss")) == 6  # 16 training samples in batches of 8, 3 epochs
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], history.history["val_loss"], rtol=1e-6)


def test_tensorboard_arguments_are_checked_early():
    with pytest.raises(ValueError, match="update_freq must be 'epoch', 'batch' or a positive int; got 'often'"):
        callbacks.TensorBoard(update_freq="often")
    with pytest.raises(ValueError, match="profile_batch, embeddings_freq and write_images are not supported"):
        callbacks.TensorBoard(profile_batch=2)


def test_progbar_logger_replaces_the_built_in_bar():
    model, x, y = _model()
    for verbose in (1, 2):
        plain, logged = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(plain):
            model.fit(x, y, epochs=2, batch_size=8, verbose=verbose)
        with contextlib.redirect_stdout(logged):
            model.fit(x, y, epochs=2, batch_size=8, verbose=verbose, callbacks=[callbacks.ProgbarLogger()])
        assert logged.getvalue().count("Epoch 1/2") == plain.getvalue().count("Epoch 1/2") == 1
        assert logged.getvalue().count("Epoch 2/2") == 1 and "loss" in logged.getvalue()
    silent = io.StringIO()
    with contextlib.redirect_stdout(silent):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ProgbarLogger()])
    assert silent.getvalue() == ""


def test_lambda_callback_accepts_keras_old_batch_names():
    model, x, y = _model()
    seen = []
    cb = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append((batch, round(logs["loss"], 6))),
                                  on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch)))
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[cb])
    assert [s[0] for s in seen] == [0, 1, "epoch", 0, 1, "epoch"]
    with pytest.raises(TypeError, match="both on_batch_end and on_train_batch_end"):
        callbacks.LambdaCallback(on_batch_end=print, on_train_batch_end=print)


def test_plot_model_draws_every_layer_with_shapes(tmp_path):
    pytest.importorskip("pydot")
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    inputs = layers.Input((8, 8, 3), name="image")
    a = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    b = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(inputs)
    outputs = layers.Dense(2, name="head")(layers.Flatten(name="flat")(layers.Concatenate(name="join")([a, b])))
    model = models.Model(inputs, outputs)
    from faltung import keras
    dot = keras.utils.plot_model(model, tmp_path / "model.png", show_shapes=True)
    png = (tmp_path / "model.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    text = dot.to_string()
    for name in ("image", "conv", "depthwise", "join", "flat", "head"):
        assert f"{name} (" in text
    assert "(None, 8, 8, 7)" in text and len(dot.get_edges()) == 6
    keras.utils.plot_model(model, tmp_path / "model.svg")
    assert b"<svg" in (tmp_path / "model.svg").read_bytes()


def test_plot_model_without_pydot_says_what_to_install(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "pydot", None)  # as if it were not installed
    model, _, _ = _model()
    with pytest.raises(ImportError, match="pip install pydot .* apt-get install graphviz"):
        ft.utils.plot_model(model, tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()
