"""Keras' files in and out (faltung.models.keras_format), against Keras 3 itself on its torch backend.

Keras trains and saves a CNN (Conv2D with 'same' padding and stride, BatchNormalization, pooling, Add,
Dropout, Dense) as .keras, .weights.h5 and legacy .h5; faltung loads each and predicts the same
numbers, continues training from Keras' optimizer state, and writes .keras and .weights.h5 files that
Keras loads with the same predictions. Hostile files are refused with a ValueError naming the file.
"""
import io
import json
import os
import pathlib
import re
import sys
import zipfile
import zlib

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import faltung as ft  # noqa: E402
from faltung import datasets, layers, models, saving  # noqa: E402
from faltung.cli import main  # noqa: E402
from faltung.models.keras_format import layout  # noqa: E402

keras = pytest.importorskip("keras")
pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")
if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on its torch backend", allow_module_level=True)

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def keras_cnn(dropout=0.25):
    """The CNN the tests train in Keras: every kind of layer the issue names, on 28x28 grey images."""
    L = keras.layers
    inputs = keras.Input((28, 28, 1), name="image")
    x = L.Rescaling(1 / 255)(inputs)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.BatchNormalization()(x)
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 3, padding="same")(y)
    x = L.Add()([x, y])
    x = L.MaxPooling2D(2)(x)
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dropout(dropout)(x)
    outputs = L.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs)


