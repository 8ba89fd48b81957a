"""faltung.explain: cell formulas equal the model's own numbers, Grad-CAM and input gradients against
hand computations, the page and `faltung explain`, and the page in headless Chromium (skipped where
Chromium, chromedriver or selenium are absent)."""
import base64
import json
import re
import shutil
import tempfile

import numpy as np
import pytest

import faltung as ft
import faltung.functional as F
from faltung import explain, layers, lecture, models, viz
from faltung.cli import main
from faltung.explain.graph import Trace

from conftest import explicit_pads, random_geometry

EPS32 = float(np.finfo(np.float32).eps)


def close_to_float32(cell, reference):
    """The float64 sum of a cell's terms agrees with a float32 result to float32 rounding: at most
    (n + 2) roundings of numbers no larger than the sum of the terms' magnitudes."""
    magnitude = (np.abs(cell.products).sum() if cell.products is not None else np.abs(cell.inputs).max())
    magnitude += abs(cell.bias)
    return abs(cell.pre_activation - reference) <= (len(cell.inputs) + 2) * EPS32 * max(magnitude, 1e-30)


def sequential(*stack, input_shape, seed=0):
    ft.set_seed(seed)
    return models.Sequential([layers.Input(input_shape), *stack])


def random_image(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----- cells -----

def test_lecture_example2_cell_is_the_printed_sum():
    net = explain.lecture.correlation_net(lecture.EXAMPLE2_A, (4, 5), "example2")
    c = explain.cell(net, lecture.EXAMPLE2_B[:, :, None], "example2", (1, 1, 0))
    # c[1,1] = a00·b11 + a01·b12 + a10·b21 + a11·b22 = 1·1 + (-1)·4 + 2·(-2) + (-3)·7
    assert [t.position for t in c.terms] == [(1, 1, 0), (1, 2, 0), (2, 1, 0), (2, 2, 0)]
    assert [t.input for t in c.terms] == [1, 4, -2, 7]
    assert [t.weight for t in c.terms] == [1, -1, 2, -3]
    assert [t.product for t in c.terms] == [1, -4, -4, -21]
    assert c.bias == 0 and c.pre_activation == c.value == -28 == lecture.EXAMPLE2_C[1, 1]
    assert c.kind == "conv" and c.activation == "linear"


def test_lecture_corner_cell_is_the_maximum_at_the_corner():
    net = explain.lecture.correlation_net(lecture.CORNER_FILTER, (12, 12), "corner")
    tr = explain.trace(net, lecture.IMAGE)
    out = tr.values["corner"][:, :, 0]
    i, j = np.unravel_index(np.argmax(out), out.shape)
    c = explain.explain_cell(tr, tr.node("corner"), (int(i), int(j), 0))
    assert (i, j) == (5, 2) and round(c.value, 1) == 19.3
    assert len(c.terms) == 25 and close_to_float32(c, c.value)


def _conv_cases(count):
    rng = np.random.default_rng(17)
    cases = []
    while len(cases) < count:
        g = random_geometry(rng, max_size=12)
        pads = explicit_pads(g["padding"], g["hw"], g["kernel"], g["strides"], g["dilation"])
        sizes = [(n + a + b - (d * (k - 1) + 1)) // s + 1
                 for n, k, s, d, (a, b) in zip(g["hw"], g["kernel"], g["strides"], g["dilation"], pads)]
        if min(sizes) >= 1 and any(sum(p) for p in pads) and max(g["strides"] + g["dilation"]) > 1:
            cases.append(g)
    return cases


@pytest.mark.parametrize("g", _conv_cases(10), ids=lambda g: f"{g['padding']}-s{g['strides']}-d{g['dilation']}")
def test_conv_cells_sum_to_the_models_value(g):
    """Every output cell of a conv with padding, stride and dilation: the terms plus the bias are the
    layer's own output, each term reads the input (or a zero of the padding) the TF rule says."""
    c_in = 2
    conv = layers.Conv2D(3, g["kernel"], strides=g["strides"], padding=g["padding"], dilation_rate=g["dilation"],
                         bias_initializer="random_normal", name="conv")
    net = sequential(layers.Activation("tanh", name="before"), conv, input_shape=(*g["hw"], c_in))
    tr = explain.trace(net, random_image((*g["hw"], c_in)))
    x, out = tr.values["before"], tr.values["conv"]
    pads = explicit_pads(g["padding"], g["hw"], g["kernel"], g["strides"], g["dilation"])
    (top, _), (left, _) = pads
    for i, j, r in np.ndindex(out.shape):
        c = explain.explain_cell(tr, tr.node("conv"), (i, j, r))
        assert close_to_float32(c, out[i, j, r]), (i, j, r, c.pre_activation, out[i, j, r])
        assert len(c.terms) == g["kernel"][0] * g["kernel"][1] * c_in
        for t in c.terms[:: max(1, len(c.terms) // 7)]:
            row, col, k = t.position
            outside = not (0 <= row < g["hw"][0] and 0 <= col < g["hw"][1])
            assert t.padded == outside
            assert t.input == (0.0 if outside else float(x[row, col, k]))
            # the tap's offset in the window gives the weight it meets: s·i + d·i' - pad = row
            di = (row - g["strides"][0] * i + top) / g["dilation"][0]
            dj = (col - g["strides"][1] * j + left) / g["dilation"][1]
            assert di == int(di) and dj == int(dj)
            assert t.weight == float(conv.kernel.data[int(di), int(dj), k, r])
    if top or left:  # the first window starts in the padding
        assert explain.explain_cell(tr, tr.node("conv"), (0, 0, 0)).padded.any()


def test_conv_cell_applies_the_activation():
    conv = layers.Conv2D(4, 3, strides=2, padding="same", dilation_rate=1, activation="relu", name="conv",
                         bias_initializer="random_normal")
    net = sequential(conv, input_shape=(9, 8, 3), seed=4)
    tr = explain.trace(net, random_image((9, 8, 3), 4))
    pre = F.conv2d(tr.values["input"][None], conv.kernel.data, conv.bias.data, conv.strides, "same").numpy()[0]
    negatives = 0
    for i, j, r in np.ndindex(tr.values["conv"].shape):
        c = explain.explain_cell(tr, tr.node("conv"), (i, j, r))
        assert c.activation == "relu" and close_to_float32(c, pre[i, j, r])
        assert c.value == max(float(pre[i, j, r]), 0.0)
        negatives += c.pre_activation < 0
    assert negatives > 0  # the relu had something to do


@pytest.mark.parametrize("pool_class", [layers.MaxPool2D, layers.AveragePooling2D])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"), ((2, 3), (1, 2), "same"),
                                                  (3, 3, "same")])
def test_pooling_cells(pool_class, pool, strides, padding):
    net = sequential(layers.Conv2D(2, 1, name="conv"), pool_class(pool, strides=strides, padding=padding, name="pool"),
                     input_shape=(7, 8, 2), seed=5)
    tr = explain.trace(net, random_image((7, 8, 2), 5))
    x, out = tr.values["conv"], tr.values["pool"]
    for i, j, ch in np.ndindex(out.shape):
        c = explain.explain_cell(tr, tr.node("pool"), (i, j, ch))
        rows, cols, ks = c.positions.T
        assert (ks == ch).all() and not c.padded.any()
        assert ((rows >= 0) & (rows < 7) & (cols >= 0) & (cols < 8)).all()  # padding is never a term
        assert np.array_equal(c.inputs, x[rows, cols, ch])
        if pool_class is layers.MaxPool2D:
            assert c.pre_activation == c.value == float(out[i, j, ch]) == c.inputs[c.winner] == c.inputs.max()
            assert c.winner == int(np.argmax(c.inputs)) and c.weights is None
        else:
            assert np.allclose(c.weights, 1 / len(c.inputs)) and close_to_float32(c, out[i, j, ch])


def test_dense_cells_and_the_softmax():
    net = sequential(layers.Conv2D(3, 2, name="conv"), layers.Flatten(name="flat"),
                     layers.Dense(5, activation="relu", bias_initializer="random_normal", name="hidden"),
                     layers.Dense(4, activation="softmax", bias_initializer="random_normal", name="probs"),
                     input_shape=(5, 5, 1), seed=6)
    tr = explain.trace(net, random_image((5, 5, 1), 6))
    hidden = net.get_layer("hidden")
    pre = tr.values["flat"] @ hidden.kernel.data + hidden.bias.data
    for u in range(5):
        c = explain.explain_cell(tr, tr.node("hidden"), u)
        assert c.kind == "dense" and len(c.terms) == 48 and close_to_float32(c, pre[u])
        assert c.value == pytest.approx(max(pre[u], 0), abs=1e-6)
    logits = [explain.explain_cell(tr, tr.node("probs"), (u,)).pre_activation for u in range(4)]
    softmax = np.exp(logits) / np.exp(logits).sum()
    assert np.allclose(softmax, tr.values["probs"], rtol=1e-5)
    assert np.allclose(tr.output, net.predict(random_image((5, 5, 1), 6)[None], verbose=0)[0], atol=1e-6)
    flat = explain.explain_cell(tr, tr.node("flat"), (17,))  # channels-last in a (4, 4, 3) map: 17 = (1·4 + 1)·3 + 2
    assert flat.positions.tolist() == [[1, 1, 2]] and flat.value == tr.values["conv"][1, 1, 2]


def small_resnet(seed=7):
    ft.set_seed(seed)
    inputs = layers.Input((10, 9, 3), name="image")
    x = layers.Rescaling(1 / 255, name="rescaling")(inputs)
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="stem")(x)
    x = layers.BatchNormalization(name="bn")(x)
    h = layers.Conv2D(6, 3, padding="same", dilation_rate=2, name="dilated")(x)
    h = layers.ReLU(name="relu")(h)
    x = layers.Add(name="add")([x, h])
    x = layers.AveragePooling2D(2, padding="same", name="avg")(x)
    x = layers.Dropout(0.5, name="drop")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(4, activation="softmax", name="probs")(x)
    model = models.Model(inputs, outputs, name="small_resnet")
    rng = np.random.default_rng(seed)
    model.get_layer("bn").set_weights([rng.random(6) + 0.5, rng.random(6), rng.random(6), rng.random(6) + 0.5])
    return model


