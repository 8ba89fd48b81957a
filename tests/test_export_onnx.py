"""ONNX export: every inference-time layer, run by ONNX Runtime, matches ``model.predict`` to 1e-5.

The ONNX tests skip cleanly where ``onnx`` or ``onnxruntime`` is missing (CI installs both);
the argument checks that need neither always run.
"""
import functools
import os
import sys

import numpy as np
import pytest

import faltung as ft
import faltung.functional as F
from conftest import random_geometry, tf_same_pads
from faltung import layers, models
from faltung.cli import main

TOL = 1e-5
BATCHES = (1, 5)


@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def ort(onnx):
    ort = pytest.importorskip("onnxruntime")
    return ort


def seq(shape, *stack, name=None):
    return models.Sequential([layers.Input(shape, name="image"), *stack], name=name)


# ----- the table: every exportable layer, each padding form, layouts mixed on purpose -----

def conv_pool_chain():
    return seq((12, 11, 3), layers.Conv2D(4, 3, activation="relu"), layers.MaxPool2D(2),
               layers.Conv2D(5, (2, 3), activation="tanh"), layers.AveragePooling2D(2),
               layers.Flatten(), layers.Dense(3, activation="softmax"))


def same_stride2(h, w):
    return lambda: seq((h, w, 2), layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                       layers.Conv2D(3, (4, 2), strides=(2, 3), padding="same"), layers.Flatten(), layers.Dense(4))


def explicit_padding():
    return seq((7, 8, 2), layers.Conv2D(3, 3, padding=1), layers.Conv2D(4, (3, 2), strides=2, padding=((2, 0), (1, 3))),
               layers.ZeroPadding2D(((1, 2), (0, 1))), layers.Conv2D(2, 2), layers.ZeroPadding2D(1),
               layers.GlobalAveragePooling2D())


def dilation():
    return seq((11, 14, 2), layers.Conv2D(3, 3, dilation_rate=2, padding="same", activation="elu"),
               layers.Conv2D(4, (2, 3), dilation_rate=(2, 1), strides=2, padding="same"),
               layers.Conv2D(2, 3, dilation_rate=(1, 3)), layers.Flatten(), layers.Dense(3))


def pools_same_border():
    return seq((9, 8, 3), layers.AveragePooling2D(3, strides=1, padding="same"),
               layers.AveragePooling2D(3, strides=2, padding="same"), layers.MaxPool2D(3, strides=2, padding="same"),
               layers.AveragePooling2D((2, 3), padding="same"), layers.MaxPool2D((1, 2), padding="same"),
               layers.Flatten())


def global_pools():
    x = layers.Input((6, 7, 4), name="image")
    conv = layers.Conv2D(4, 3)(x)
    pooled = [layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(conv),
              layers.Flatten()(layers.GlobalAveragePooling2D(keepdims=True)(conv)),
              layers.Flatten()(layers.GlobalMaxPooling2D(keepdims=True)(x))]
    return models.Model(x, layers.Dense(2)(layers.Concatenate()(pooled)))


def activations():
    names = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "linear",
             functools.partial(F.gelu, approximate=True), functools.partial(F.leaky_relu, negative_slope=0.05)]
    return seq((6, 6, 2), *[layers.Conv2D(3, 3, padding="same", activation=a) for a in names],
               layers.Conv2D(4, 1, activation="softmax"), layers.Conv2D(4, 1, activation="log_softmax"),
               layers.Flatten(), layers.Dense(5, activation="log_softmax"))


def relu_and_softmax_layers():
    return seq((5, 5, 3), layers.Conv2D(4, 3, padding="same"), layers.ReLU(max_value=0.5), layers.Conv2D(4, 1),
               layers.ReLU(negative_slope=0.1), layers.Conv2D(4, 1),
               layers.ReLU(max_value=1.0, negative_slope=0.3, threshold=0.2), layers.Activation("sigmoid"),
               layers.Softmax(axis=1), layers.Conv2D(3, 1), layers.Softmax(), layers.Flatten(), layers.Dense(6),
               layers.Activation("gelu"), layers.ReLU(threshold=-0.1), layers.Softmax())