def faltung_cnn():
    """The same architecture written in faltung (its layers get faltung's own default names)."""
    inputs = layers.Input((28, 28, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(8, 3, padding="same")(y)
    x = layers.Add()([x, y])
    x = layers.MaxPooling2D(2)(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Dropout(0.25)(layers.Flatten()(x))
    return models.Model(inputs, layers.Dense(10, activation="softmax")(x))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CNN trained in Keras for 16 steps of Adam on shapes, saved in every format Keras has."""
    folder = tmp_path_factory.mktemp("keras")
    (x, y), (x_test, _) = datasets.shapes.load_data(n_train=256, n_test=16)
    keras.utils.set_random_seed(0)
    model = keras_cnn()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[..., None], y, batch_size=32, epochs=2, verbose=0)
    files = {"keras": folder / "cnn.keras", "weights": folder / "cnn.weights.h5", "h5": folder / "cnn.h5",
             "legacy_weights": folder / "cnn-legacy-weights.h5"}
    model.save(files["keras"])
    model.save_weights(files["weights"])
    model.save(files["h5"])
    from keras.src.legacy.saving import legacy_h5_format  # what TF 2's model.save_weights("x.h5") wrote
    with h5py.File(files["legacy_weights"], "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    images = x_test[..., None]
    return dict(model=model, files=files, images=images, expected=model.predict(images, verbose=0),
                x=x[..., None], y=y)


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# ----- 1. reading what Keras wrote -----

@pytest.mark.parametrize("kind", ["keras", "h5"])
def test_a_keras_trained_model_predicts_the_same_in_faltung(trained, kind):
    path = trained["files"][kind]
    for model in (models.load_model(path), saving.load_model(str(path))):
        assert [l.name for l in model.layers][-1] == "probabilities"
        close(model.predict(trained["images"], verbose=0), trained["expected"])
        assert model.compiled and isinstance(model.optimizer, ft.optimizers.Adam)
        assert model.optimizer.learning_rate == pytest.approx(3e-3)
        assert type(model.loss).__name__ == "SparseCategoricalCrossentropy"
        assert [type(m).__name__ for m in model._metrics] == ["SparseCategoricalAccuracy"]
    keras_optimizer = trained["model"].optimizer
    if kind == "keras":  # Keras 3 keeps the optimizer's variables: faltung takes them over
        assert model.optimizer.iterations == int(keras_optimizer.iterations.numpy()) == 16
        state = model.optimizer.get_state(model.trainable_weights)
        kernel = model.get_layer("probabilities").kernel
        position = [id(w) for w in model.trainable_weights].index(id(kernel))
        theirs = {v.path: v.numpy() for v in keras_optimizer.variables}
        np.testing.assert_array_equal(state[f"momentum/{position}"], theirs["adam/probabilities_kernel_momentum"])
        np.testing.assert_array_equal(state[f"velocity/{position}"], theirs["adam/probabilities_kernel_velocity"])
    else:  # the legacy layout names TensorFlow's variables: the optimizer starts afresh
        assert model.optimizer.iterations == 0


@pytest.mark.parametrize("kind", ["weights", "legacy_weights", "keras", "h5"])
def test_keras_weights_fill_a_faltung_model_built_in_code(trained, kind):
    model = faltung_cnn()
    assert model.get_layer(index=-1).name != "probabilities"  # no names to match: Keras' paths do it
    model.load_weights(trained["files"][kind])
    close(model.predict(trained["images"], verbose=0), trained["expected"])


def test_keras_and_faltung_order_a_branching_graph_alike():
    """Keras 3 files address weights by class and position in ``model.layers``, which Keras orders
    by depth in the graph, not by creation."""
    def build(L, Input, Model):
        inp = Input((8, 8, 3), name="in")
        a = L.Conv2D(2, 3, padding="same", name="c1")(inp)
        b = L.Conv2D(2, 3, padding="same", name="c3")(L.Conv2D(2, 1, name="c2")(inp))
        c = L.Conv2D(2, 1, name="c4")(L.MaxPooling2D(1, name="p")(inp))
        x = L.Concatenate(name="cat")([a, b, c])
        y = L.Add(name="add")([a, L.Conv2D(2, 1, name="c5")(x)])
        return Model(inp, [y, L.Dense(3, name="d")(L.Flatten(name="f")(x))])
    ours, theirs = build(layers, layers.Input, models.Model), build(keras.layers, keras.Input, keras.Model)
    assert [l.name for l in layout.layer_order(ours)] == [l.name for l in theirs.layers]
    assert [l.name for l in ours.layers] != [l.name for l in theirs.layers]  # faltung's own order differs


# ----- 2. writing what Keras reads -----

def test_faltung_writes_keras_files_that_keras_loads_with_the_same_predictions(trained, tmp_path):
    model = models.load_model(trained["files"]["keras"])
    model.fit(trained["x"][:64], trained["y"][:64], batch_size=32, epochs=1, verbose=0)  # two more steps
    ours = model.predict(trained["images"], verbose=0)
    model.save(tmp_path / "tuned.keras")
    model.save_weights(tmp_path / "tuned.weights.h5")
    with zipfile.ZipFile(tmp_path / "tuned.keras") as z:  # Keras' layout, not faltung's zip
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    again = keras.saving.load_model(tmp_path / "tuned.keras")
    close(again.predict(trained["images"], verbose=0), ours)
    assert int(again.optimizer.iterations.numpy()) == model.optimizer.iterations == 18
    theirs = {v.path: v.numpy() for v in again.optimizer.variables}
    kernel = model.get_layer("probabilities").kernel
    position = [id(w) for w in model.trainable_weights].index(id(kernel))
    np.testing.assert_array_equal(theirs["adam/probabilities_kernel_velocity"],
                                  model.optimizer.get_state(model.trainable_weights)[f"velocity/{position}"])
    fresh = keras_cnn()
    fresh.load_weights(tmp_path / "tuned.weights.h5")
    close(fresh.predict(trained["images"], verbose=0), ours)


def test_fine_tuning_in_faltung_continues_keras_training(trained):
    """Two more Adam steps in faltung from the file give Keras' own next two steps: the step count and
    every slot were taken over (dropout off in both, so that the steps are deterministic)."""
    theirs = keras.saving.load_model(trained["files"]["keras"])
    ours = models.load_model(trained["files"]["keras"])
    for model in (theirs, ours):
        next(l for l in model.layers if "dropout" in l.name).rate = 0.0
    x, y = trained["x"][:32], trained["y"][:32]
    for _ in range(2):
        theirs.train_on_batch(x, y)
        ours.train_on_batch(x, y)
    for w, v in zip(ours.get_layer("probabilities").get_weights(), theirs.get_layer("probabilities").get_weights()):
        np.testing.assert_allclose(w, v, rtol=1e-4, atol=1e-6)
    close(ours.predict(trained["images"], verbose=0), theirs.predict(trained["images"], verbose=0))


def _every_layer(L, Input, Model):
    """A graph with every layer faltung implements (but RandomCrop, whose inference Keras and faltung
    define differently), in Keras' and in faltung's spelling alike."""
    inp = Input((12, 12, 3))
    x = L.Rescaling(1 / 255)(inp)
    for layer in (L.RandomFlip(), L.RandomTranslation(0.1, 0.1), L.RandomRotation(0.1), L.RandomZoom(0.1),
                  L.RandomContrast(0.1), L.RandomBrightness(0.1),
                  L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 0.5]), L.ZeroPadding2D(1),
                  L.Conv2D(4, 3, kernel_regularizer="l2"), L.DepthwiseConv2D(3, padding="same"),
                  L.SeparableConv2D(4, 3, padding="same"), L.Conv2DTranspose(4, 3, padding="same"),
                  L.BatchNormalization(), L.LayerNormalization(), L.GroupNormalization(2), L.LeakyReLU(),
                  L.PReLU(), L.ELU(), L.ReLU(), L.SpatialDropout2D(0.1), L.UpSampling2D(), L.Cropping2D(1),
                  L.Resizing(10, 10), L.CenterCrop(8, 8)):
        x = layer(x)
    a, b = L.MaxPooling2D()(x), L.AveragePooling2D(2)(x)
    x = L.Add()([L.Concatenate()([a, b]), L.Concatenate()([L.Multiply()([a, b]), L.Subtract()([a, b])])])
    r = L.GlobalAveragePooling1D()(L.MaxPooling1D()(L.Conv1D(3, 3)(L.Reshape((16, 8))(x))))
    merged = L.Concatenate()([L.GlobalAveragePooling2D()(x), L.GlobalMaxPooling2D()(x), r,
                              L.Flatten()(L.Average()([a, b])), L.Flatten()(L.Maximum()([a, b]))])
    out = L.Softmax()(L.Activation("tanh")(L.Dense(3)(L.Dropout(0.1)(merged))))
    return Model(inp, out)


def test_every_layer_travels_both_ways(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((3, 12, 12, 3)) * 255).astype(np.float32)
    theirs = _every_layer(keras.layers, keras.Input, keras.Model)
    theirs.set_weights([rng.standard_normal(np.shape(w)).astype(np.float32) * 0.3 + (np.ndim(w) == 1)
                        for w in theirs.get_weights()])
    theirs.save(tmp_path / "keras.keras")
    read = models.load_model(tmp_path / "keras.keras")
    close(read.predict(x, verbose=0), theirs.predict(x, verbose=0))
    ours = _every_layer(layers, layers.Input, models.Model)
    for w in ours.weights:
        w.data[...] = rng.standard_normal(w.data.shape) * 0.3 + (w.data.ndim == 1)
    ours.save(tmp_path / "faltung.keras")
    close(keras.saving.load_model(tmp_path / "faltung.keras").predict(x, verbose=0), ours.predict(x, verbose=0))


def test_nested_and_shared_layers_and_sequential_models_travel_both_ways(tmp_path):
    def build(L, Input, Model, Sequential):
        i = Input((4,))
        inner = Model(i, L.Dense(4, name="inner_dense")(i), name="inner")
        seq = Sequential([Input((4,)), L.Dense(4, name="seq_dense")], name="seq")
        a = Input((4,), name="a")
        shared = L.Dense(4, name="shared")
        x = inner(a)
        y = inner(shared(x))
        return Model(a, [shared(seq(y)), y])
    x = np.random.default_rng(1).random((2, 4)).astype(np.float32)
    theirs = build(keras.layers, keras.Input, keras.Model, keras.Sequential)
    theirs.save(tmp_path / "keras.keras")
    ours = models.load_model(tmp_path / "keras.keras")
    for a, b in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        close(a, b)
    ours.save(tmp_path / "faltung.keras")
    for a, b in zip(keras.saving.load_model(tmp_path / "faltung.keras").predict(x, verbose=0),
                    ours.predict(x, verbose=0)):
        close(a, b)
    stack = models.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(2)])
    stack.compile(ft.optimizers.RMSprop(momentum=0.5, centered=True), "mse")
    stack.fit(np.ones((4, 6, 6, 1), np.float32), np.ones((4, 2), np.float32), verbose=0)
    stack.save(tmp_path / "stack.keras")
    loaded = keras.saving.load_model(tmp_path / "stack.keras")
    assert type(loaded).__name__ == "Sequential" and type(loaded.optimizer).__name__ == "RMSprop"
    close(loaded.predict(np.ones((1, 6, 6, 1)), verbose=0), stack.predict(np.ones((1, 6, 6, 1)), verbose=0))
    back = models.load_model(tmp_path / "stack.keras")  # RMSprop's three groups of slots, in Keras' order
    for key, value in stack.optimizer.get_state(stack.trainable_weights).items():
        np.testing.assert_array_equal(back.optimizer.get_state(back.trainable_weights)[key], value)
    schedule = ft.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.5)
    stack.compile(ft.optimizers.Adam(schedule), "mse")  # a schedule: Keras keeps no learning-rate variable
    stack.fit(np.ones((4, 6, 6, 1), np.float32), np.ones((4, 2), np.float32), verbose=0)
    stack.save(tmp_path / "stack.keras")
    loaded = keras.saving.load_model(tmp_path / "stack.keras")
    assert type(loaded.optimizer._learning_rate).__name__ == "ExponentialDecay"
    assert int(loaded.optimizer.iterations.numpy()) == 1
    assert models.load_model(tmp_path / "stack.keras").optimizer.learning_rate == pytest.approx(0.01 * 0.5 ** 0.1)


def test_a_tf2_style_legacy_file_loads(trained, tmp_path):
    """TF 2 Keras wrote configs without modules, layer calls as [[name, node, tensor, kwargs]], input
    shapes as batch_input_shape and weight names with ':0'; Keras 3's legacy .h5 is rewritten so."""
    def tf2(value):
        if isinstance(value, list):
            return [tf2(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("class_name") == "DTypePolicy":
            return value["config"]["name"]
        value = {k: tf2(v) for k, v in value.items() if k not in ("module", "registered_name", "build_config")}
        if "inbound_nodes" in value:
            value["inbound_nodes"] = [[t["config"]["keras_history"] + [{}] for t in
                                       (n["args"][0] if isinstance(n["args"][0], list) else [n["args"][0]])]
                                      for n in value["inbound_nodes"]]
        if value.get("class_name") == "InputLayer":
            value["config"]["batch_input_shape"] = value["config"].pop("batch_shape")
        if value.get("class_name") == "BatchNormalization":
            value["config"]["axis"] = [3]
        if "input_layers" in value:
            value["input_layers"], value["output_layers"] = [value["input_layers"]], [value["output_layers"]]
        return value
    path = tmp_path / "tf2.h5"
    with h5py.File(trained["files"]["h5"]) as source, h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(tf2(json.loads(source.attrs["model_config"]))).encode()
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = source["model_weights"].attrs["layer_names"]
        for name in source["model_weights"].attrs["layer_names"]:
            group = weights.create_group(name)
            names = [f"{n}:0" for n in source["model_weights"][name].attrs["weight_names"]]
            group.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for n, old in zip(names, source["model_weights"][name].attrs["weight_names"]):
                group[n] = source["model_weights"][name][old][()]
        f.attrs["training_config"] = json.dumps({  # as TF 2.11 wrote it
            "loss": {"class_name": "SparseCategoricalCrossentropy",
                     "config": {"reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": False}},
            "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
                "name": "accuracy", "dtype": "float32", "fn": "sparse_categorical_accuracy"}}]],
            "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "learning_rate": 0.003, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                "epsilon": 1e-07, "amsgrad": False, "jit_compile": True, "is_legacy_optimizer": False}}}).encode()
    model = models.load_model(path)
    close(model.predict(trained["images"], verbose=0), trained["expected"])
    assert model.optimizer.learning_rate == 0.003 and model.loss.reduction == "sum_over_batch_size"
    assert [type(m).__name__ for m in model._metrics] == ["SparseCategoricalAccuracy"]
    with pytest.raises(ValueError, match=r"axis must be the last \(-1 or 3, channels last\); got 1"):
        models.Sequential([layers.Input((4, 4, 2)), layers.BatchNormalization(axis=1)])


# ----- 3. names: Keras' formats on request, faltung's by default -----

def test_file_names_choose_the_format_and_foreign_names_are_refused(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.save(tmp_path / "m.faltung")
    model.save(tmp_path / "m.ckpt")
    for name in ("m.faltung", "m.ckpt"):
        with zipfile.ZipFile(tmp_path / name) as z:
            assert "weights.npz" in z.namelist()
        models.load_model(tmp_path / name)
    for call, name in ((model.save, "m.h5"), (model.save, "m.weights.h5"), (model.save_weights, "m.keras"),
                       (model.save_weights, "m.h5")):
        with pytest.raises(ValueError, match=re.escape(name)):
            call(tmp_path / name)
        assert not (tmp_path / name).exists()


def test_without_h5py_the_error_says_what_to_install(tmp_path, monkeypatch):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails
    with pytest.raises(ImportError, match=r'needs h5py: pip install "faltung\[keras\]"'):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


# ----- 4. hostile files -----

def _keras_file(tmp_path, name="m.keras"):
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    model.save(tmp_path / name)
    with zipfile.ZipFile(tmp_path / name) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _edited(tmp_path, members, edit, name="edited.keras"):
    document = json.loads(members["config.json"])
    edit(document["config"]["layers"])
    return _write(tmp_path / name, {**members, "config.json": json.dumps(document).encode()})


def test_lambda_layers_and_custom_objects_are_refused_by_name(tmp_path):
    lam = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(2)])
    lam.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"lambda\.keras: .*Lambda layer is Python code"):
        models.load_model(tmp_path / "lambda.keras")
    members = _keras_file(tmp_path)
    cases = {
        "unknown": (lambda ls: ls[1].update(class_name="LSTM"), r"unknown layer 'LSTM'"),
        "custom": (lambda ls: ls[1].update(module="my_package.layers", registered_name="Custom>Conv2D"),
                   r"module 'my_package\.layers', not from Keras"),
        "registered": (lambda ls: ls[1].update(registered_name="Custom>Conv2D"), r"custom object 'Custom>Conv2D'"),
        "function": (lambda ls: ls[1]["config"].update(activation={"module": "__main__", "class_name": "function",
                                                                   "config": "evil", "registered_name": "function"}),
                     r"module '__main__', not from Keras"),
        "option": (lambda ls: ls[1]["config"].update(groups=2), r"Conv2D\(groups=2\) is not supported"),
    }
    for key, (edit, message) in cases.items():
        path = _edited(tmp_path, members, edit, f"{key}.keras")
        with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
            models.load_model(path)
    legacy = tmp_path / "lambda.h5"
    lam.save(legacy)
    with pytest.raises(ValueError, match=r"lambda\.h5: .*Lambda"):
        models.load_model(legacy)


def test_truncated_and_lying_zips_are_refused(tmp_path):
    from test_hostile_files import deflate_bomb, zip_bytes
    members = _keras_file(tmp_path)
    data = (tmp_path / "m.keras").read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.keras"):
        models.load_model(truncated)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "whole.h5")
    data = (tmp_path / "whole.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.h5: not a readable HDF5 file"):
        models.load_model(tmp_path / "truncated.h5")
    # model.weights.h5 declares 2,000 bytes and inflates to 4 MiB: refused after at most 2,000
    entries = [(n, d, zipfile.ZIP_STORED, zlib.crc32(d), len(d)) for n, d in members.items()
               if n != "model.weights.h5"]
    bomb = tmp_path / "bomb.keras"
    bomb.write_bytes(zip_bytes(entries + [("model.weights.h5", deflate_bomb(b"", 4), zipfile.ZIP_DEFLATED,
                                           0x1234, 2000)]))
    with pytest.raises(ValueError, match=r"bomb\.keras: model\.weights\.h5 (is damaged|holds)"):
        models.load_model(bomb)
    # a declared size far beyond what the model's weights need is refused unread
    huge = tmp_path / "huge.keras"
    huge.write_bytes(zip_bytes(entries + [("model.weights.h5", deflate_bomb(b"", 4), zipfile.ZIP_DEFLATED,
                                           0x1234, 64 * 2**20)]))
    with pytest.raises(ValueError, match=r"huge\.keras: model\.weights\.h5 claims 67,108,864 bytes, more than"):
        models.load_model(huge)