def test_functional_model_cells_read_whatever_layer_precedes_them():
    model = small_resnet()
    image = np.random.default_rng(1).integers(0, 256, (10, 9, 3)).astype(np.uint8)
    tr = explain.trace(model, image)
    assert [n.key for n in tr.nodes] == ["rescaling", "stem", "bn", "dilated", "relu", "add", "avg", "drop", "gap",
                                         "probs"]
    assert np.allclose(tr.output, model.predict(image[None], verbose=0)[0], atol=1e-6)
    assert all("call" not in vars(layer) for layer in model.layers)
    rng = np.random.default_rng(2)
    for node in tr.nodes:
        out = tr.values[node.key]
        for _ in range(4):
            pos = tuple(int(rng.integers(0, n)) for n in out.shape)
            c = explain.explain_cell(tr, node, pos)
            assert c.value == float(out[pos])
            if c.products is None:  # relu, dropout: one input, passed on or cut at 0
                assert c.value == (max(c.inputs[0], 0) if c.activation == "relu" else c.inputs[0])
            elif c.activation == "linear":  # conv, BN, rescaling, average pooling, add: the sum is the value
                assert close_to_float32(c, c.value), (node.key, pos)
            elif c.activation == "relu":
                assert close_to_float32(c, c.value) or (c.value == 0 and c.pre_activation <= 0)
            else:
                assert node.key == "probs" and c.activation == "softmax"
    bn = explain.explain_cell(tr, tr.node("bn"), (1, 2, 3))
    layer = model.get_layer("bn")
    gamma, beta, mean, var = layer.get_weights()
    x = tr.values["stem"][1, 2, 3]
    assert bn.inputs[0] == x and bn.pre_activation == pytest.approx(
        gamma[3] * (x - mean[3]) / np.sqrt(var[3] + layer.epsilon) + beta[3], rel=1e-6)
    add = explain.explain_cell(tr, tr.node("add"), (1, 1, 1))
    assert add.inputs.tolist() == [tr.values["bn"][1, 1, 1], tr.values["relu"][1, 1, 1]]
    dilated = explain.explain_cell(tr, tr.node("dilated"), (0, 0, 0))
    assert dilated.padded.sum() == 6 * 5  # 'same' with d=2 pads 2 on each side: 5 of 9 taps in the padding
    assert set(dilated.positions[~dilated.padded][:, :2].ravel().tolist()) <= {0, 2}


