"""faltung.viz: every picture renders off-screen (Agg) to a valid PNG of the promised size, with the
expected axes and the right numbers in them; bad arguments are ValueErrors that say what was wrong."""
import csv
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import faltung as ft  # noqa: E402
from faltung import layers, lecture, models, viz  # noqa: E402
from faltung.viz._figure import pixel_size  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature and the chunk's CRC."""
    data = open(path, "rb").read()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0], "corrupt IHDR"
    assert data[-8:-4] == b"IEND", "the PNG does not end with its IEND chunk"
    return struct.unpack(">II", data[16:24])


def check_png(fig, path, dpi=100):
    """The saved file is a PNG, Pillow decodes it completely, and it has the figure's pixel size."""
    from PIL import Image
    assert os.path.getsize(path) > 0
    size = png_size(path)
    with Image.open(path) as image:
        image.load()  # decodes every row: a truncated file fails here
        assert image.size == size
    assert size == pixel_size(fig, dpi)
    return size


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def model():
    """A small untrained CNN on 12×12 grey images: conv(6) - max pool - conv(5) - flatten - dense(3)."""
    ft.set_seed(0)
    return models.Sequential([
        layers.Input((12, 12, 1)),
        layers.Conv2D(6, 3, activation="relu", name="conv_a"),
        layers.MaxPool2D(2, name="pool_a"),
        layers.Conv2D(5, 3, name="conv_b"),
        layers.Flatten(name="flat"),
        layers.Dense(3, activation="softmax", name="out"),
    ])


