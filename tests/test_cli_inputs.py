"""The `faltung` command on hostile files and misuse: huge and 16-bit images, sizes that would exhaust
memory, output paths that cannot be written. Each is one line on stderr, never a traceback, and a
bad output path is found before any data is loaded."""
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from faltung import zoo
from faltung.cli import main

Image = pytest.importorskip("PIL.Image")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def bomb_png(path, side=20000):
    """A valid 1-bit PNG of side x side pixels (400 million at 20000) that takes 50 KB on disk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer = zlib.compressobj(9)
    row = bytes(1 + side // 8)  # filter byte 0, then side bits of black
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    assert path.stat().st_size < 100_000
    return path


def png16(path, values):
    """A 16-bit greyscale PNG holding the uint16 array ``values``."""
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(path)
    with Image.open(path) as image:
        assert image.mode in ("I;16", "I")  # really 16 bits per pixel in the file
    return path


def gradient16(height=40, width=40):
    return np.linspace(0, 65535, height * width).reshape(height, width)


def one_error_line(err):
    """The error line of stderr, checking there is exactly one and no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and err.rstrip("\n").endswith(lines[0]), err
    return lines[0]


def run_main(args, capsys):
    """``main(args)`` as (exit code, stdout, stderr); argparse's SystemExit gives its code."""
    try:
        code = main(args)
    except SystemExit as exit:
        code = exit.code
    out = capsys.readouterr()
    return code, out.out, out.err


