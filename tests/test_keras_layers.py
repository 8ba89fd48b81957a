"""Keras' other CNN layers against Keras 3 itself (torch backend), with copied weights: forward, input and
weight gradients on randomized shapes, strides and paddings; float64 finite differences; config and file
round trips; ONNX export run in ONNX Runtime."""
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import faltung as ft  # noqa: E402
from faltung import layers, models  # noqa: E402
from faltung.testing import compare_gradients  # noqa: E402
from faltung.autograd import Tensor  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":
    pytest.skip("these tests compare with Keras on its torch backend", allow_module_level=True)


def _pair(rng, low, high):
    return (int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1)))


def _conv_geometry(rng, allow_dilation=True):
    kernel = _pair(rng, 1, 4)
    strides = _pair(rng, 1, 3)
    dilation = _pair(rng, 1, 2) if allow_dilation and strides == (1, 1) else (1, 1)  # Keras refuses both > 1
    return dict(kernel_size=kernel, strides=strides, padding=str(rng.choice(["valid", "same"])),
                dilation_rate=dilation)


def image_shape(rng, channels=None, low=6, high=11):
    return (2, int(rng.integers(low, high)), int(rng.integers(low, high)), channels or int(rng.integers(1, 4)))


# Each case: (class name, rng -> (keyword arguments shared by faltung and Keras, input shapes)).
def depthwise(rng):
    return dict(**_conv_geometry(rng), depth_multiplier=int(rng.integers(1, 3))), [image_shape(rng)]


def separable(rng):
    return dict(filters=int(rng.integers(1, 4)), **_conv_geometry(rng), depth_multiplier=int(rng.integers(1, 3)),
                activation="relu"), [image_shape(rng)]


def transpose(rng):
    geometry = _conv_geometry(rng)
    kwargs = dict(filters=int(rng.integers(1, 4)), **geometry)
    if geometry["padding"] == "valid" and rng.random() < 0.5:
        kwargs["output_padding"] = tuple(int(rng.integers(0, s)) for s in geometry["strides"])
    return kwargs, [image_shape(rng, low=2, high=6)]


def conv1d(rng):
    strides = int(rng.integers(1, 3))
    return dict(filters=int(rng.integers(1, 4)), kernel_size=int(rng.integers(1, 5)), strides=strides,
                padding=str(rng.choice(["valid", "same", "causal"])),
                dilation_rate=int(rng.integers(1, 3)) if strides == 1 else 1), [(2, int(rng.integers(8, 13)), 3)]


CASES = {
    "DepthwiseConv2D": depthwise,
    "SeparableConv2D": separable,
    "Conv2DTranspose": transpose,
    "Conv1D": conv1d,
    "MaxPooling1D": lambda rng: (dict(pool_size=int(rng.integers(1, 4)), strides=[None, 1, 2][rng.integers(3)],
                                      padding=str(rng.choice(["valid", "same"]))), [(2, 9, 3)]),
    "GlobalAveragePooling1D": lambda rng: (dict(keepdims=bool(rng.integers(2))), [(2, 7, 3)]),
    "UpSampling2D": lambda rng: (dict(size=_pair(rng, 1, 3), interpolation=str(rng.choice(["nearest", "bilinear"]))),
                                 [image_shape(rng, low=3, high=6)]),
    "Cropping2D": lambda rng: (dict(cropping=(_pair(rng, 0, 2), _pair(rng, 0, 2))), [image_shape(rng)]),
    "LeakyReLU": lambda rng: (dict(negative_slope=float(rng.uniform(0, 0.5))), [image_shape(rng)]),
    "PReLU": lambda rng: (dict(shared_axes=[None, [1, 2]][rng.integers(2)]), [image_shape(rng)]),
    "ELU": lambda rng: (dict(alpha=float(rng.uniform(0.5, 2))), [image_shape(rng)]),
    "SpatialDropout2D": lambda rng: (dict(rate=0.3), [image_shape(rng)]),
    "LayerNormalization": lambda rng: (dict(axis=[-1, [1, 2, 3], [2, 3]][rng.integers(3)]), [image_shape(rng)]),
    "GroupNormalization": lambda rng: (dict(groups=int(rng.choice([1, 2, 3, 6]))), [image_shape(rng, channels=6)]),
    "Multiply": lambda rng: ({}, [image_shape(rng, 2, 4, 5)] * int(rng.integers(2, 4))),
    "Average": lambda rng: ({}, [image_shape(rng, 2, 4, 5)] * int(rng.integers(2, 4))),
    "Maximum": lambda rng: ({}, [image_shape(rng, 2, 4, 5)] * int(rng.integers(2, 4))),
    "Subtract": lambda rng: ({}, [image_shape(rng, 2, 4, 5)] * 2),
    "Resizing": lambda rng: (dict(height=int(rng.integers(3, 12)), width=int(rng.integers(3, 12)),
                                  interpolation=str(rng.choice(["nearest", "bilinear"])),
                                  crop_to_aspect_ratio=bool(rng.integers(2))), [image_shape(rng)]),
    "CenterCrop": lambda rng: (dict(height=int(rng.integers(3, 12)), width=int(rng.integers(3, 12))),
                               [image_shape(rng)]),
    "RandomRotation": lambda rng: (dict(factor=0.2), [image_shape(rng)]),
    "RandomZoom": lambda rng: (dict(height_factor=0.2), [image_shape(rng)]),
    "RandomContrast": lambda rng: (dict(factor=0.3), [image_shape(rng)]),
    "RandomBrightness": lambda rng: (dict(factor=0.3), [image_shape(rng)]),
}
SEEDS = (0, 1, 2)