def test_cell_api_arguments_and_errors():
    net = sequential(layers.Conv2D(2, 3, name="conv"), layers.ZeroPadding2D(1, name="zpad"), input_shape=(5, 5, 1))
    image = random_image((5, 5, 1))
    by_name = explain.cell(net, image, "conv", (1, 2, 1))
    assert explain.cell(net, image, net.layers[0], (1, 2, 1)).value == by_name.value
    assert explain.cell(net, image[None], 0, (1, 2, 1)).value == by_name.value
    assert explain.cell(net, image[:, :, 0], 0, (1, 2, 1)).value == by_name.value
    with pytest.raises(ValueError, match=r"outside layer 'conv'.s output of shape \(3, 3, 2\)"):
        explain.cell(net, image, "conv", (3, 0, 0))
    with pytest.raises(ValueError, match="a cell is 3 ints"):
        explain.cell(net, image, "conv", (1, 2))
    with pytest.raises(ValueError, match="no cell formula for layer 'zpad'"):
        explain.cell(net, image, "zpad", (0, 0, 0))
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        explain.cell(net, image, "nope", (0, 0, 0))
    with pytest.raises(ValueError, match="input shape"):
        explain.cell(net, random_image((6, 5, 1)), "conv", (0, 0, 0))

    class Subclassed(models.Model):
        def __init__(self):
            super().__init__()
            self.conv = layers.Conv2D(1, 3)

        def call(self, x, training=False):
            return self.conv(x)

    sub = Subclassed()
    sub.build((None, 5, 5, 1))
    sub.input_shape = (None, 5, 5, 1)
    with pytest.raises(ValueError, match="subclassed model"):
        explain.cell(sub, image, 0, (0, 0, 0))