def batchnorm_dropout():
    return seq((6, 6, 3), layers.BatchNormalization(), layers.Conv2D(4, 3, use_bias=False),
               layers.BatchNormalization(), layers.ReLU(), layers.Dropout(0.3), layers.Flatten(), layers.Dense(8),
               layers.BatchNormalization(center=False), layers.Dropout(0.5), layers.Reshape((2, 4)),
               layers.BatchNormalization(scale=False), layers.Flatten(), layers.Dense(2), layers.Dropout(0.1))


def reshape_rescaling_augmentation():
    return seq((10, 9, 2), layers.Rescaling(1 / 255, offset=-0.5), layers.RandomFlip(),
               layers.RandomTranslation(0.1, 0.1), layers.RandomCrop(7, 6), layers.Conv2D(3, 3),
               layers.RandomCrop(3, 2), layers.Reshape((-1, 3)), layers.Dense(4), layers.Reshape((3, 2, 4)),
               layers.Rescaling(2.0), layers.Conv2D(2, (2, 1)), layers.Flatten(), layers.Dense(2))


def residual_concat():
    inputs = layers.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    y = layers.Add()([x, y])
    z = layers.Concatenate()([y, inputs])  # an NCHW conv output joins the NHWC input
    z = layers.Add()([layers.Conv2D(7, 1)(z), z, z])
    z = layers.Concatenate(axis=1)([z, layers.ZeroPadding2D(((0, 0), (0, 0)))(z)])  # along the height
    z = layers.MaxPool2D(2)(z)
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalMaxPooling2D()(z))
    return models.Model(inputs, outputs)


def multi_input_output():
    left, right = layers.Input((6, 6, 1), name="left"), layers.Input((6, 6, 1), name="right")
    shared = layers.Conv2D(3, 3, name="shared_conv")
    a, b = shared(left), shared(right)  # one layer called twice: its weights are stored once
    head_a = layers.Dense(2, name="head_a")(layers.Flatten()(layers.Add()([a, b])))
    head_b = layers.GlobalAveragePooling2D(name="head_b")(b)
    return models.Model([left, right], [head_a, head_b])


def nested():
    backbone = models.Sequential([layers.Conv2D(4, 3, padding="same", activation="relu"), layers.MaxPool2D(2),
                                  layers.Conv2D(4, 3, padding="same")], name="backbone")
    inputs = layers.Input((8, 8, 2), name="image")
    x = backbone(inputs)
    inner_in = layers.Input((4, 4, 4))
    block = models.Model(inner_in, layers.Add()([inner_in, layers.Conv2D(4, 1)(inner_in)]), name="block")
    x = block(x)
    outputs = layers.Dense(3)(layers.GlobalAveragePooling2D()(x))
    return models.Sequential([layers.Input((8, 8, 2), name="image"), models.Model(inputs, outputs, name="net"),
                              layers.Softmax()], name="outer")


def dense_on_images():
    return seq((5, 4, 3), layers.Conv2D(3, 2), layers.Dense(4, activation="relu"), layers.Conv2D(2, 2),
               layers.GlobalAveragePooling2D(keepdims=True))


def conv_output():
    return seq((7, 7, 2), layers.Conv2D(3, 3, strides=2, padding="same"))


def identity_only():
    return seq((4, 4, 2), layers.RandomFlip(), layers.Dropout(0.2))


MODELS = {
    "conv_pool_chain": conv_pool_chain,
    "same_stride2_odd": same_stride2(9, 11),
    "same_stride2_even": same_stride2(8, 10),
    "explicit_padding": explicit_padding,
    "dilation": dilation,
    "pools_same_border": pools_same_border,
    "global_pools": global_pools,
    "activations": activations,
    "relu_and_softmax_layers": relu_and_softmax_layers,
    "batchnorm_dropout": batchnorm_dropout,
    "reshape_rescaling_augmentation": reshape_rescaling_augmentation,
    "residual_concat": residual_concat,
    "multi_input_output": multi_input_output,
    "nested": nested,
    "dense_on_images": dense_on_images,
    "conv_output": conv_output,
    "identity_only": identity_only,
}