def _h5_bytes(build):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        build(f)
    return buffer.getvalue()


def test_hdf5_datasets_are_checked_before_they_are_read(tmp_path):
    members = _keras_file(tmp_path)
    with h5py.File(io.BytesIO(members["model.weights.h5"])) as f:
        arrays = {}
        f.visititems(lambda n, o: arrays.update({n: o[()]}) if isinstance(o, h5py.Dataset) else None)

    def variant(name, change):
        def build(f):
            for key, value in arrays.items():
                if key != "layers/conv2d/vars/0":
                    f[key] = value
            change(f, "layers/conv2d/vars/0")
        return _write(tmp_path / name, {**members, "model.weights.h5": _h5_bytes(build)})
    # 10^12 float32 numbers declared, nothing written: a few KB on disk, 4 TB if read
    absurd = variant("absurd.keras", lambda f, k: f.create_dataset(k, shape=(10**6, 10**6), dtype="f4",
                                                                   chunks=(1, 1000)))
    strings = variant("strings.keras", lambda f, k: f.create_dataset(k, data=np.array([b"x"] * 18).reshape(3, 3, 1, 2)))
    (tmp_path / "elsewhere.h5").write_bytes(_h5_bytes(lambda f: f.create_dataset("w", data=np.zeros((3, 3, 1, 2)))))
    linked = variant("linked.keras", lambda f, k: f.__setitem__(k, h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "w")))
    for path, message in ((absurd, r"layers/conv2d/vars/0 has shape \(1000000, 1000000\); the model needs \(3, 3, 1, 2\)"),
                          (strings, r"has dtype \|S1; expected a number"),
                          (linked, r"is a ExternalLink: faltung follows no links")):
        with pytest.raises(ValueError, match=re.escape(str(path)) + ": .*" + message):
            models.load_model(path)
    # a legacy file's config attribute is bounded like faltung's own config.json (4 MiB)
    oversized = tmp_path / "oversized.h5"
    with h5py.File(oversized, "w", libver="latest") as f:  # dense storage: attributes over 64 KiB
        f.attrs["model_config"] = np.bytes_(b" " * (5 * 2**20))
    with pytest.raises(ValueError, match=r"oversized\.h5: .*'model_config' claims 5,242,880 bytes, more than"):
        models.load_model(oversized)
    # and a config asking for an absurd layer is refused before anything is allocated
    big = _edited(tmp_path, members, lambda ls: ls[-1]["config"].update(units=10**12), "big.keras")
    with pytest.raises(ValueError, match=r"big\.keras: .*more than the limit"):
        models.load_model(big)