def test_trace_calls_layers_without_replacing_their_call():
    # conv + max pooling is what a Sequential runs fused; the trace must see both layers' own outputs
    net = sequential(layers.Conv2D(3, 3, activation="relu", name="conv"), layers.MaxPool2D(2, name="pool"),
                     input_shape=(8, 8, 1))
    image = random_image((8, 8, 1))
    tr = explain.trace(net, image)
    assert all("call" not in vars(layer) for layer in net.layers)
    assert np.allclose(tr.values["pool"], net.predict(image[None], verbose=0)[0], atol=1e-6)
    assert tr.values["conv"].shape == (6, 6, 3) and (tr.values["conv"] >= 0).all()


# ----- saliency -----

def bilinear_half_pixel(a, height, width):
    """Resizing written out: output pixel centre (i + 0.5)·(n/N) - 0.5, clamped, linear between neighbours."""
    def axis(n, size):
        src = (np.arange(size) + 0.5) * (n / size) - 0.5
        lo = np.clip(np.floor(src), 0, n - 1).astype(int)
        hi = np.clip(np.ceil(src), 0, n - 1).astype(int)
        return lo, hi, src - np.floor(src)
    r0, r1, fr = axis(a.shape[0], height)
    c0, c1, fc = axis(a.shape[1], width)
    rows = a[r0] + (a[r1] - a[r0]) * fr[:, None]
    return rows[:, c0] + (rows[:, c1] - rows[:, c0]) * fc[None, :]


@pytest.mark.parametrize("strides", [1, 2])
def test_grad_cam_by_hand_on_a_linear_head(strides):
    """Conv -> Flatten -> Dense: dy_c/dA is the Dense column of class c in the map's shape, so
    Grad-CAM = relu(sum_k mean(W_c[:, :, k]) · A[:, :, k]), resized to the image, over its maximum."""
    net = sequential(layers.Conv2D(3, 3, strides=strides, padding="same", bias_initializer="random_normal",
                                   name="conv"),
                     layers.Flatten(), layers.Dense(4, name="scores"), input_shape=(6, 6, 2), seed=8)
    image = random_image((6, 6, 2), 8)
    tr = explain.trace(net, image)
    A = tr.values["conv"].astype(np.float64)
    W = net.get_layer("scores").kernel.data.astype(np.float64)
    for c in range(4):
        alpha = W[:, c].reshape(A.shape).mean(axis=(0, 1))
        cam = np.maximum(np.tensordot(A, alpha, axes=([2], [0])), 0)
        cam = bilinear_half_pixel(cam, 6, 6)
        expected = cam / cam.max() if cam.max() > 0 else cam
        got = explain.grad_cam(net, image, class_index=c)
        assert got.shape == (6, 6) and got.min() >= 0 and got.max() <= 1
        assert np.allclose(got, expected, atol=1e-5), c
    assert np.array_equal(explain.grad_cam(net, image), explain.grad_cam(net, image, int(np.argmax(tr.output))))
    assert all(w.grad is None for w in net.weights)  # the user's gradients are left alone


