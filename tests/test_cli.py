"""The `faltung` command: help, exit codes, train/evaluate/predict/summary, resume, Ctrl-C."""
import csv
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from faltung import callbacks
from faltung.cli import main
from faltung.models import load_model

FAST = ["--dataset", "shapes", "--limit", "640", "--epochs", "1", "--batch-size", "64", "--verbose", "0"]


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_on_every_command():
    for args in ([], ["train"], ["evaluate"], ["predict"], ["summary"]):
        with pytest.raises(SystemExit) as info:
            main(args + ["--help"])
        assert info.value.code == 0
    result = subprocess.run([sys.executable, "-m", "faltung", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train" in result.stdout


def test_usage_errors_exit_2(capsys):
    for args in (["train", "--epochs", "0"], ["train", "--bogus"], ["frobnicate"]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2


def test_runtime_errors_are_one_line_with_exit_1(tmp_path, capsys):
    code, out, err = run(["summary", str(tmp_path / "missing.faltung")], capsys)
    assert code == 1 and err.startswith("faltung: error:") and "missing.faltung" in err
    assert "Traceback" not in err and err.count("\n") == 1
    code, out, err = run(["train", "--dataset", "nosuchset", "--verbose", "0"], capsys)
    assert code == 1 and "dataset must be one of" in err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    out = folder / "shapes.faltung"
    assert main(["train", *FAST, "--out", str(out), "--seed", "1"]) == 0
    return out


def test_train_saves_model_and_history(trained, capsys):
    model = load_model(trained)
    assert model.metadata["epochs_trained"] == 1 and model.metadata["dataset"] == "shapes"
    rows = list(csv.DictReader(open(os.path.splitext(trained)[0] + ".history.csv")))
    assert len(rows) == 1 and {"epoch", "loss", "accuracy"} <= set(rows[0])


def test_final_line_reports_accuracy_and_time(tmp_path, capsys):
    code, out, _ = run(["train", *FAST, "--model", "lenet", "--out", str(tmp_path / "m.faltung")], capsys)
    last = out.strip().splitlines()[-1]
    assert code == 0 and last.startswith("test accuracy ") and " s training (1 epoch) - " in last
    accuracy = float(last.split()[2])
    assert 0.0 <= accuracy <= 1.0


def test_evaluate_predict_summary(trained, tmp_path, capsys):
    code, out, _ = run(["evaluate", str(trained)], capsys)
    assert code == 0 and "loss:" in out and "accuracy:" in out
    model = load_model(trained)
    image = np.zeros(model.input_shape[1:], np.uint8)
    path = tmp_path / "img.npy"
    np.save(path, image)
    code, out, _ = run(["predict", str(trained), str(path)], capsys)
    names = model.metadata["class_names"]
    assert code == 0 and out.startswith(f"{path}: ") and any(f": {n} (" in out for n in names)
    code, out, _ = run(["summary", str(trained)], capsys)
    assert code == 0 and "Total params:" in out


def test_resume_continues_from_the_saved_epoch(trained, tmp_path, capsys):
    copy = tmp_path / "resume.faltung"
    copy.write_bytes(trained.read_bytes())
    code, out, _ = run(["train", "--resume", str(copy), *FAST[:4], "--epochs", "2", "--verbose", "0"], capsys)
    assert code == 0
    assert load_model(copy).metadata["epochs_trained"] == 2
    assert load_model(copy).optimizer.iterations > load_model(trained).optimizer.iterations


def test_ctrl_c_stops_after_the_batch_and_saves_a_checkpoint(tmp_path, capsys, monkeypatch):
    def interrupt(self, batch, logs=None):
        if batch == 1:
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(callbacks.CSVLogger, "on_train_batch_end", interrupt, raising=False)
    out = tmp_path / "ckpt.faltung"
    code, printed, _ = run(["train", *FAST, "--epochs", "3", "--out", str(out)], capsys)
    assert code == 130 and out.exists() and "--resume" in printed
    model = load_model(out)
    # the interrupted epoch is rolled back to its start: a resume replays it exactly
    assert model.metadata.get("epochs_trained", 0) == 0 and model.optimizer.iterations == 0


def faltung(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "faltung", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_every_sub_command_as_a_process(tmp_path):
    model = tmp_path / "p.faltung"
    result = faltung("train", *FAST, "--out", str(model))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("test accuracy")
    result = faltung("evaluate", str(model))
    assert result.returncode == 0 and "accuracy:" in result.stdout
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((28, 28), np.uint8))
    result = faltung("predict", str(model), str(image))
    assert result.returncode == 0 and result.stdout.startswith(str(image))
    result = faltung("summary", str(model))
    assert result.returncode == 0 and "Total params" in result.stdout
    result = faltung("predict", str(model), str(tmp_path / "absent.png"))
    assert result.returncode == 1 and result.stderr.startswith("faltung: error:") and "Traceback" not in result.stderr
    result = faltung("--debug", "summary", str(tmp_path / "absent.faltung"))
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = faltung("train", "--epochs", "-1")
    assert result.returncode == 2 and "usage:" in result.stderr
