"""Callbacks: each one drives a tiny real model through ``fit``; monitored values are scripted so the
expected epoch of every decision is known in advance (Keras 3's rules)."""
import csv
import math
import os
import warnings

import numpy as np
import pytest

import faltung as ft
from faltung import callbacks as cb
from faltung import layers, models, optimizers


# ----- helpers ------------------------------------------------------------------------------------
def make_model(learning_rate=0.01, seed=0):
    ft.set_seed(seed)
    model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
    model.compile(optimizer=optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model


def make_data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ rng.normal(size=(4, 3))).astype(np.float32)
    return x, y


class Script(cb.Callback):
    """Overwrites ``logs[key]`` at each epoch's end with a scripted value (put it before the callback)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class WeightLog(cb.Callback):
    """Snapshots of the model's weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(self.model.get_weights())


def fit(model, callbacks, epochs, **kwargs):
    x, y = make_data()
    return model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks, **kwargs)


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


# ----- EarlyStopping ------------------------------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stop = cb.EarlyStopping(monitor="val_loss", patience=2)
    model = make_model()
    history = fit(model, [Script("val_loss", [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]), stop], 6)
    # best 0.8 at epoch 1; epochs 2 and 3 do not improve -> wait reaches 2 at epoch 3.
    assert history.epoch == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1 and stop.best == 0.8
    assert model.stop_training is True


def test_early_stopping_min_delta_must_be_beaten():
    stop = cb.EarlyStopping(monitor="loss", min_delta=0.1, patience=1)
    history = fit(make_model(), [Script("loss", [1.0, 0.95, 0.5, 0.4]), stop], 4)
    assert len(history.epoch) == 2  # 0.95 is within min_delta of 1.0: no improvement
    stop = cb.EarlyStopping(monitor="loss", min_delta=-0.1, patience=1)  # abs(min_delta), as Keras
    assert len(fit(make_model(), [Script("loss", [1.0, 0.95, 0.5, 0.4]), stop], 4).epoch) == 2
    stop = cb.EarlyStopping(monitor="loss", min_delta=0.01, patience=1)
    assert len(fit(make_model(), [Script("loss", [1.0, 0.95, 0.5, 0.4]), stop], 4).epoch) == 4


def test_early_stopping_auto_mode_maximises_accuracy_and_minimises_loss():
    values = [0.5, 0.6, 0.55, 0.58, 0.9]
    stop = cb.EarlyStopping(monitor="val_accuracy", patience=2)
    assert len(fit(make_model(), [Script("val_accuracy", values), stop], 5).epoch) == 4
    assert stop.best == 0.6
    stop = cb.EarlyStopping(monitor="val_accuracy", patience=2, mode="min")
    assert len(fit(make_model(), [Script("val_accuracy", values), stop], 5).epoch) == 3
    assert stop.best == 0.5
    stop = cb.EarlyStopping(monitor="val_auc", patience=0)
    assert len(fit(make_model(), [Script("val_auc", [0.5, 0.7, 0.6]), stop], 3).epoch) == 3


def test_auto_mode_asks_the_metric_for_its_direction():
    def compiled():
        model = make_model()
        model.compile(optimizer="sgd", loss="mse",
                      metrics=[ft.metrics.Accuracy(name="score"), ft.metrics.MeanAbsoluteError(name="wobble")])
        return model
    values = [0.1, 0.2, 0.15, 0.3]
    stop = cb.EarlyStopping(monitor="val_score", patience=1)  # "up": 0.2 is the best, 0.15 stops
    assert len(fit(compiled(), [Script("val_score", values), stop], 4).epoch) == 3
    stop = cb.EarlyStopping(monitor="wobble", patience=1)  # "down": 0.2 already fails to improve
    assert len(fit(compiled(), [Script("wobble", values), stop], 4).epoch) == 2


def test_early_stopping_unknown_direction_and_bad_mode():
    with pytest.raises(ValueError, match="mode='max'"):
        fit(make_model(), [Script("val_foo", [1.0]), cb.EarlyStopping(monitor="val_foo")], 1)
    with pytest.warns(UserWarning, match="unknown, fallback to auto"):
        stop = cb.EarlyStopping(mode="maximum")
    assert stop.mode == "auto"


def test_early_stopping_baseline_keeps_counting_until_baseline_is_beaten():
    values = [0.9, 0.8, 0.85, 0.7]
    stop = cb.EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    assert len(fit(make_model(), [Script("loss", values), stop], 4).epoch) == 3
    stop = cb.EarlyStopping(monitor="loss", patience=2)
    assert len(fit(make_model(), [Script("loss", values), stop], 4).epoch) == 4