def test_grad_cam_differentiates_the_logit_through_relu_and_pooling():
    """A deeper head, in float64: the gradient Grad-CAM averages equals central finite differences of
    the logit, and a softmax at the end changes nothing (Grad-CAM explains the logit)."""
    ft.set_seed(9)
    stack = [layers.Conv2D(3, 3, padding="same", activation="relu", dtype="float64", name="conv"),
             layers.MaxPool2D(2, dtype="float64"), layers.Conv2D(2, 2, activation="relu", dtype="float64", name="last"),
             layers.Flatten(dtype="float64"), layers.Dense(3, dtype="float64", name="scores")]
    net = models.Sequential([layers.Input((8, 8, 1), dtype="float64"), *stack])
    image = np.random.default_rng(9).standard_normal((8, 8, 1))
    tr = Trace(net, image)
    A = tr.values["last"]

    def logit(a, c):
        x = a[None]
        for layer in net.layers[3:]:
            x = layer(x)
        return x.numpy()[0, c]
    shown = 0
    for c in range(3):
        numeric = np.zeros_like(A)
        for idx in np.ndindex(A.shape):
            step = np.zeros_like(A)
            step[idx] = 1e-6
            numeric[idx] = (logit(A + step, c) - logit(A - step, c)) / 2e-6
        assert np.allclose(tr.gradient("last", c), numeric, atol=1e-6)
        cam = bilinear_half_pixel(np.maximum(A @ numeric.mean(axis=(0, 1)), 0), 8, 8)
        expected = cam / cam.max() if cam.max() > 0 else cam
        assert np.allclose(explain.grad_cam(net, image, c), expected, atol=1e-6)
        shown += cam.max() > 0
    assert shown >= 1  # at least one class whose map is not all zeros

    copies = [type(layer).from_config(layer.get_config()) for layer in stack[:-1]]
    with_softmax = models.Sequential([layers.Input((8, 8, 1), dtype="float64"), *copies,
                                      layers.Dense(3, activation="softmax", dtype="float64")])
    with_softmax.set_weights(net.get_weights())
    assert np.allclose(explain.grad_cam(with_softmax, image, 1), explain.grad_cam(net, image, 1), atol=1e-12)
    assert np.allclose(explain.input_gradient(with_softmax, image, 2), explain.input_gradient(net, image, 2),
                       atol=1e-12)


def test_input_gradient_by_hand():
    net = sequential(layers.Rescaling(0.5), layers.Flatten(), layers.Dense(3, name="scores"),
                     input_shape=(3, 4, 2), seed=10)
    image = np.random.default_rng(10).integers(0, 256, (3, 4, 2)).astype(np.uint8)
    W = net.get_layer("scores").kernel.data
    for c in range(3):
        assert np.allclose(explain.input_gradient(net, image, c), 0.5 * W[:, c].reshape(3, 4, 2), atol=1e-7)


def test_saliency_errors():
    net = sequential(layers.Flatten(), layers.Dense(3), input_shape=(4, 4, 1))
    with pytest.raises(ValueError, match="no Conv2D layer for Grad-CAM"):
        explain.grad_cam(net, random_image((4, 4, 1)))
    with pytest.raises(ValueError, match="within the model's 3 classes"):
        explain.input_gradient(net, random_image((4, 4, 1)), class_index=3)
    maps = sequential(layers.Conv2D(2, 3), input_shape=(5, 5, 1))
    with pytest.raises(ValueError, match="not a vector of class scores"):
        explain.grad_cam(maps, random_image((5, 5, 1)))


# ----- the page -----

def page_data(path):
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S)
    return text, json.loads(found[1])