def randomize(model, rng):
    """Random values for every weight: biases, BN shifts and statistics too (their initial values are
    trivial). Kernels are scaled by 1/sqrt(fan-in) so activations stay near 1 through deep stacks,
    where float32's 1e-5 absolute tolerance means something."""
    for w in model.weights:
        shape = w.data.shape
        if w.name.endswith("moving_variance"):
            w.data[...] = rng.uniform(0.5, 2.0, shape)
        elif len(shape) > 1:
            w.data[...] = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            w.data[...] = rng.normal(0, 0.5, shape)


def train(model, rng):
    """A few real optimizer steps (BN statistics move, biases leave zero) on random data."""
    ins = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    x = [rng.normal(size=(24,) + tuple(s[1:])).astype(np.float32) for s in ins]
    outputs = model._graph[1] if getattr(model, "_graph", None) else None
    view = models.Model(model._graph[0], outputs[0]) if outputs and len(outputs) > 1 else model
    y = rng.normal(size=(24,) + tuple(view.output_shape[1:])).astype(np.float32)
    view.compile(optimizer=ft.optimizers.Adam(learning_rate=0.01), loss="mse")
    before = [w.data.copy() for w in view.trainable_weights]
    view.fit(x if len(x) > 1 else x[0], y, batch_size=8, epochs=2, verbose=0)
    assert any(not np.array_equal(a, w.data) for a, w in zip(before, view.trainable_weights))


def inputs_for(model, n, rng):
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    return [rng.normal(size=(n,) + tuple(s[1:])).astype(np.float32) for s in shapes]


