"""``faltung train``: Ctrl-C at any moment, then ``--resume``, equals one uninterrupted run bit for bit;
a resume trains on what the model was trained on, unless told otherwise."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from faltung.cli import main
from faltung.models import load_model

RUN = ["--dataset", "shapes", "--limit", "400", "--epochs", "3", "--batch-size", "32", "--validation-split", "0.1",
       "--seed", "5", "--verbose", "0"]


def faltung(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "faltung", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def history(path):
    with open(os.path.splitext(path)[0] + ".history.csv", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "ref.faltung")
    began = time.perf_counter()
    process = faltung("train", *RUN, "--out", out)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out, time.perf_counter() - began


@pytest.mark.parametrize("moment", range(3))
def test_ctrl_c_at_a_random_moment_then_resume_equals_an_uninterrupted_run(uninterrupted, tmp_path, moment):
    reference, seconds = uninterrupted
    rng = np.random.default_rng(moment)
    out = str(tmp_path / "run.faltung")
    interrupted, attempts = 0, 0
    while True:  # as a user would: start (or start again), resume what was saved, until one run ends normally
        attempts += 1
        assert attempts < 8
        command = ["--resume", out] if os.path.exists(out) else [*RUN, "--out", out]
        process = faltung("train", *command)
        if interrupted < 2:  # a real SIGINT at a random moment of the run (once Python has started faltung:
            time.sleep(rng.uniform(0.6, seconds))  # before that, Python's own import machinery reports it)
            process.send_signal(signal.SIGINT)
        printed, err = process.communicate(timeout=300)
        # -SIGINT: the signal came while Python started or exited, before or after faltung's handler
        assert process.returncode in (0, 130, -signal.SIGINT), err
        assert "Traceback" not in err
        if os.path.exists(out) and load_model(out).metadata.get("epochs_trained") == 3:
            break
        interrupted += 1
        # Ctrl-C before training began just ends the command; once it began, a checkpoint is saved
        assert ("continue with: faltung train --resume" in printed or err.strip() == "faltung: interrupted"
                or process.returncode == -signal.SIGINT)
    ours, theirs = load_model(out), load_model(reference)
    assert ours.optimizer.iterations == theirs.optimizer.iterations
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert np.array_equal(a, b)
    assert history(out) == history(reference)
    assert ours.metadata["epochs_trained"] == 3


def test_interrupt_mid_epoch_rolls_back_to_the_epoch_start(tmp_path, capsys, monkeypatch):
    from faltung import callbacks
    out = str(tmp_path / "m.faltung")

    def interrupt(self, batch, logs=None):  # Ctrl-C in the second epoch's fifth batch
        if self.epoch_seen == 1 and batch == 4:
            os.kill(os.getpid(), signal.SIGINT)

    def seen(self, epoch, logs=None):
        self.epoch_seen = epoch
    monkeypatch.setattr(callbacks.CSVLogger, "on_epoch_begin", seen, raising=False)
    monkeypatch.setattr(callbacks.CSVLogger, "on_train_batch_end", interrupt, raising=False)
    assert main(["train", *RUN, "--out", out]) == 130
    printed = capsys.readouterr().out
    assert "after 1 complete epoch saved" in printed and "(1 epochs)" not in printed
    model = load_model(out)
    steps_per_epoch = -(-360 // 32)
    assert model.metadata["epochs_trained"] == 1 and model.optimizer.iterations == steps_per_epoch
    assert len(history(out)) == 2  # the header and the one complete epoch


def test_interrupt_between_epochs_keeps_the_complete_epoch(tmp_path, capsys, monkeypatch):
    """Ctrl-C after an epoch ended (its validation, its logs) but before the next began: the checkpoint
    is the end of that epoch, and a resume equals an uninterrupted run."""
    from faltung import callbacks
    out, reference = str(tmp_path / "m.faltung"), str(tmp_path / "ref.faltung")
    assert main(["train", *RUN, "--out", reference]) == 0
    original = callbacks.CSVLogger.on_epoch_end

    def interrupt(self, epoch, logs=None):  # runs after the checkpoint's own on_epoch_end
        original(self, epoch, logs)
        if epoch == 0:
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(callbacks.CSVLogger, "on_epoch_end", interrupt)
    assert main(["train", *RUN, "--out", out]) == 130
    steps_per_epoch = -(-360 // 32)
    model = load_model(out)
    assert model.metadata["epochs_trained"] == 1 and model.optimizer.iterations == steps_per_epoch
    monkeypatch.setattr(callbacks.CSVLogger, "on_epoch_end", original)
    capsys.readouterr()
    assert main(["train", "--resume", out]) == 0
    ours, theirs = load_model(out), load_model(reference)
    assert ours.optimizer.iterations == theirs.optimizer.iterations == 3 * steps_per_epoch
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert np.array_equal(a, b)
    assert history(out) == history(reference)


def test_resume_uses_the_recorded_dataset_and_settings(tmp_path, capsys):
    out = str(tmp_path / "m.faltung")
    assert main(["train", *RUN[:-4], "--epochs", "1", "--verbose", "0", "--out", out]) == 0
    settings = load_model(out).metadata["settings"]
    assert settings["dataset"] == "shapes" and settings["batch_size"] == 32 and settings["limit"] == 400
    capsys.readouterr()
    # no --dataset: the default (Fashion-MNIST) must not be used; shapes trains again
    assert main(["train", "--resume", out, "--epochs", "2", "--verbose", "0"]) == 0
    model = load_model(out)
    assert model.metadata["dataset"] == "shapes" and model.metadata["epochs_trained"] == 2
    steps = -(-360 // 32)  # 400 images, 10 % held out, batches of 32: the recorded settings
    assert model.optimizer.iterations == 2 * steps
    assert "(1 epoch)" in capsys.readouterr().out
    # an override wins
    assert main(["train", "--resume", out, "--epochs", "3", "--batch-size", "360", "--verbose", "0"]) == 0
    model = load_model(out)
    assert model.optimizer.iterations == 2 * steps + 1 and model.metadata["settings"]["batch_size"] == 360


def test_resume_with_no_epochs_left_is_an_error_not_minus_one_epochs(tmp_path, capsys):
    out = str(tmp_path / "m.faltung")
    assert main(["train", *RUN[:-4], "--epochs", "2", "--verbose", "0", "--out", out]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", out, "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "trained 2 of 1 epochs already" in err and "(-1 epochs)" not in err


def test_resume_refuses_a_tampered_random_state(tmp_path, capsys):
    out = str(tmp_path / "m.faltung")
    assert main(["train", *RUN[:-4], "--epochs", "1", "--verbose", "0", "--out", out]) == 0
    model = load_model(out)
    model.metadata["rng_state"] = {"bit_generator": "nonsense"}
    model.save(out)
    capsys.readouterr()
    assert main(["train", "--resume", out, "--epochs", "2"]) == 1
    assert "random generator state is invalid" in capsys.readouterr().err