def test_page_is_self_contained(tmp_path):
    model = small_resnet()
    image = np.random.default_rng(1).integers(0, 256, (10, 9, 3)).astype(np.uint8)
    path = viz.explain(model, image, tmp_path / "page", class_names=["a", "b</script><b>", "c", "d"])
    text, data = page_data(path)
    assert path == tmp_path / "page" / "index.html"
    assert not re.search(r"https?:|//cdn|<link|\bsrc=|\bimport\(|fetch\(|XMLHttpRequest", text)
    assert text.count("</script>") == 2 and "b\\u003c/script>\\u003cb>" in text  # names cannot end the script
    (example,) = data["examples"]
    assert [e["key"] for e in example["layers"]] == ["image"] + [n.key for n in explain.trace(model, image).nodes]
    assert example["prediction"]["classes"][1] == "b</script><b>"
    assert example["prediction"]["predicted"] == int(np.argmax(model.predict(image[None], verbose=0)[0]))
    assert example["saliency"]["layer"] == "dilated" and len(example["saliency"]["items"]) == 4
    stem = next(e for e in example["layers"] if e["key"] == "stem")
    assert stem["conv"]["dense_params"] == 10 * 9 * 3 * 5 * 5 * 6 + 5 * 5 * 6 and stem["params"] == 3 * 3 * 3 * 6 + 6
    # the embedded numbers are the trace's, bit for bit
    values = np.frombuffer(base64.b64decode(stem["data"]), "<f4").reshape(5, 5, 6)
    assert np.array_equal(values, explain.trace(model, image).values["stem"])


def test_page_stays_bounded_for_big_layers(tmp_path):
    net = sequential(layers.Conv2D(64, 3, padding="same", activation="relu", name="wide"),
                     layers.Conv2D(64, 3, padding="same", name="wide2"), layers.GlobalAveragePooling2D(),
                     layers.Dense(600, name="units"), layers.Dense(10, activation="softmax"),
                     input_shape=(64, 64, 3), seed=11)
    path = explain.explain_model(net, random_image((64, 64, 3), 11), tmp_path)
    text, data = page_data(path)
    notes = data["examples"][0]["notes"]
    assert notes[:2] == ["wide: the first 16 of 64 channels are in this page",
                         "wide2: the first 16 of 64 channels are in this page"]
    assert "units: the terms of the first 256 of 600 units are in this page" in notes
    assert len(text) < 3_000_000


def test_explain_model_checks_its_arguments(tmp_path):
    net = sequential(layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3, activation="softmax"),
                     input_shape=(5, 5, 1))
    with pytest.raises(ValueError, match="class_names has 2 names; the model has 3 outputs"):
        viz.explain(net, random_image((5, 5, 1)), tmp_path / "a", class_names=["x", "y"])
    with pytest.raises(ValueError, match="max_maps must be a positive int"):
        viz.explain(net, random_image((5, 5, 1)), tmp_path / "b", max_maps=0)
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        viz.explain(net, random_image((5, 5, 1)), tmp_path / "c", layer="nope")
    with pytest.raises(ValueError, match="Grad-CAM needs a layer with \\(h, w, C\\) output"):
        viz.explain(net, random_image((5, 5, 1)), tmp_path / "d", layer=2)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file; the page needs a folder"):
        viz.explain(net, random_image((5, 5, 1)), tmp_path / "file")


def test_page_of_a_model_without_conv_layers(tmp_path):
    net = sequential(layers.Flatten(), layers.Dense(3, activation="softmax"), input_shape=(4, 4, 1))
    _, data = page_data(viz.explain(net, random_image((4, 4, 1)), tmp_path))
    (example,) = data["examples"]
    assert example["notes"][0].startswith("Grad-CAM: model") and "has no Conv2D layer" in example["notes"][0]
    assert example["saliency"]["layer"] is None
    assert all("grad_cam" not in item and "input_gradient" in item for item in example["saliency"]["items"])


@pytest.fixture(scope="module")
def shapes_model(tmp_path_factory):
    """`faltung train --dataset shapes --epochs 1 --limit 300`: a LeNet trained for a few steps."""
    folder = tmp_path_factory.mktemp("explain")
    out = folder / "m.faltung"
    assert main(["train", "--dataset", "shapes", "--epochs", "1", "--limit", "300", "--verbose", "0",
                 "--out", str(out)]) == 0
    return out


def test_cli_writes_the_page(shapes_model, tmp_path, capsys):
    out = tmp_path / "explained"
    assert main(["explain", str(shapes_model), "--index", "3", "--out", str(out), "--class", "cross"]) == 0
    line = capsys.readouterr().out.strip()
    wrote = re.escape(str(out / "index.html"))
    assert re.fullmatch(rf"wrote {wrote} \(\d+ KiB in [\d.]+ s\); open it in a browser", line)
    text, data = page_data(out / "index.html")
    (example,) = data["examples"]
    assert "test image 3 of shapes (true class:" in example["title"]
    model = models.load_model(shapes_model)
    names = model.metadata["class_names"]
    assert example["prediction"]["classes"] == names
    assert example["saliency"]["chosen"] == names.index("cross")
    assert [e["key"] for e in example["layers"][1:]] == [l.name for l in model.layers]