def max_difference(model, path, ort, rng):
    """Largest |ONNX Runtime - predict| over random batches of each size in BATCHES."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in BATCHES:
        xs = inputs_for(model, n, rng)
        feed = {i.name: x for i, x in zip(session.get_inputs(), xs)}
        got = session.run(None, feed)
        want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        want = want if isinstance(want, list) else [want]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == np.float32
            worst = max(worst, float(np.abs(g - w).max()))
    return worst


@pytest.mark.parametrize("weights", ["random", "trained"])
@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_runtime_matches_predict(name, weights, ort, tmp_path):
    rng = np.random.default_rng(sum(map(ord, name + weights)))
    ft.set_seed(1)
    model = MODELS[name]()
    if weights == "random":
        randomize(model, rng)
    elif model.trainable_weights:
        train(model, rng)
    else:
        pytest.skip(f"{name} has no weights to train")
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    assert max_difference(model, path, ort, rng) <= TOL


def test_random_conv_and_pool_geometries_match(ort, tmp_path):
    """Random kernels, strides, dilations, sizes and every padding form (the conv tests' generator)."""
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 12:
        g = random_geometry(rng, max_size=12)
        conv = layers.Conv2D(2, g["kernel"], strides=g["strides"], padding=g["padding"], dilation_rate=g["dilation"])
        pool_padding = "same" if isinstance(g["padding"], str) and g["padding"] == "same" else "valid"
        pool = (layers.AveragePooling2D if checked % 2 else layers.MaxPool2D)(
            g["kernel"], strides=g["strides"], padding=pool_padding)
        try:
            model = seq((*g["hw"], 3), conv, pool)
        except ValueError:  # an empty output: faltung refuses it, as Keras does
            continue
        randomize(model, rng)
        path = tmp_path / f"g{checked}.onnx"
        model.export(path)
        assert max_difference(model, path, ort, rng) <= TOL, g
        checked += 1


# ----- the file itself -----

def test_file_passes_checker_with_opset_names_and_dynamic_batch(onnx, tmp_path):
    model = MODELS["same_stride2_odd"]()
    path = tmp_path / "net.onnx"
    model.export(path, format="onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == [model.layers[-1].name]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [9, 11, 2]  # NHWC, as predict
    out_dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert out_dims[0].dim_param == "batch" and out_dims[1].dim_value == 4


def test_newer_opset_on_request(onnx, ort, tmp_path):
    model = MODELS["conv_pool_chain"]()
    path = tmp_path / "net.onnx"
    model.export(path, opset=18)
    assert onnx.load(str(path)).opset_import[0].version == 18
    assert max_difference(model, path, ort, np.random.default_rng(0)) <= TOL


def test_multi_io_names_are_layer_names(onnx, tmp_path):
    model = MODELS["multi_input_output"]()
    path = tmp_path / "net.onnx"
    model.export(path)
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["left", "right"]
    assert [o.name for o in proto.graph.output] == ["head_a", "head_b"]
    # the shared conv's kernel and bias are stored once
    assert sum(init.name.startswith("shared_conv/") for init in proto.graph.initializer) == 2


def _nodes(onnx, path, op_type):
    return [n for n in onnx.load(str(path)).graph.node if n.op_type == op_type]


def _attrs(onnx, node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.parametrize("hw", [(9, 11), (8, 10)])
def test_same_stride2_becomes_tensorflows_explicit_pads(hw, onnx, tmp_path):
    model = same_stride2(*hw)()
    path = tmp_path / "net.onnx"
    model.export(path)
    convs = [_attrs(onnx, n) for n in _nodes(onnx, path, "Conv")]
    assert len(convs) == 2 and all("auto_pad" not in c for c in convs)
    (top, bottom), (left, right) = (tf_same_pads(n, 3, 2) for n in hw)
    assert convs[0]["pads"] == [top, left, bottom, right]  # ONNX: all begins, then all ends
    h2, w2 = -(-hw[0] // 2), -(-hw[1] // 2)
    (top, bottom), (left, right) = tf_same_pads(h2, 4, 2), tf_same_pads(w2, 2, 3)
    assert convs[1]["pads"] == [top, left, bottom, right] and convs[1]["strides"] == [2, 3]
    assert hw != (8, 10) or convs[0]["pads"] == [0, 0, 1, 1]  # even sizes: the pixel goes only after


def test_same_average_pool_divides_by_real_cells(onnx, ort, tmp_path):
    model = seq((5, 6, 1), layers.AveragePooling2D(3, strides=1, padding="same"))
    path = tmp_path / "net.onnx"
    model.export(path)
    (node,) = _nodes(onnx, path, "AveragePool")
    assert _attrs(onnx, node)["count_include_pad"] == 0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"image": np.ones((2, 5, 6, 1), np.float32)})
    np.testing.assert_allclose(out, 1.0, atol=1e-7)  # counting pads would give 4/9 in the corners


def test_same_max_pool_pads_never_win(ort, tmp_path):
    model = seq((5, 5, 2), layers.MaxPool2D(2, padding="same"))
    path = tmp_path / "net.onnx"
    model.export(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"image": -np.ones((1, 5, 5, 2), np.float32)})
    assert out.shape == (1, 3, 3, 2) and (out == -1).all()


def test_a_run_of_nchw_ops_costs_one_transpose_in_and_one_out(onnx, tmp_path):
    model = seq((12, 12, 1), layers.Conv2D(4, 3, padding="same", activation="relu"), layers.BatchNormalization(),
                layers.MaxPool2D(2), layers.Conv2D(8, 3, activation="relu"), layers.AveragePooling2D(2),
                layers.Dropout(0.5), layers.Flatten(), layers.Dense(3, activation="softmax"))
    path = tmp_path / "net.onnx"
    model.export(path)
    assert len(_nodes(onnx, path, "Transpose")) == 2
    assert not _nodes(onnx, path, "Dropout") and not _nodes(onnx, path, "Identity")


def test_unknown_spatial_size(ort, tmp_path):
    model = seq((None, None, 2), layers.Conv2D(3, 3, padding="same", activation="relu"),
                layers.MaxPool2D(3, strides=1, padding="same"), layers.GlobalAveragePooling2D())
    randomize(model, np.random.default_rng(3))
    path = tmp_path / "net.onnx"
    model.export(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for hw in ((7, 9), (4, 4)):
        x = np.random.default_rng(1).normal(size=(3, *hw, 2)).astype(np.float32)
        assert np.abs(session.run(None, {"image": x})[0] - model.predict(x, verbose=0)).max() <= TOL
    strided = seq((None, None, 2), layers.Conv2D(3, 3, strides=2, padding="same", name="strided"))
    with pytest.raises(ValueError, match="strided.*stride 2.*known input height"):
        strided.export(tmp_path / "strided.onnx")
    assert not (tmp_path / "strided.onnx").exists()


# ----- errors before anything is written -----

class Doubler(layers.Layer):
    def call(self, x, training=False):
        return x * 2


class Subclassed(models.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2)

    def call(self, x, training=False):
        return self.dense(x)


def test_unexportable_layer_is_named_and_nothing_is_written(onnx, tmp_path):
    path = tmp_path / "net.onnx"
    path.write_bytes(b"the previous export")
    model = seq((4, 4, 1), layers.Conv2D(2, 3), Doubler(name="doubler"), layers.Flatten())
    with pytest.raises(ValueError, match="'doubler' of class Doubler cannot be exported"):
        model.export(path)
    assert path.read_bytes() == b"the previous export" and os.listdir(tmp_path) == ["net.onnx"]
    lam = seq((4,), layers.Dense(2, activation=lambda x: x * 2, name="odd_dense"))
    with pytest.raises(ValueError, match="'odd_dense'.*cannot be exported"):
        lam.export(tmp_path / "lam.onnx")
    inner = seq((6, 6, 1), models.Sequential([layers.Conv2D(2, 3), Doubler(name="deep")], name="inner"))
    with pytest.raises(ValueError, match="'inner/deep'"):
        inner.export(tmp_path / "inner.onnx")
    subclassed = Subclassed()
    subclassed(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="subclassed"):
        subclassed.export(tmp_path / "sub.onnx")
    with pytest.raises(ValueError, match="not built"):
        models.Sequential([layers.Dense(2)]).export(tmp_path / "unbuilt.onnx")
    assert os.listdir(tmp_path) == ["net.onnx"]


def test_bad_format_and_opset(onnx, tmp_path):
    model = conv_output()
    for opset in (16, "17", True):
        with pytest.raises(ValueError, match=f"opset must be an int from 17.*got {opset!r}"):
            model.export(tmp_path / "net.onnx", opset=opset)
    assert not (tmp_path / "net.onnx").exists()


def test_unknown_format_needs_no_onnx(tmp_path):
    with pytest.raises(ValueError, match="format must be one of 'onnx'; got 'tflite'"):
        conv_output().export(tmp_path / "net.tflite", format="tflite")


def test_missing_onnx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails, as where it is not installed
    with pytest.raises(RuntimeError, match="pip install onnx"):
        conv_output().export(tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()


# ----- the command -----

def test_cli_export(ort, tmp_path, capsys):
    model = MODELS["residual_concat"]()
    randomize(model, np.random.default_rng(5))
    saved, out = tmp_path / "net.faltung", tmp_path / "net.onnx"
    model.save(saved)
    assert main(["export", str(saved), str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    assert max_difference(model, out, ort, np.random.default_rng(6)) <= TOL
    assert main(["export", str(saved), str(tmp_path / "net.txt")]) == 1
    assert main(["export", str(tmp_path / "absent.faltung"), str(tmp_path / "b.onnx")]) == 1
    err = capsys.readouterr().err
    assert "must end in .onnx" in err and "absent.faltung" in err and not (tmp_path / "b.onnx").exists()
    with pytest.raises(SystemExit) as info:
        main(["export", "--help"])
    assert info.value.code == 0 and "OUT.onnx" in capsys.readouterr().out