def faltung(*args):
    return subprocess.run([sys.executable, "-m", "faltung", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """An untrained LeNet for 28x28 grey images of 3 classes, saved (decoding needs no training)."""
    path = tmp_path_factory.mktemp("model") / "grey.faltung"
    model = zoo.build("lenet", (28, 28, 1), 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.metadata.update(dataset="shapes", class_names=["a", "b", "c"], model="lenet")
    model.save(path)
    return str(path)


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder that refuses new files, even to root (who ignores permission bits): /proc then."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif os.path.isdir("/proc/self"):
        yield "/proc"
    else:
        pytest.skip("running as root without /proc: no folder refuses files")


# --------------------------------------------------------------------------- #
# item 9: a decompression bomb is one line, exit 1
# --------------------------------------------------------------------------- #
def test_predict_on_a_20000_pixel_square_png_is_one_line(model_file, tmp_path):
    bomb = bomb_png(tmp_path / "bomb.png")
    result = faltung("predict", model_file, str(bomb))
    assert result.returncode == 1 and result.stdout == ""
    line = one_error_line(result.stderr)
    assert result.stderr == line + "\n" and str(bomb) in line and "pixels" in line


def test_show_maps_and_correlation_on_a_huge_png_are_one_line(model_file, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    bomb = bomb_png(tmp_path / "bomb.png")
    for args in (["show", "maps", model_file, str(bomb)], ["show", "correlation", str(bomb)]):
        code, out, err = run_main(args, capsys)
        assert code == 1 and str(bomb) in one_error_line(err) and err.count("\n") == 1
    assert os.listdir(tmp_path) == ["bomb.png"]  # no picture written


# --------------------------------------------------------------------------- #
# item 10: a 16-bit PNG is decoded as the folder loader decodes it
# --------------------------------------------------------------------------- #
def loader_image(path, size=(28, 28)):
    """The image as image_dataset_from_directory reads it for training: (h, w, 1) float32."""
    from faltung import datasets
    folder = path.parent / "folder"
    (folder / "only").mkdir(parents=True, exist_ok=True)
    os.replace(path, folder / "only" / path.name)
    dataset = datasets.image_dataset_from_directory(folder, color_mode="grayscale", image_size=size,
                                                    shuffle=False, verbose=False)
    os.replace(folder / "only" / path.name, path)
    return dataset.load_image(str(path))


def test_read_image_of_a_16_bit_png_is_the_loaders_image(tmp_path):
    from faltung.cli.inspect import read_image
    flat = png16(tmp_path / "flat.png", np.full((28, 28), 30000))
    assert np.all(read_image(str(flat), (28, 28, 1)) == 117)  # 30000 / 257, rounded: scaled, not clipped
    ramp = png16(tmp_path / "ramp.png", gradient16())         # 40x40 -> 28x28: the loader's resize too
    np.testing.assert_array_equal(read_image(str(ramp), (28, 28, 1)), loader_image(ramp))


def test_predict_sees_a_16_bit_png_as_the_loader_sees_it(model_file, tmp_path, capsys):
    ramp = png16(tmp_path / "ramp.png", gradient16())
    np.save(tmp_path / "ramp.npy", loader_image(ramp))
    code, from_png, _ = run_main(["predict", model_file, str(ramp)], capsys)
    assert code == 0
    code, from_npy, _ = run_main(["predict", model_file, str(tmp_path / "ramp.npy")], capsys)
    assert code == 0
    assert from_png.split(": ", 1)[1] == from_npy.split(": ", 1)[1]  # same class, same probability


def test_show_maps_and_correlation_decode_16_bit_as_the_loader(model_file, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    from faltung import viz
    monkeypatch.chdir(tmp_path)
    ramp = png16(tmp_path / "ramp.png", gradient16())
    expected = loader_image(ramp)
    seen = {}
    for name in ("plot_feature_maps", "plot_correlation"):
        original = getattr(viz, name)

        def spy(model_or_image, *args, _original=original, _name=name, **kwargs):
            seen[_name] = args[0] if _name == "plot_feature_maps" else model_or_image
            return _original(model_or_image, *args, **kwargs)
        monkeypatch.setattr(viz, name, spy)
    assert run_main(["show", "maps", model_file, str(ramp)], capsys)[0] == 0
    np.testing.assert_array_equal(seen["plot_feature_maps"], expected)
    assert run_main(["show", "correlation", str(ramp), "--no-values"], capsys)[0] == 0
    np.testing.assert_allclose(seen["plot_correlation"] * 255, loader_image(ramp, (40, 40))[..., 0], atol=1e-4)


# --------------------------------------------------------------------------- #
# item 11: sizes that would exhaust memory are usage errors (exit 2), their limits in --help
# --------------------------------------------------------------------------- #
# Each command would fail at run time anyway (a missing file): only the size check may stop it first.
@pytest.mark.parametrize("args,option,limit", [
    (["train", "--dataset", "no-such-folder", "--image-size", "100000"], "--image-size", "1024"),
    (["train", "--dataset", "no-such-folder", "--batch-size", "100000000"], "--batch-size", "4096"),
    (["evaluate", "missing.faltung", "--batch-size", "100000000"], "--batch-size", "4096"),
    (["show", "correlation", "missing.png", "--dpi", "100000"], "--dpi", "1000"),
    (["show", "maps", "missing.faltung", "--max-maps", "1000000"], "--max-maps", "256"),
    (["show", "filters", "missing.faltung", "--max-filters", "1000000"], "--max-filters", "256"),
    (["show", "predictions", "missing.faltung", "-n", "1000000"], "-n", "256"),
])
def test_sizes_beyond_the_limits_are_usage_errors(args, option, limit, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(args, capsys)
    line = one_error_line(err)
    assert code == 2 and f"argument {option}" in line and f"up to {limit}" in line and args[-1] in line


def test_help_states_the_limits(capsys):
    for args, words in ((["train"], ("at most 1024", "at most 4096")), (["show", "correlation"], ("at most 1000",)),
                        (["show", "predictions"], ("at most 256",)), (["evaluate"], ("at most 4096",))):
        code, out, _ = run_main([*args, "--help"], capsys)
        assert code == 0 and all(w in " ".join(out.split()) for w in words)


def test_a_picture_too_big_to_draw_is_one_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    np.save("tall.npy", np.zeros((10000, 6)))  # a cell per value: 3000 inches tall
    code, out, err = run_main(["show", "correlation", "tall.npy", "--filter", "laplace", "--no-values"], capsys)
    assert code == 1 and "pixels at --dpi 100" in one_error_line(err) and err.count("\n") == 1
    assert os.listdir(".") == ["tall.npy"]


# --------------------------------------------------------------------------- #
# item 12: output paths are checked before any data is loaded
# --------------------------------------------------------------------------- #
@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if `faltung train` gets as far as loading data."""
    def load(*args, **kwargs):
        raise AssertionError("data was loaded before the output paths were checked")
    monkeypatch.setattr("faltung.cli.train.load", load)


QUICK = ["--dataset", "shapes", "--limit", "64", "--epochs", "1", "--verbose", "0"]


def test_out_that_is_a_folder_is_refused_before_training(tmp_path):
    result = faltung("train", *QUICK, "--out", str(tmp_path))
    assert result.returncode == 2 and "Epoch" not in result.stdout
    assert "is a folder" in one_error_line(result.stderr) and str(tmp_path) in result.stderr


def test_out_in_a_missing_or_unwritable_folder_is_a_usage_error(tmp_path, unwritable_folder, no_loading, capsys):
    for out, words in ((tmp_path / "no" / "such" / "m.faltung", "does not exist"),
                       (os.path.join(unwritable_folder, "m.faltung"), "cannot write into the folder"),
                       (tmp_path, "is a folder")):
        code, _, err = run_main(["train", *QUICK, "--out", str(out)], capsys)
        assert code == 2 and words in one_error_line(err) and str(out) in err


def test_history_csv_and_default_out_are_checked_before_loading(tmp_path, unwritable_folder, no_loading,
                                                                monkeypatch, capsys):
    (tmp_path / "m.history.csv").mkdir()  # the history CSV that --out m.faltung implies
    code, _, err = run_main(["train", *QUICK, "--out", str(tmp_path / "m.faltung")], capsys)
    assert code == 1 and "history CSV" in one_error_line(err) and "is a folder" in err and err.count("\n") == 1
    monkeypatch.chdir(unwritable_folder)  # the default out, lenet-shapes.faltung, would land here
    code, _, err = run_main(["train", *QUICK], capsys)
    assert code == 1 and "lenet-shapes.faltung" in one_error_line(err) and err.count("\n") == 1


def test_report_folder_that_cannot_be_made_is_a_usage_error(tmp_path, unwritable_folder, no_loading, capsys):
    pytest.importorskip("matplotlib")
    (tmp_path / "plain").write_text("a file")
    for report, words in ((tmp_path / "plain" / "report", "is a file"),
                          (os.path.join(unwritable_folder, "report"), "cannot write into the folder")):
        code, _, err = run_main(["train", *QUICK, "--out", str(tmp_path / "m.faltung"), "--report", str(report)],
                                capsys)
        assert code == 2 and words in one_error_line(err) and str(report) in err


# --------------------------------------------------------------------------- #
# item 15: messages
# --------------------------------------------------------------------------- #
def test_bad_numbers_name_what_is_expected_not_a_function(capsys):
    for args, words in ((["--epochs", "abc"], "expected a positive integer; got 'abc'"),
                        (["--epochs", "0"], "expected a positive integer; got 0"),
                        (["--validation-split", "1.5"], "expected a fraction from 0 up to (not including) 1")):
        code, _, err = run_main(["train", "--dataset", "no-such-folder", *args], capsys)
        line = one_error_line(err)
        assert code == 2 and words in line and "_positive_int" not in line and args[0] in line