def test_early_stopping_never_stops_at_the_first_epoch():
    # a NaN is never an improvement, but Keras does not stop at epoch 0 (it checks `epoch > 0`)
    stop = cb.EarlyStopping(monitor="loss", patience=1)
    assert len(fit(make_model(), [Script("loss", [float("nan"), 1.0, 0.9]), stop], 3).epoch) == 3
    stop = cb.EarlyStopping(monitor="loss", patience=1)
    assert len(fit(make_model(), [Script("loss", [float("nan"), float("nan"), 0.9]), stop], 3).epoch) == 2


def test_early_stopping_start_from_epoch_ignores_warm_up():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    stop = cb.EarlyStopping(monitor="loss", patience=0, start_from_epoch=2)
    assert len(fit(make_model(), [Script("loss", values), stop], 5).epoch) == 4
    stop = cb.EarlyStopping(monitor="loss", patience=0)
    assert len(fit(make_model(), [Script("loss", values), stop], 5).epoch) == 2


def test_early_stopping_restores_best_weights_exactly():
    model, weights = make_model(), WeightLog()
    stop = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    fit(model, [Script("val_loss", [1.0, 0.5, 0.7, 0.8, 0.1]), stop, weights], 5)
    assert len(weights.snapshots) == 4 and stop.best_epoch == 1
    assert not same_weights(weights.snapshots[1], weights.snapshots[3])  # training did move them
    assert same_weights(model.get_weights(), weights.snapshots[1])


def test_early_stopping_restores_best_weights_even_without_stopping_as_keras3():
    model, weights = make_model(), WeightLog()
    stop = cb.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    fit(model, [Script("val_loss", [1.0, 0.5, 0.7]), stop, weights], 3)
    assert stop.stopped_epoch == 0
    assert same_weights(model.get_weights(), weights.snapshots[1])
    model, weights = make_model(), WeightLog()
    fit(model, [Script("val_loss", [1.0, 0.5, 0.7]), cb.EarlyStopping(patience=5), weights], 3)
    assert same_weights(model.get_weights(), weights.snapshots[2])  # default: last weights kept


def test_early_stopping_is_reusable_across_fits():
    stop = cb.EarlyStopping(monitor="loss", patience=1)
    model = make_model()
    assert len(fit(model, [Script("loss", [0.1, 0.2, 0.3]), stop], 3).epoch) == 2
    # a second fit starts afresh: a best of 0.1 from the first fit must not stop it at once
    assert len(fit(model, [Script("loss", [5.0, 4.0, 3.0]), stop], 3).epoch) == 3


def test_early_stopping_warns_on_missing_monitor_with_available_keys(capsys):
    stop = cb.EarlyStopping(monitor="val_loss", patience=0, verbose=1)
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available. Available metrics are: loss"):
        history = fit(make_model(), [stop], 3)
    assert len(history.epoch) == 3
    assert "early stopping" not in capsys.readouterr().out


def test_early_stopping_verbose_messages(capsys):
    stop = cb.EarlyStopping(monitor="loss", patience=1, verbose=1, restore_best_weights=True)
    fit(make_model(), [Script("loss", [1.0, 0.5, 0.6, 0.7]), stop], 4)
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


# ----- ModelCheckpoint ----------------------------------------------------------------------------
def test_checkpoint_formats_file_names_with_one_based_epoch_and_logs(tmp_path):
    path = tmp_path / "sub" / "ckpt-{epoch:02d}-{loss:.3f}.faltung"
    history = fit(make_model(), [cb.ModelCheckpoint(path, monitor="loss")], 3)
    expected = {f"ckpt-{e + 1:02d}-{loss:.3f}.faltung" for e, loss in enumerate(history.history["loss"])}
    assert set(os.listdir(tmp_path / "sub")) == expected
    reloaded = models.load_model(tmp_path / "sub" / sorted(expected)[-1])
    x, _ = make_data()
    assert len(reloaded.predict(x, verbose=0)) == len(x)


def test_checkpoint_save_best_only_saves_improvements_only(tmp_path, capsys):
    check = cb.ModelCheckpoint(tmp_path / "w-{epoch:02d}.weights.npz", save_best_only=True,
                               save_weights_only=True, verbose=1)
    fit(make_model(), [Script("val_loss", [1.0, 0.5, 0.7, 0.4, 0.4]), check], 5)
    assert sorted(os.listdir(tmp_path)) == ["w-01.weights.npz", "w-02.weights.npz", "w-04.weights.npz"]
    assert check.best == 0.4
    out = capsys.readouterr().out
    assert "Epoch 3: val_loss did not improve from 0.50000" in out
    assert "Epoch 4: val_loss improved from 0.50000 to 0.40000" in out


def test_checkpoint_best_only_keeps_the_best_model_in_one_file(tmp_path):
    path = tmp_path / "best.faltung"
    model, weights = make_model(), WeightLog()
    fit(model, [Script("val_loss", [1.0, 0.5, 0.7, 0.9]), weights,
                cb.ModelCheckpoint(path, save_best_only=True)], 4)
    assert same_weights(models.load_model(path).get_weights(), weights.snapshots[1])
    assert not same_weights(model.get_weights(), weights.snapshots[1])


