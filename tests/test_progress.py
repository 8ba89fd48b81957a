"""The progress display: an epoch's closing line shows every metric, validation ones included, in a
terminal of any width (written to a real pseudo-terminal of 80 and 120 columns), with and without tqdm."""
import fcntl
import os
import pty
import struct
import sys
import termios

import pytest

from faltung.progress import ProgressBar

LOGS = {"loss": 0.4321, "accuracy": 0.8765, "val_loss": 0.5432, "val_accuracy": 0.8123}


def terminal_output(columns, steps=20, verbose=1):
    """What one epoch's display writes to a terminal ``columns`` wide, as the lines a user sees last
    (after each carriage return only the text written since counts)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    with os.fdopen(slave, "w") as stream:
        bar = ProgressBar(steps, verbose, title="Epoch 1/3", stream=stream)
        for done in range(1, steps + 1):
            bar.update(done, {"loss": LOGS["loss"], "accuracy": LOGS["accuracy"]})
        bar.close(LOGS)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed and everything is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    text = b"".join(chunks).decode()
    return [line.split("\r")[-1] for line in text.replace("\r\n", "\n").split("\n") if line.split("\r")[-1]]


@pytest.fixture(params=["tqdm", "own bar"])
def bar_kind(request, monkeypatch):
    if request.param == "tqdm":
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    return request.param


@pytest.mark.parametrize("columns", [80, 120])
def test_closing_line_keeps_validation_metrics_at_any_width(bar_kind, columns):
    lines = terminal_output(columns)
    assert lines[0] == "Epoch 1/3"                          # the title has a line of its own, as in Keras
    last = lines[-1]
    assert last.endswith(" - " + " - ".join(f"{key}: {value:.4f}" for key, value in LOGS.items()))
    assert last.startswith("20/20 [==============================] - ")  # Keras' closing bar


def test_verbose_2_is_one_whole_line_per_epoch():
    lines = terminal_output(80, verbose=2)
    assert len(lines) == 1 and lines[0].startswith("Epoch 1/3 - ")
    assert lines[0].endswith(f"val_accuracy: {LOGS['val_accuracy']:.4f}")