def test_cli_reads_an_image_file(shapes_model, tmp_path, capsys):
    image = np.zeros((28, 28, 1), np.uint8)
    image[4:24, 6] = image[23, 6:24] = 255          # a lower-left corner, drawn by hand
    np.save(tmp_path / "corner.npy", image)
    assert main(["explain", str(shapes_model), str(tmp_path / "corner.npy"), "--invert", "--max-maps", "4",
                 "--out", str(tmp_path / "page")]) == 0
    text, data = page_data(tmp_path / "page" / "index.html")
    (example,) = data["examples"]
    assert example["title"].endswith("on corner.npy") and example["max_maps"] == 4
    shown = np.frombuffer(base64.b64decode(example["layers"][0]["data"]), "<f4").reshape(28, 28, 1)
    assert np.array_equal(shown, 255 - image)        # --invert: the page shows what the model saw
    assert main(["explain", str(shapes_model), str(tmp_path / "missing.png")]) == 1
    assert "missing.png: no such file" in capsys.readouterr().err


def test_cli_lecture_and_usage_errors(shapes_model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["explain", "--lecture"]) == 0
    text, data = page_data(tmp_path / "lecture-explain" / "index.html")
    assert [e["layers"][1]["key"] for e in data["examples"]] == ["example2", "corner"]
    assert "Example 2" in data["examples"][0]["title"]
    capsys.readouterr()
    for args in (["explain"], ["explain", "--lecture", str(shapes_model)]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
    assert main(["explain", str(shapes_model), "--class", "no-such-class"]) == 1
    assert "--class must be a class index 0..9 or one of vertical line," in capsys.readouterr().err
    assert main(["explain", str(shapes_model), "--index", "100000"]) == 1
    assert "--index must be within the" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["explain", "--lecture", "--max-maps", "0"])
    assert info.value.code == 2 and "expected a positive integer up to 256; got 0" in capsys.readouterr().err
    (tmp_path / "taken").write_text("a file, not a folder")
    assert main(["explain", str(tmp_path / "missing.faltung"), "--out", str(tmp_path / "taken")]) == 1
    assert "--out " in (err := capsys.readouterr().err) and "is a file; expected a folder" in err  # before loading
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    assert info.value.code == 0


# ----- in a real browser -----

def _browser(tmp_path):
    """Headless Chromium driven by selenium, with every network request refused (a page that needs
    the network fails visibly), logging the console and every request it makes."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("headless Chromium and chromedriver are not installed (Debian: apt-get install chromium "
                    "chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(dir=tmp_path)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _last_number(text):
    return float(re.search(rf"({NUMBER})\s*$", text)[1])


def _check_page(browser, path, models_by_example, images, shots, prefix):
    """Open the page, click every layer, hover cells and compare the formulas with explain.cell.
    Returns how many cells were compared."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    browser.get(path.as_uri())
    browser.save_screenshot(str(shots / f"{prefix}-overview.png"))
    traces = {}
    compared = 0
    for number, row in enumerate(browser.find_elements(By.CSS_SELECTOR, ".layer")):
        key = row.get_attribute("data-key")
        example = row.find_element(By.XPATH, "./ancestor::section[@class='example']")
        index = browser.find_elements(By.CSS_SELECTOR, "section.example").index(example)
        model, image = models_by_example[index], images[index]
        tr = traces.setdefault(index, explain.trace(model, image))
        browser.execute_script("arguments[0].scrollIntoView()", row)
        row.click()
        title = browser.find_element(By.ID, "detail-title").text
        assert title.split(" · ")[0] == ("input" if key == tr.input_key else key)
        # the first, a middle and the last drawn cell (asking the page for 3 elements, not all of them)
        cells = browser.execute_script(
            "var c = document.querySelectorAll('#detail-body .cell[data-layer=\"' + arguments[0] + '\"]');"
            "return c.length ? [c[0], c[Math.floor(c.length / 2)], c[c.length - 1]] : [];", key)
        assert cells, f"layer {key}: no output cells drawn"
        for cell in cells:
            ActionChains(browser, duration=0).move_to_element(cell).perform()  # no 250 ms pointer glide
            text = browser.find_element(By.ID, "formula").text
            i, j, c = (int(cell.get_attribute(f"data-{a}")) for a in "ijc")
            shape = tr.values[key].shape
            position = (c,) if len(shape) == 1 else (i, j, c)
            if key == tr.input_key:
                expected = float(tr.values[key][position])
            else:
                explained = explain.explain_cell(tr, tr.node(key), position)
                expected = explained.value
                if explained.kind == "conv" and len(explained.terms) <= 36:
                    # every term x·f of the formula is explain.cell's, in its order
                    pairs = re.findall(rf"\(?({NUMBER})\)?·\(?({NUMBER})\)?", text.split(" = ", 2)[2])
                    assert len(pairs) == len(explained.terms), text
                    for (x, w), term in zip(pairs, explained.terms):
                        assert float(x) == pytest.approx(term.input, rel=1e-3, abs=1e-12)
                        assert float(w) == pytest.approx(term.weight, rel=1e-3, abs=1e-12)
            assert text.startswith(("z[", "x[")), text
            assert _last_number(text) == pytest.approx(expected, rel=2e-5, abs=1e-6), (key, position, text)
            compared += 1
        if "conv" in browser.find_element(By.ID, "detail-title").text.lower():
            browser.save_screenshot(str(shots / f"{prefix}-{number}.png"))
    return compared