def test_checkpoint_max_mode_and_initial_value_threshold(tmp_path):
    check = cb.ModelCheckpoint(tmp_path / "{epoch}.faltung", monitor="val_accuracy", save_best_only=True,
                               initial_value_threshold=0.6)
    fit(make_model(), [Script("val_accuracy", [0.5, 0.55, 0.7, 0.65, 0.8]), check], 5)
    assert sorted(os.listdir(tmp_path)) == ["3.faltung", "5.faltung"]


def test_checkpoint_never_overwrites_a_good_file_with_a_nan_epoch(tmp_path):
    path = tmp_path / "model.faltung"
    model, weights = make_model(), WeightLog()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model, [Script("loss", [0.5, float("nan"), math.inf]), weights, cb.ModelCheckpoint(path)], 3)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 2
    assert "epoch 2 has loss=nan; not saving" in messages[0] and "epoch 3 has loss=inf" in messages[1]
    assert not same_weights(weights.snapshots[0], weights.snapshots[2])
    assert same_weights(models.load_model(path).get_weights(), weights.snapshots[0])
    # a non-finite val_loss is refused too, also for epoch-named files that would be new
    with pytest.warns(RuntimeWarning, match=r"val_loss=inf"):
        fit(make_model(), [Script("val_loss", [math.inf]), cb.ModelCheckpoint(tmp_path / "e{epoch}.faltung")], 1)
    assert not (tmp_path / "e1.faltung").exists()


def test_checkpoint_integer_save_freq_counts_batches_across_epochs(tmp_path):
    # 32 samples / batch 8 = 4 batches an epoch; every 3 batches -> epoch 1 batch 3, epoch 2 batch 2
    check = cb.ModelCheckpoint(tmp_path / "{epoch}-{batch}.faltung", monitor="loss", save_freq=3)
    fit(make_model(), [check], 2)
    assert sorted(os.listdir(tmp_path)) == ["1-3.faltung", "2-2.faltung"]


def test_checkpoint_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        cb.ModelCheckpoint(tmp_path / "m.faltung", save_freq="batch")
    with pytest.raises(KeyError, match="val_acc"):
        fit(make_model(), [cb.ModelCheckpoint(tmp_path / "{val_acc:.2f}.faltung")], 1)
    assert os.listdir(tmp_path) == []


# ----- ReduceLROnPlateau --------------------------------------------------------------------------
def test_reduce_lr_on_plateau_patience_cooldown_and_min_lr():
    model = make_model(learning_rate=0.1)
    reduce = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=2, min_lr=0.02)
    history = fit(model, [Script("val_loss", [1.0] * 13), reduce], 13)
    # logs hold the rate each epoch trained with (the reduction happens at the epoch's end)
    expected = [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.02] * 4
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-12)
    assert model.optimizer.learning_rate == pytest.approx(0.02)


def test_reduce_lr_on_plateau_improvements_below_min_delta_do_not_count():
    model = make_model(learning_rate=0.1)
    values = [1.0, 1.0 - 5e-5, 1.0 - 1e-4 + 1e-9, 0.5, 0.5]
    history = fit(model, [Script("loss", values), cb.ReduceLROnPlateau(monitor="loss", patience=2)], 5)
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.1, 0.1, 0.01, 0.01])
    model = make_model(learning_rate=0.1)
    values = [1.0, 0.9, 0.8, 0.7]
    history = fit(model, [Script("loss", values), cb.ReduceLROnPlateau(monitor="loss", patience=1)], 4)
    assert model.optimizer.learning_rate == 0.1


def test_reduce_lr_on_plateau_max_mode_and_errors():
    model = make_model(learning_rate=0.1)
    fit(model, [Script("val_accuracy", [0.5, 0.4, 0.3]), cb.ReduceLROnPlateau("val_accuracy", patience=1)], 3)
    assert model.optimizer.learning_rate == pytest.approx(0.001)  # accuracy falling: reduced twice
    with pytest.raises(ValueError, match="factor >= 1.0"):
        cb.ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match="Available metrics are: loss,learning_rate"):
        fit(make_model(), [cb.ReduceLROnPlateau()], 1)


# ----- LearningRateScheduler ----------------------------------------------------------------------
def test_learning_rate_scheduler_sets_rate_each_epoch(capsys):
    model = make_model(learning_rate=0.3)
    seen = []
    sched = cb.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1) if epoch else lr / 3, verbose=1)
    history = fit(model, [sched, cb.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))], 3)
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.1 / 3])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out