def test_hostile_keras_files_are_refused_fast_and_small(tmp_path):
    """Measured in a child process under an address-space limit, as faltung's own hostile files are."""
    from test_hostile_files import assert_refused_fast_and_small, deflate_bomb, load_in_child, zip_bytes
    members = _keras_file(tmp_path)
    entries = [(n, d, zipfile.ZIP_STORED, zlib.crc32(d), len(d)) for n, d in members.items()
               if n != "model.weights.h5"]
    bomb = tmp_path / "bomb.keras"
    bomb.write_bytes(zip_bytes(entries + [("model.weights.h5", deflate_bomb(b"", 512), zipfile.ZIP_DEFLATED,
                                           0x1234, 4000)]))
    absurd = _write(tmp_path / "absurd.keras", {**members, "model.weights.h5": _h5_bytes(
        lambda f: f.create_dataset("layers/conv2d/vars/0", shape=(10**6, 10**6), dtype="f4", chunks=(1, 1000)))})
    assert_refused_fast_and_small(load_in_child([bomb, absurd]), "model")


# ----- 5. the command line on a file Keras wrote -----

def test_the_commands_work_on_keras_files(trained, tmp_path, capsys):
    path = str(trained["files"]["keras"])
    assert main(["summary", path]) == 0
    assert "probabilities (Dense)" in capsys.readouterr().out
    assert main(["show", "filters", path, "--out", str(tmp_path / "filters.png")]) == 0
    assert (tmp_path / "filters.png").stat().st_size > 1000
    capsys.readouterr()
    # fine-tune on faltung's data: the file stays a Keras file, its optimizer continues Keras' steps
    tuned = tmp_path / "tuned.keras"
    code = main(["train", "--resume", str(trained["files"]["keras"]), "--out", str(tuned), "--dataset", "shapes",
                 "--limit", "64", "--epochs", "1", "--batch-size", "32", "--verbose", "0"])
    assert code == 0, capsys.readouterr().err
    again = keras.saving.load_model(tuned)
    assert int(again.optimizer.iterations.numpy()) == 18
    assert models.load_model(tuned).metadata["epochs_trained"] == 1


def test_the_readme_commands_on_a_keras_file_print_what_the_readme_shows(capsys, monkeypatch, tmp_path):
    text = README.read_text()
    match = re.search(r"```sh\n(faltung summary docs/\S+\.keras)\n```\n\n```text\n(.*?)```", text, flags=re.S)
    assert match, "the README shows `faltung summary docs/....keras` and its output"
    monkeypatch.chdir(README.parent)
    assert main(match.group(1).split()[1:]) == 0
    assert capsys.readouterr().out.strip() == match.group(2).strip()
    show = re.search(r"^faltung (show filters docs/\S+\.keras) --out (\S+)$", text, flags=re.M)
    assert show and (README.parent / show.group(2)).exists()
    assert main(show.group(1).split() + ["--out", str(tmp_path / "filters.png")]) == 0
    assert "(820x170 px)" in capsys.readouterr().out  # the picture the README shows, drawn again