def _console_errors(browser):
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def _requests(browser):
    """The URLs that documents opened from file:// asked for (the browser's own start page is not ours)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent" and \
                message["params"].get("documentURL", "").startswith("file:"):
            urls.append(message["params"]["request"]["url"])
    return urls


def test_pages_in_headless_chromium(shapes_model, tmp_path):
    browser = _browser(tmp_path)
    shots = tmp_path / "shots"
    shots.mkdir()
    try:
        model = models.load_model(shapes_model)
        image = ft.datasets.shapes.load_data(n_train=0)[1][0][5][..., None]   # test image 5, as the CLI reads it
        assert main(["explain", str(shapes_model), "--index", "5", "--out", str(tmp_path / "lenet")]) == 0
        compared = _check_page(browser, tmp_path / "lenet" / "index.html", [model], [image], shots, "lenet")
        from selenium.webdriver.common.by import By
        predicted = model.metadata["class_names"][int(np.argmax(model.predict(image[None], verbose=0)))]
        assert browser.find_element(By.ID, "prediction").text.startswith(f"Predicted class: {predicted} (")
        assert len(browser.find_elements(By.CSS_SELECTOR, ".saliency canvas")) == 3

        functional = small_resnet()
        rgb = np.random.default_rng(1).integers(0, 256, (10, 9, 3)).astype(np.uint8)
        viz.explain(functional, rgb, tmp_path / "functional", class_names=list("abcd"))
        compared += _check_page(browser, tmp_path / "functional" / "index.html", [functional], [rgb], shots, "resnet")

        assert main(["explain", "--lecture", "--out", str(tmp_path / "lecture")]) == 0
        lecture_nets = [m for _, m, _ in explain.lecture.lecture_examples()]
        lecture_images = [img for _, _, img in explain.lecture.lecture_examples()]
        compared += _check_page(browser, tmp_path / "lecture" / "index.html", lecture_nets, lecture_images, shots,
                                "lecture")
        # a deep link opens a layer with one cell explained: the lecture's c[1,1] = -28
        browser.get((tmp_path / "lecture" / "index.html").as_uri() + "#layer=example2&cell=1,1")
        assert browser.find_element(By.ID, "formula").text == \
            "z[1,1,0] = Σ x·f = 1·1 + 4·(-1) + (-2)·2 + 7·(-3) = -28"

        assert compared == 3 * (9 + 11 + 4)
        assert _console_errors(browser) == []
        urls = _requests(browser)
        # the pages themselves, and nothing else: no script, style, font or data from anywhere
        assert urls and all(u.startswith("file:") and u.split("#")[0].endswith("/index.html") for u in urls), urls
    finally:
        browser.quit()
    from PIL import Image
    with Image.open(shots / "lenet-overview.png") as shot:
        assert shot.size[0] >= 1000
        low, high = shot.convert("L").getextrema()
    assert low < 80 < 200 < high  # maps and text, not a blank page
    assert len(list(shots.glob("*.png"))) == 3 + 2 + 2 + 2   # each overview and each conv layer's detail