class FixedModel:
    """Stands in for a model: ``predict`` returns fixed probabilities, so counts are known exactly."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, dtype=float)

    def predict(self, x, batch_size=None, verbose=0):
        return self.probabilities[: len(x)]


# --------------------------------------------------------------------------- #
# import hygiene
# --------------------------------------------------------------------------- #
def test_importing_faltung_does_not_import_matplotlib():
    code = ("import sys, faltung, faltung.viz, faltung.cli; faltung.cli.build_parser(); "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_headless_session_gets_agg():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    code = ("from faltung.viz._figure import pyplot; import matplotlib; pyplot(); "
            "print(matplotlib.get_backend().lower())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    if sys.platform.startswith("linux"):
        assert result.stdout.strip() == "agg"


# --------------------------------------------------------------------------- #
# plot_correlation
# --------------------------------------------------------------------------- #
def test_correlation_reproduces_the_lecture_slide(tmp_path):
    path = tmp_path / "correlation.png"
    fig = viz.plot_correlation(lecture.IMAGE, lecture.CORNER_FILTER, path=path)
    check_png(fig, path)
    assert len(fig.axes) == 3
    image_ax, filter_ax, output_ax = fig.axes
    output = np.asarray(output_ax.images[0].get_array())
    assert output.shape == (8, 8)
    assert np.abs(output - lecture.PRINTED_OUTPUT).max() < 0.1
    assert np.unravel_index(output.argmax(), output.shape) == (5, 2)   # where the corner is
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in output_ax.texts}
    assert len(texts) == 64 and texts[(5, 2)] == "19.3"
    assert max(texts, key=lambda cell: float(texts[cell])) == (5, 2)
    pixels = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in image_ax.texts}
    assert len(pixels) == 144 and pixels[(0, 0)] == "0.56" and pixels[(8, 3)] == "1.00"
    assert sorted(t.get_text() for t in filter_ax.texts) == sorted(
        str(int(v)) for v in lecture.CORNER_FILTER.ravel())


def test_correlation_centres_signed_colour_scales_at_zero():
    fig = viz.plot_correlation(lecture.IMAGE, lecture.CORNER_FILTER)
    image_ax, filter_ax, output_ax = fig.axes
    norm = filter_ax.images[0].norm
    assert norm.vmin == -norm.vmax == -4.0                           # the filter has -1 and 4
    assert image_ax.images[0].norm.vmin == 0.0                      # pixels: 0 is black
    signed = viz.plot_correlation(lecture.IMAGE - 0.5, viz.named_filter("sobel-x"))
    out_norm = signed.axes[2].images[0].norm
    assert out_norm.vmin == -out_norm.vmax and out_norm.vmax > 0


def test_correlation_marks_the_window_of_the_maximum():
    fig = viz.plot_correlation(lecture.IMAGE, lecture.CORNER_FILTER)
    window = fig.axes[0].patches[0]
    assert (window.get_x() + 0.5, window.get_y() + 0.5) == (2, 5)
    assert (window.get_width(), window.get_height()) == (5, 5)


def test_correlation_of_a_large_image_has_no_numbers_and_saves_svg(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "big.svg"
    fig = viz.plot_correlation(rng.random((28, 28, 1)), viz.named_filter("laplace"), path=path)
    assert all(not ax.texts for ax in fig.axes)
    assert fig.axes[2].images[0].get_array().shape == (26, 26)
    assert b"<svg" in path.read_bytes()[:1000]


@pytest.mark.parametrize("name", ["vertical-edge", "horizontal-edge", "corner", "sobel-x", "sobel-y", "laplace"])
def test_named_filters_draw(name):
    kernel = viz.named_filter(name)
    fig = viz.plot_correlation(lecture.IMAGE, kernel)
    expected = ft.correlate2d(kernel, lecture.IMAGE)
    assert np.allclose(fig.axes[2].images[0].get_array(), expected)


def test_correlation_errors_name_what_was_received():
    with pytest.raises(ValueError, match=r"image must be a 2-D matrix.*\(12, 12, 3\)"):
        viz.plot_correlation(np.zeros((12, 12, 3)), lecture.CORNER_FILTER)
    with pytest.raises(ValueError, match=r"filter \(5, 5\) must fit inside the image \(4, 4\)"):
        viz.plot_correlation(np.zeros((4, 4)), lecture.CORNER_FILTER)
    with pytest.raises(ValueError, match="unknown filter 'edge'.*sobel-x"):
        viz.named_filter("edge")


# --------------------------------------------------------------------------- #
# plot_filters
# --------------------------------------------------------------------------- #
def test_filters_of_the_first_layer_are_grey_patches(model, tmp_path):
    path = tmp_path / "filters.png"
    fig = viz.plot_filters(model, path=path)
    check_png(fig, path)
    assert len(fig.axes) == 6 + 1                                   # six patches and a colour bar
    kernel = model.get_layer("conv_a").kernel.data
    for r, ax in enumerate(fig.axes[:6]):
        assert np.allclose(ax.images[0].get_array(), kernel[:, :, 0, r])
        assert ax.images[0].get_cmap().name == "gray"
        assert ax.images[0].norm.vmin == -ax.images[0].norm.vmax    # 0 is mid-grey


def test_filters_of_a_deeper_layer_summed_and_per_channel(model):
    kernel = model.get_layer("conv_b").kernel.data                 # (3, 3, 6, 5)
    fig = viz.plot_filters(model, "conv_b")
    assert len(fig.axes) == 5 + 1
    assert np.allclose(fig.axes[4].images[0].get_array(), kernel[:, :, :, 4].sum(axis=2))
    fig = viz.plot_filters(model, "conv_b", mode="channels")
    assert len(fig.axes) == 5 * 6 + 1
    assert np.allclose(fig.axes[6 + 2].images[0].get_array(), kernel[:, :, 2, 1])   # filter 1, channel 2
    fig = viz.plot_filters(model, 2, max_filters=3)                 # by index, first 3 filters only
    assert len(fig.axes) == 3 + 1


def test_filters_of_a_colour_first_layer_are_rgb_patches():
    ft.set_seed(1)
    net = models.Sequential([layers.Input((8, 8, 3)), layers.Conv2D(4, 3, name="rgb_conv")])
    kernel = net.layers[0].kernel.data.copy()
    kernel[:, :, :, 0] = 0.0
    net.layers[0].set_weights([kernel, np.zeros(4)])
    fig = viz.plot_filters(net)
    assert len(fig.axes) == 4                                       # no colour bar for RGB
    patch = np.asarray(fig.axes[0].images[0].get_array())
    assert patch.shape == (3, 3, 3) and np.allclose(patch, 0.5)     # a zero filter is neutral grey
    assert np.asarray(fig.axes[1].images[0].get_array()).max() <= 1.0


def test_filters_errors(model):
    with pytest.raises(ValueError, match=r"needs a Conv2D layer; 'pool_a' is a MaxPooling2D.*conv_a"):
        viz.plot_filters(model, "pool_a")
    with pytest.raises(ValueError, match=r"unknown layer 'conv_z'.*conv_a"):
        viz.plot_filters(model, "conv_z")
    with pytest.raises(ValueError, match="mode must be one of"):
        viz.plot_filters(model, mode="colour")
    with pytest.raises(ValueError, match="mode 'rgb' needs 3 input channels"):
        viz.plot_filters(model, mode="rgb")
    with pytest.raises(ValueError, match="no Conv2D layer"):
        viz.plot_filters(models.Sequential([layers.Input((4,)), layers.Dense(2)]))


# --------------------------------------------------------------------------- #
# plot_feature_maps
# --------------------------------------------------------------------------- #
def _texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def test_feature_maps_show_every_conv_and_pooling_layer(model, tmp_path):
    image = np.random.default_rng(0).random((12, 12, 1)).astype(np.float32)
    path = tmp_path / "maps.png"
    fig = viz.plot_feature_maps(model, image, path=path)
    check_png(fig, path)
    assert len(fig.axes) == 1 + 6 + 6 + 5                           # input, conv_a, pool_a, conv_b
    texts = _texts(fig)
    for title in ("conv_a (10, 10, 6)", "pool_a (5, 5, 6)", "conv_b (3, 3, 5)", "input (12, 12, 1)"):
        assert title in texts
    expected = model.get_layer("conv_a")(image[None]).numpy()[0]
    assert np.allclose(fig.axes[1 + 3].images[0].get_array(), expected[..., 3])
    assert "call" not in vars(model.get_layer("conv_a"))             # the recording wrapper is gone


def test_feature_maps_of_chosen_layers_of_a_functional_model():
    ft.set_seed(2)
    inputs = layers.Input((10, 10, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    y = layers.AveragePooling2D(2, name="p1")(x)
    outputs = layers.Dense(2)(layers.GlobalAveragePooling2D()(y))
    net = models.Model(inputs, outputs)
    image = np.arange(100, dtype=np.float32).reshape(10, 10) / 100  # (H, W): one channel implied
    fig = viz.plot_feature_maps(net, image, layers=["p1"], max_maps=3)
    assert len(fig.axes) == 1 + 3
    assert "p1 (5, 5, 4), first 3 of 4 maps" in _texts(fig)
    pooled = net.get_layer("p1")(net.get_layer("c1")(image[None, ..., None])).numpy()[0]
    assert np.allclose(fig.axes[2].images[0].get_array(), pooled[..., 1])


def test_feature_maps_errors(model):
    with pytest.raises(ValueError, match=r"input shape \(12, 12, 1\).*got shape \(28, 28\)"):
        viz.plot_feature_maps(model, np.zeros((28, 28)))
    with pytest.raises(ValueError, match=r"unknown layer 'conv_q'"):
        viz.plot_feature_maps(model, np.zeros((12, 12, 1)), layers=["conv_q"])
    with pytest.raises(ValueError, match=r"'flat' outputs shape \(45,\)"):
        viz.plot_feature_maps(model, np.zeros((12, 12, 1)), layers=["flat"])


# --------------------------------------------------------------------------- #
# plot_history
# --------------------------------------------------------------------------- #
def _tiny_fit(tmp_path, model_epochs=3):
    ft.set_seed(3)
    net = models.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="relu"), layers.Flatten(),
                             layers.Dense(2, activation="softmax")])
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 6, 6, 1)).astype(np.float32), rng.integers(0, 2, 40)
    csv_path = tmp_path / "run.history.csv"
    history = net.fit(x, y, epochs=model_epochs, batch_size=20, validation_split=0.25, verbose=0,
                      callbacks=[ft.callbacks.CSVLogger(csv_path)])
    return history, csv_path


def test_history_from_a_history_its_dict_and_its_csv(tmp_path):
    history, csv_path = _tiny_fit(tmp_path)
    for source in (history, history.history, csv_path, str(csv_path)):
        path = tmp_path / "history.png"
        fig = viz.plot_history(source, path=path)
        check_png(fig, path)
        assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
        loss_ax = fig.axes[0]
        assert [line.get_label() for line in loss_ax.get_lines()] == ["training", "validation"]
        training, validation = loss_ax.get_lines()
        assert list(training.get_xdata()) == [1, 2, 3]
        assert np.allclose(training.get_ydata(), history.history["loss"])
        assert np.allclose(validation.get_ydata(), history.history["val_loss"])


def test_history_leaves_out_the_learning_rate_and_reads_na(tmp_path):
    path = tmp_path / "h.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "accuracy", "learning_rate", "loss", "mae"])
        writer.writerows([[0, 0.5, 0.01, 1.0, 0.3], [1, "NA", 0.01, 0.8, 0.2]])
    fig = viz.plot_history(path)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "mae"]
    assert np.isnan(fig.axes[1].get_lines()[0].get_ydata()[1])
    fig = viz.plot_history({"loss": [1, 2], "a": [1, 2], "b": [1, 2], "c": [1, 2]}, columns=3)
    assert len(fig.axes) == 4


def test_history_errors(tmp_path):
    with pytest.raises(ValueError, match="no such history file"):
        viz.plot_history(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("loss,accuracy\n1,2\n")
    with pytest.raises(ValueError, match="header must start with 'epoch'"):
        viz.plot_history(bad)
    with pytest.raises(ValueError, match="one value per epoch"):
        viz.plot_history({"loss": [1, 2], "val_loss": [1]})
    with pytest.raises(ValueError, match="must be a History, a dict"):
        viz.plot_history(42)


# --------------------------------------------------------------------------- #
# plot_confusion_matrix and plot_predictions
# --------------------------------------------------------------------------- #
def test_confusion_matrix_counts(tmp_path):
    y = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    stub = FixedModel(np.eye(3)[predicted])
    path = tmp_path / "confusion.png"
    fig = viz.plot_confusion_matrix(stub, np.zeros((6, 4, 4, 1)), y, ["a", "b", "c"], path=path)
    check_png(fig, path)
    assert len(fig.axes) == 2                                       # matrix and colour bar
    expected = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert np.array_equal(fig.axes[0].images[0].get_array(), expected)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    assert "accuracy 0.667" in fig.axes[0].get_title()
    fig = viz.plot_confusion_matrix(stub, np.zeros((6, 4, 4, 1)), np.eye(3)[y], normalize=True)  # one-hot y
    assert np.allclose(fig.axes[0].images[0].get_array()[0], [0.5, 0.5, 0])


def test_confusion_matrix_with_a_real_model(model):
    x = np.random.default_rng(1).random((10, 12, 12, 1)).astype(np.float32)
    fig = viz.plot_confusion_matrix(model, x, np.arange(10) % 3)
    assert np.asarray(fig.axes[0].images[0].get_array()).sum() == 10


def test_predictions_mark_the_wrong_ones(tmp_path):
    y = np.array([0, 1, 2, 1, 0])
    predicted = np.array([0, 2, 2, 0, 0])
    x = (np.random.default_rng(0).random((5, 8, 8, 1)) * 255).astype(np.uint8)
    path = tmp_path / "predictions.png"
    fig = viz.plot_predictions(FixedModel(np.eye(3)[predicted]), x, y, ["zero", "one", "two"], path=path)
    check_png(fig, path)
    assert len(fig.axes) == 5
    wrong = [ax for ax in fig.axes if ax.get_title().startswith("✗")]
    assert len(wrong) == 2 and "true: one" in wrong[0].get_title()
    assert matplotlib.colors.same_color(wrong[0].spines["top"].get_edgecolor(), "#d62728")
    assert fig.axes[0].get_title() == "zero 100%"
    assert np.array_equal(fig.axes[1].images[0].get_array(), x[1, ..., 0])
    assert len(viz.plot_predictions(FixedModel(np.eye(3)[predicted]), x, y, n=3).axes) == 3


def test_evaluation_errors():
    stub = FixedModel(np.eye(3))
    with pytest.raises(ValueError, match="3 images; got 2 labels"):
        viz.plot_confusion_matrix(stub, np.zeros((3, 4, 4, 1)), [0, 1])
    with pytest.raises(ValueError, match="class_names has 2 names.*need 3"):
        viz.plot_confusion_matrix(stub, np.zeros((3, 4, 4, 1)), [0, 1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="at least one image"):
        viz.plot_predictions(stub, np.zeros((0, 4, 4, 1)), [])


# --------------------------------------------------------------------------- #
# write_report
# --------------------------------------------------------------------------- #
def test_report_writes_every_picture_and_a_page_that_shows_them(tmp_path):
    history, csv_path = _tiny_fit(tmp_path)
    ft.set_seed(4)
    net = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(3, 3, activation="relu", name="c"),
                             layers.MaxPool2D(2), layers.Flatten(), layers.Dense(2, activation="softmax")])
    x = (np.random.default_rng(0).random((12, 8, 8, 1)) * 255).astype(np.uint8)
    index = viz.write_report(tmp_path / "report", net, x, np.arange(12) % 2, ["even", "odd"], history=csv_path,
                             settings={"epochs": 3, "note": "<b>escaped</b>"}, metrics={"test accuracy": 0.5})
    folder = tmp_path / "report"
    assert index == os.path.join(folder, "index.html")
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["confusion.png", "correlation.png", "feature-maps.png", "filters-c.png", "history.png",
                    "predictions.png"]
    page = open(index, encoding="utf-8").read()
    sources = re.findall(r'<img src="([^"]+)" width="(\d+)" height="(\d+)"', page)
    assert sorted(s for s, _, _ in sources) == pngs
    for source, width, height in sources:
        assert png_size(folder / source) == (int(width), int(height))
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page and "<b>escaped" not in page
    assert "test accuracy" in page and "val_loss (epoch 3)" in page
    assert "<script" not in page