def make_pair(name, kwargs, shapes):
    """The faltung layer and the Keras layer of one case, built, with the same random weights."""
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    shape = [(None,) + s[1:] for s in shapes] if len(shapes) > 1 else (None,) + shapes[0][1:]
    theirs.build(shape)
    ours._ensure_built([tuple(s) for s in shapes] if len(shapes) > 1 else tuple(shapes[0]))
    rng = np.random.default_rng(7)
    weights = [rng.standard_normal(np.shape(w)).astype(np.float32) * 0.5 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def run_keras(layer, xs, grad):
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    y = layer(ts if len(ts) > 1 else ts[0], training=False)
    y.backward(torch.tensor(grad))
    return (y.detach().numpy(), [t.grad.numpy() for t in ts],
            [v.value.grad.numpy() for v in layer.trainable_weights])


def run_ours(layer, xs, grad):
    ts = [Tensor(x, requires_grad=True) for x in xs]
    for w in layer.trainable_weights:
        w.grad = None
    y = layer(ts if len(ts) > 1 else ts[0], training=False)
    y.backward(grad)
    return y.numpy(), [t.grad for t in ts], [w.grad for w in layer.trainable_weights]


def close(ours, theirs, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs Keras {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max(initial=0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-5 * scale, err_msg=what)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_gradients_match_keras(name, seed):
    rng = np.random.default_rng(seed)
    kwargs, shapes = CASES[name](rng)
    ours, theirs = make_pair(name, kwargs, shapes)
    scale = 100.0 if name.startswith("Random") else 1.0  # pixel values, so clipping to (0, 255) can show
    xs = [(rng.standard_normal(s) * scale + (100 if scale > 1 else 0)).astype(np.float32) for s in shapes]
    y_keras = theirs(xs if len(xs) > 1 else xs[0], training=False)
    grad = rng.standard_normal(tuple(y_keras.shape)).astype(np.float32)
    (y1, gx1, gw1), (y2, gx2, gw2) = run_ours(ours, xs, grad), run_keras(theirs, xs, grad)
    context = f"{name}({kwargs}) on {shapes}"
    close(y1, y2, f"output of {context}")
    assert ours.compute_output_shape((None,) + shapes[0][1:] if len(shapes) == 1 else
                                     [(None,) + s[1:] for s in shapes])[1:] == y1.shape[1:]
    for i, (a, b) in enumerate(zip(gx1, gx2)):
        close(a, b, f"input gradient {i} of {context}")
    assert len(gw1) == len(gw2)
    for w, a, b in zip(ours.trainable_weights, gw1, gw2):
        close(a, b, f"gradient of {w.name} in {context}")


def _fd_check(layer, xs, training=False, eps=1e-6):
    """Float64 central differences for every input and weight entry against backward()."""
    rng = np.random.default_rng(3)
    params = layer.trainable_weights
    y = layer([Tensor(x, requires_grad=True) for x in xs] if len(xs) > 1 else Tensor(xs[0], requires_grad=True))
    r = rng.standard_normal(y.shape)
    ts = [Tensor(x, requires_grad=True) for x in xs]
    for p in params:
        p.grad = None
    (layer(ts if len(ts) > 1 else ts[0], training=training) * r).sum().backward()
    analytic = [t.grad for t in ts] + [p.grad for p in params]
    arrays = xs + [p.data for p in params]

    def value():
        return float((layer([Tensor(x) for x in xs] if len(xs) > 1 else Tensor(xs[0]), training=training).data
                      * r).sum())
    compare_gradients(arrays, analytic, value, eps, 1e-6, 1e-5, type(layer).__name__ + " array")


@pytest.mark.parametrize("name", sorted(n for n in CASES if not n.startswith("Random") and n != "SpatialDropout2D"))
def test_float64_finite_differences(name):
    rng = np.random.default_rng(11)
    kwargs, shapes = CASES[name](rng)
    shapes = [(1,) + tuple(min(d, 6) for d in s[1:]) for s in shapes]
    layer = getattr(layers, name)(**kwargs, dtype="float64")
    layer._ensure_built([tuple(s) for s in shapes] if len(shapes) > 1 else tuple(shapes[0]))
    for w in layer.weights:
        w.data[...] = rng.standard_normal(w.data.shape) * 0.5 + (1 if w.data.ndim == 0 else 0)
    xs = [rng.standard_normal(s) for s in shapes]
    _fd_check(layer, xs)


@pytest.mark.parametrize("name", ["RandomRotation", "RandomZoom"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "nearest", "constant"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_geometric_augmentation_matches_keras_transform(name, fill_mode, interpolation):
    """With the same per-image angle or zoom, our transform equals Keras' transform_images."""
    rng = np.random.default_rng(5)
    x = (rng.random((3, 7, 9, 2)) * 255).astype(np.float32)
    kwargs = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=17.0)
    if name == "RandomRotation":
        ours, theirs = layers.RandomRotation(0.3, **kwargs), keras.layers.RandomRotation(0.3, **kwargs)
        params = theirs.get_random_transformation(x, training=True)
        expected = theirs.transform_images(x, params, training=True)
        got = ours.transform(x, np.asarray(params["angle"]) * np.pi / 180)
    else:
        ours, theirs = (layers.RandomZoom(0.4, 0.3, **kwargs), keras.layers.RandomZoom(0.4, 0.3, **kwargs))
        params = theirs.get_random_transformation(x, training=True)
        expected = theirs.transform_images(x, params, training=True)
        got = ours.transform(x, np.asarray(params["height_zoom"])[:, 0], np.asarray(params["width_zoom"])[:, 0])
    np.testing.assert_allclose(got.numpy(), np.asarray(expected), atol=2e-3)


def test_photometric_augmentation_matches_keras_transform():
    rng = np.random.default_rng(6)
    x = (rng.random((3, 5, 4, 3)) * 255).astype(np.float32)
    theirs = keras.layers.RandomContrast(0.5)
    params = theirs.get_random_transformation(x, training=True)
    np.testing.assert_allclose(layers.RandomContrast(0.5).transform(x, np.asarray(params["contrast_factor"])).numpy(),
                               theirs.transform_images(torch.tensor(x), params, training=True).numpy(), rtol=1e-5, atol=1e-3)
    theirs = keras.layers.RandomBrightness(0.4)
    params = theirs.get_random_transformation(x, training=True)
    np.testing.assert_allclose(layers.RandomBrightness(0.4).transform(x, np.asarray(params["rgb_delta"])).numpy(),
                               theirs.transform_images(torch.tensor(x), params, training=True).numpy(), atol=1e-3)


def test_random_layers_draw_within_keras_ranges_and_only_while_training():
    ft.set_seed(0)
    x = np.full((64, 5, 5, 1), 100.0, np.float32)
    x[:, 2, 2] = 200.0
    bright = layers.RandomBrightness((0.1, 0.2), value_range=(0, 1000))(x, training=True).numpy()
    deltas = bright[:, 0, 0, 0] - 100
    assert 100 - 1e-3 <= deltas.min() and deltas.max() <= 200 + 1e-3 and deltas.std() > 10
    contrast = layers.RandomContrast(0.5, value_range=(0, 1000))(x, training=True).numpy()
    mean = x[0].mean()
    factors = (contrast[:, 2, 2, 0] - mean) / (200 - mean)
    assert factors.min() >= 1 - 1e-4 and factors.max() <= 1.5 + 1e-4  # Keras 3: a number f gives [1, 1 + f]
    for layer in (layers.RandomRotation(0.5), layers.RandomZoom(0.5), layers.RandomContrast(0.5),
                  layers.RandomBrightness(0.5), layers.SpatialDropout2D(0.5)):
        np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: untouched
    dropped = layers.SpatialDropout2D(0.5, seed=1)(np.ones((50, 3, 3, 4), np.float32), training=True).numpy()
    per_map = dropped.reshape(50, 9, 4)
    assert np.all(per_map.min(axis=1) == per_map.max(axis=1))  # whole maps kept or dropped
    assert set(np.unique(per_map)) == {0.0, 2.0}


def test_normalization_adapt_matches_keras():
    rng = np.random.default_rng(8)
    data = (rng.standard_normal((40, 4, 5, 3)) * [1, 5, 0.1] + [2, -1, 7]).astype(np.float32)
    for kwargs in ({}, {"axis": [-1]}, {"axis": [2, 3]}, {"invert": True}):
        ours, theirs = layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
        ours.adapt(data)
        theirs.adapt(data)
        np.testing.assert_allclose(ours(data[:5]).numpy(), np.asarray(theirs(data[:5])), rtol=1e-4, atol=1e-4)
    given = dict(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    np.testing.assert_allclose(layers.Normalization(**given)(data[:2]).numpy(),
                               np.asarray(keras.layers.Normalization(**given)(data[:2])), rtol=1e-5, atol=1e-5)


def _model(name, kwargs, shapes):
    if len(shapes) == 1:
        return models.Sequential([layers.Input(shapes[0][1:]), getattr(layers, name)(**kwargs)])
    inputs = [layers.Input(s[1:]) for s in shapes]
    return models.Model(inputs, getattr(layers, name)(**kwargs)(inputs))


def _inputs(rng, shapes):
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return xs if len(xs) > 1 else xs[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_and_file_round_trip(name, tmp_path):
    rng = np.random.default_rng(4)
    kwargs, shapes = CASES[name](rng)
    model = _model(name, kwargs, shapes)
    layer = model.layers[-1]
    for w in layer.weights:
        w.data[...] = rng.standard_normal(w.data.shape)
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()
    x = _inputs(rng, shapes)
    model.save(tmp_path / "m.faltung")
    again = models.load_model(tmp_path / "m.faltung")
    assert type(again.layers[-1]) is type(layer)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_export_runs_in_onnx_runtime(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    rng = np.random.default_rng(9)
    kwargs, shapes = CASES[name](rng)
    model = _model(name, kwargs, shapes)
    for w in model.layers[-1].weights:
        w.data[...] = rng.standard_normal(w.data.shape) * 0.5 + (1 if w.data.ndim == 0 else 0)
    x = _inputs(rng, shapes)
    model.export(tmp_path / "m.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    feeds = dict(zip([i.name for i in session.get_inputs()], x if isinstance(x, list) else [x]))
    (got,) = session.run(None, feeds)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_lambda_works_in_code_and_is_refused_in_files(tmp_path):
    model = models.Sequential([layers.Input((4,)), layers.Lambda(lambda x, k: x * k, arguments={"k": 3.0}),
                               layers.Dense(2)])
    x = np.ones((2, 4), np.float32)
    assert model.layers[0].output_shape == (None, 4)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.layers[1](x * 3.0).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="Lambda layer .* faltung never saves code"):
        model.save(tmp_path / "lambda.faltung")
    assert not (tmp_path / "lambda.faltung").exists()
    with pytest.raises(ValueError, match="Lambda layer is arbitrary Python code"):
        model.export(tmp_path / "lambda.onnx", format="onnx")
    # a file that names Lambda (hand-made: faltung never writes one) is refused with the reason
    plain = models.Sequential([layers.Input((4,)), layers.Dense(2, name="d")])
    plain.save(tmp_path / "plain.faltung")
    import zipfile
    with zipfile.ZipFile(tmp_path / "plain.faltung") as z:
        files = {n: z.read(n) for n in z.namelist()}
    doc = json.loads(files["config.json"])
    doc["config"]["layers"].insert(0, {"class_name": "Lambda", "config": {"function": "evil", "name": "l"}})
    files["config.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "evil.faltung", "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    with pytest.raises(ValueError, match="refusing to load a Lambda layer"):
        models.load_model(tmp_path / "evil.faltung")


def test_bad_arguments_name_what_was_received():
    with pytest.raises(ValueError, match="data_format must be None or 'channels_last'; got 'channels_first'"):
        layers.DepthwiseConv2D(3, data_format="channels_first")
    with pytest.raises(ValueError, match="output_padding must be smaller than the stride"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="groups=4 must divide the 6 channels"):
        layers.GroupNormalization(4)(np.zeros((1, 2, 2, 6), np.float32))
    with pytest.raises(ValueError, match="padding must be 'valid', 'same' or 'causal'; got 'full'"):
        layers.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="nothing is left"):
        layers.Cropping2D(3)(np.zeros((1, 5, 5, 1), np.float32))
