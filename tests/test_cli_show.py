"""`faltung show ...` and `faltung train --report DIR`: PNG files of the promised size, default names,
--help, errors; the HTML report loads in headless Chromium with every image present."""
import os
import re
import shutil
import struct
import subprocess
import tempfile

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from faltung.cli import main  # noqa: E402
from faltung.models import load_model  # noqa: E402

FAST = ["--dataset", "shapes", "--limit", "320", "--epochs", "2", "--batch-size", "64", "--verbose", "0"]
WROTE = re.compile(r"^wrote (?P<path>.+) \((?P<width>\d+)x(?P<height>\d+) px\)$")


def png_size(path):
    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def show(args, capsys):
    """Run `faltung show ARGS`; return the exit code, the file it wrote and the size it reported."""
    code = main(["show", *args])
    out = capsys.readouterr().out.strip()
    match = WROTE.match(out.splitlines()[-1]) if out else None
    if code != 0 or match is None:
        return code, None, None
    path = match["path"]
    assert os.path.isfile(path) and png_size(path) == (int(match["width"]), int(match["height"]))
    return code, path, (int(match["width"]), int(match["height"]))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny model trained by `faltung train ... --report`, with its history CSV and report folder."""
    folder = tmp_path_factory.mktemp("show")
    out = folder / "tiny.faltung"
    report = folder / "report"
    code = main(["train", *FAST, "--validation-split", "0.2", "--out", str(out), "--report", str(report)])
    assert code == 0
    return {"model": out, "csv": folder / "tiny.history.csv", "report": report}


def test_help_on_every_show_command():
    for args in (["show"], ["show", "correlation"], ["show", "filters"], ["show", "maps"], ["show", "history"],
                 ["show", "confusion"], ["show", "predictions"]):
        with pytest.raises(SystemExit) as info:
            main(args + ["--help"])
        assert info.value.code == 0


def test_correlation_defaults_to_the_lecture(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, path, size = show(["correlation"], capsys)
    assert code == 0 and path == "correlation.png" and size == (1305, 630)
    code, path, size = show(["correlation", "--filter", "sobel-x", "--dpi", "50", "--out", "out/sx.png"], capsys)
    assert code == 0 and path == "out/sx.png" and size == (652, 315)


def test_correlation_of_files(tmp_path, monkeypatch, capsys):
    from PIL import Image
    monkeypatch.chdir(tmp_path)
    np.save("filter.npy", np.array([[1.0, -1.0]]))
    Image.fromarray(np.tile(np.arange(0, 200, 10, dtype=np.uint8), (20, 1))).save("ramp.png")
    code, path, _ = show(["correlation", "ramp.png", "--filter", "filter.npy", "--out", "ramp-out.png"], capsys)
    assert code == 0 and path == "ramp-out.png"
    np.save("image.npy", np.eye(6))
    assert show(["correlation", "image.npy", "--filter", "laplace"], capsys)[0] == 0


def test_correlation_usage_and_runtime_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["show", "correlation", "--filter", "edgy"])
    assert info.value.code == 2 and "sobel-x" in capsys.readouterr().err
    np.save("cube.npy", np.zeros((4, 4, 3)))
    code = main(["show", "correlation", "cube.npy"])
    err = capsys.readouterr().err
    assert code == 1 and "2-D array" in err and "(4, 4, 3)" in err and err.count("\n") == 1
    assert not os.path.exists("correlation.png")


def test_filters_maps_history_confusion_predictions(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = str(run["model"])
    code, path, _ = show(["filters", model], capsys)
    assert code == 0 and path == "tiny-filters.png"
    code, path, _ = show(["filters", model, "--layer", _conv_names(model)[1],
                          "--out", "deep.png"], capsys)
    assert code == 0 and path == "deep.png"
    code, path, _ = show(["maps", model, "--index", "3", "--max-maps", "8"], capsys)
    assert code == 0 and path == "tiny-maps.png"
    np.save("blank.npy", np.zeros((28, 28, 1), np.uint8))
    code, path, _ = show(["maps", model, "blank.npy", "--out", "blank-maps.png"], capsys)
    assert code == 0 and path == "blank-maps.png"
    code, path, _ = show(["history", str(run["csv"])], capsys)
    assert code == 0 and path == "tiny-history.png"
    code, path, _ = show(["confusion", model, "--limit", "100"], capsys)
    assert code == 0 and path == "tiny-confusion.png"
    code, path, _ = show(["predictions", model, "-n", "6", "--start", "10"], capsys)
    assert code == 0 and path == "tiny-predictions.png"


def _conv_names(model_path):
    return [l.name for l in load_model(model_path).layers if type(l).__name__ == "Conv2D"]


def test_show_errors_are_one_line(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = str(run["model"])
    dense = [l.name for l in load_model(model).layers if type(l).__name__ == "Dense"][0]
    for args, words in ((["filters", model, "--layer", dense], f"needs a Conv2D layer; '{dense}' is a Dense"),
                        (["filters", model, "--layer", "nope"], "unknown layer 'nope'"),
                        (["maps", model, "--index", "99999"], "--index must be within"),
                        (["history", "missing.csv"], "no such history file"),
                        (["filters", "missing.faltung"], "missing.faltung")):
        code = main(["show", *args])
        err = capsys.readouterr().err
        assert code == 1 and words in err and err.count("\n") == 1 and "Traceback" not in err
    np.save("small.npy", np.zeros((10, 10, 1), np.uint8))
    assert main(["show", "maps", model, "small.npy"]) == 1
    assert "(28, 28, 1)" in capsys.readouterr().err
    assert os.listdir(".") == ["small.npy"]                         # nothing written on an error


# --------------------------------------------------------------------------- #
# faltung train --report
# --------------------------------------------------------------------------- #
def test_report_folder_has_every_picture_and_the_run(run):
    folder = run["report"]
    page = (folder / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)" width="(\d+)" height="(\d+)"', page)
    names = {s for s, _, _ in sources}
    assert {"history.png", "confusion.png", "predictions.png", "feature-maps.png", "correlation.png"} <= names
    assert sum(n.startswith("filters-") for n in names) == 2          # lenet has two Conv2D layers
    assert names == {p.name for p in folder.glob("*.png")}
    for source, width, height in sources:
        assert png_size(folder / source) == (int(width), int(height))
    for words in ("shapes", "lenet", "test accuracy", "val_accuracy (epoch 2)",
                  "training images</th><td>256", "validation images</th><td>64"):  # --limit 320, split 0.2
        assert words in page
    assert "<script" not in page.lower()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium_run(url, *flags, timeout=120):
    chromium = _chromium()
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={profile}", *flags, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


# Written into a copy of the page only: the report itself has no script. On load it lists
# every image with its naturalWidth, where --dump-dom prints it.
PROBE = """<pre id="probe">pending</pre>
<script>
window.addEventListener("load", function () {
  var rows = [];
  for (var i = 0; i < document.images.length; i++) {
    var img = document.images[i];
    rows.push(img.getAttribute("src") + " " + img.naturalWidth + " " + img.naturalHeight);
  }
  document.getElementById("probe").textContent = "loaded " + rows.join(";");
});
</script>
</body>"""


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_report_opens_in_headless_chromium(run, tmp_path):
    copy = tmp_path / "report"
    shutil.copytree(run["report"], copy)
    page = (copy / "index.html").read_text(encoding="utf-8")
    expected = re.findall(r'<img src="([^"]+)" width="(\d+)" height="(\d+)"', page)
    (copy / "probe.html").write_text(page.replace("</body>", PROBE), encoding="utf-8")

    result = _chromium_run((copy / "probe.html").as_uri(), "--virtual-time-budget=10000", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="probe">loaded ([^<]*)</pre>', result.stdout)
    assert found, f"the probe did not run: {result.stdout[-500:]}"
    loaded = {src: (int(w), int(h)) for src, w, h in (row.split(" ") for row in found[1].split(";"))}
    assert loaded == {src: (int(w), int(h)) for src, w, h in expected}   # every image decoded at full size
    assert all(w > 0 for w, _ in loaded.values())

    shot = tmp_path / "screenshot.png"
    result = _chromium_run((copy / "index.html").as_uri(), "--window-size=1280,2400", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert png_size(shot) == (1280, 2400)
    from PIL import Image
    with Image.open(shot) as image:
        colours = image.convert("L").getextrema()
    assert colours[0] < 100 < colours[1]                            # text and pictures, not a blank page


def test_report_folder_is_checked_before_training(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    with pytest.raises(SystemExit) as info:
        main(["train", *FAST, "--out", str(tmp_path / "never.faltung"), "--report", str(taken)])
    assert info.value.code == 2 and "is a file; the report needs a folder" in capsys.readouterr().err
    assert not (tmp_path / "never.faltung").exists()