def test_learning_rate_scheduler_rate_reaches_the_optimizer():
    model = make_model(learning_rate=0.1)
    before = model.get_weights()
    fit(model, [cb.LearningRateScheduler(lambda epoch: 0.0)], 2)  # Keras' old one-argument form
    assert same_weights(model.get_weights(), before)
    fit(model, [cb.LearningRateScheduler(lambda epoch: 0.01)], 1)
    assert not same_weights(model.get_weights(), before)


def test_learning_rate_scheduler_rejects_non_float_and_keeps_schedule_errors():
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        fit(make_model(), [cb.LearningRateScheduler(lambda epoch, lr: 1)], 1)

    def broken(epoch, lr):
        raise TypeError("bug inside the schedule")
    with pytest.raises(TypeError, match="bug inside the schedule"):
        fit(make_model(), [cb.LearningRateScheduler(broken)], 1)


# ----- CSVLogger ----------------------------------------------------------------------------------
def test_csv_logger_writes_header_and_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    rows_during = []
    logger = cb.CSVLogger(path)
    history = fit(make_model(), [logger, cb.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rows_during.append(path.read_text().count("\n")))],
        3, validation_split=0.25)
    assert rows_during == [2, 3, 4]  # flushed every epoch
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss"
    rows = list(csv.reader(lines[1:]))
    assert [int(r[0]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r[1]) for r in rows], history.history["loss"], rtol=1e-12)
    np.testing.assert_allclose([float(r[2]) for r in rows], history.history["val_loss"], rtol=1e-12)


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    model = make_model()
    fit(model, [cb.CSVLogger(path, separator=";")], 2)
    fit(model, [cb.CSVLogger(path, separator=";", append=True)], 1)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch;loss" and len(lines) == 4
    assert [line.split(";")[0] for line in lines[1:]] == ["0", "1", "0"]
    fit(model, [cb.CSVLogger(path)], 1)  # append=False overwrites
    assert len(path.read_text().splitlines()) == 2


def test_csv_logger_missing_later_key_is_na(tmp_path):
    path = tmp_path / "log.csv"
    extra = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(extra=7) if epoch == 0 else None)
    fit(make_model(), [extra, cb.CSVLogger(path)], 2)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,extra,loss"
    assert lines[1].split(",")[1] == "7" and lines[2].split(",")[1] == "NA"


# ----- TerminateOnNaN -----------------------------------------------------------------------------
class BatchCount(cb.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, logs["loss"]))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_terminate_on_nan_stops_a_diverging_model_after_the_bad_batch():
    model = make_model(learning_rate=1e6)
    counter = BatchCount()
    with pytest.warns(RuntimeWarning, match=r"epoch \d+, batch \d+: loss=(nan|inf)"):
        history = fit(model, [counter, cb.TerminateOnNaN()], 50)
    losses = [loss for _, loss in counter.batches]
    assert not math.isfinite(losses[-1]) and all(math.isfinite(v) for v in losses[:-1])
    assert len(history.epoch) < 50 and model.stop_training


def test_terminate_on_nan_injected_nan_stops_after_that_batch():
    class Poison(cb.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                logs["loss"] = float("nan")
    counter = BatchCount()
    with pytest.warns(RuntimeWarning, match="epoch 1, batch 2: loss=nan"):
        history = fit(make_model(), [Poison(), cb.TerminateOnNaN(), counter], 5)
    assert [b for b, _ in counter.batches] == [0, 1, 2]
    assert history.epoch == [0]
    with pytest.raises(RuntimeError, match="at epoch 1, batch 2. Loss value: nan"):
        fit(make_model(), [Poison(), cb.TerminateOnNaN(raise_error=True)], 5)


def test_terminate_on_nan_leaves_finite_training_alone():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = fit(make_model(), [cb.TerminateOnNaN()], 3)
    assert len(history.epoch) == 3


# ----- LambdaCallback -----------------------------------------------------------------------------
def test_lambda_callback_calls_each_hook():
    calls = []
    lam = cb.LambdaCallback(on_train_begin=lambda logs: calls.append("begin"),
                            on_epoch_begin=lambda epoch, logs: calls.append(("epoch", epoch)),
                            on_train_batch_end=lambda batch, logs: calls.append(("batch", batch, "loss" in logs)),
                            on_epoch_end=lambda epoch, logs: calls.append(("end", epoch, sorted(logs))),
                            on_train_end=lambda logs: calls.append("done"))
    x, y = make_data(n=16)
    make_model().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[lam])
    assert calls == ["begin", ("epoch", 0), ("batch", 0, True), ("batch", 1, True), ("end", 0, ["loss"]),
                     ("epoch", 1), ("batch", 0, True), ("batch", 1, True), ("end", 1, ["loss"]), "done"]
    with pytest.raises(TypeError, match="on_epoch_ending"):
        cb.LambdaCallback(on_epoch_ending=print)
