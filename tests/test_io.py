"""Saving and loading: exact round trips, exact resume, atomic writes, and refusal of bad files."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import faltung as ft
from faltung import layers, models


def small_cnn():
    return models.Sequential([
        layers.Input((8, 8, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.BatchNormalization(), layers.MaxPool2D(2), layers.Dropout(0.2), layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])


def residual():
    x = layers.Input((6, 6, 2))
    h = layers.Conv2D(2, 3, padding="same")(x)
    y = layers.Dense(2)(layers.GlobalAveragePooling2D()(layers.Add()([x, h])))
    return models.Model(x, y)


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 8, 8, 2)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("make", [small_cnn, residual])
def test_save_load_predict_is_bit_identical(make, tmp_path):
    ft.set_seed(0)
    model = make()
    x = np.random.default_rng(1).standard_normal((5,) + model.input_shape[1:]).astype(np.float32)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.zeros(5, int), epochs=1, verbose=0)
    path = tmp_path / "net.faltung"
    model.save(path)
    loaded = models.load_model(path)
    assert type(loaded) is type(model) and [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()
    assert loaded.metrics_names == model.metrics_names


def test_resumed_training_equals_uninterrupted(tmp_path):
    x, y = data()
    ft.set_seed(3)
    straight = small_cnn()
    straight.compile(ft.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    straight.fit(x, y, epochs=3, batch_size=8, verbose=0)

    ft.set_seed(3)
    first = small_cnn()
    first.compile(ft.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    first.fit(x, y, epochs=1, batch_size=8, verbose=0)
    first.save(tmp_path / "ckpt.faltung")
    resumed = models.load_model(tmp_path / "ckpt.faltung")  # draws nothing from the random stream
    resumed.fit(x, y, epochs=3, batch_size=8, initial_epoch=1, verbose=0)
    assert resumed.optimizer.iterations == straight.optimizer.iterations
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_weights_and_load_weights(tmp_path):
    ft.set_seed(0)
    a, b = small_cnn(), small_cnn()
    a.save_weights(tmp_path / "w.zip")
    b.load_weights(tmp_path / "w.zip")
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    other = models.Sequential([layers.Input((8, 8, 2)), layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match="weights do not fit the model"):
        other.load_weights(tmp_path / "w.zip")


def _rewrite(src, dst, change):
    """Copy a model file, letting change(name, data) alter or drop (None) members or add new ones."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        members = {n: zin.read(n) for n in zin.namelist()}
        for name, data in change(members).items():
            zout.writestr(name, data)


def _npz(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _edit_config(members, edit):
    doc = json.loads(members["config.json"])
    edit(doc)
    return {**members, "config.json": json.dumps(doc).encode()}


def _edit_weights(members, edit):
    with np.load(io.BytesIO(members["weights.npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    edit(arrays)
    return {**members, "weights.npz": _npz(arrays)}


BAD_FILES = {
    "unknown class": (lambda m: _edit_config(m, lambda d: d.update(class_name="os.system")), "unknown layer 'os.system'"),
    "unknown layer": (lambda m: _edit_config(m, lambda d: d["config"]["layers"][0].update(class_name="Evil")), "unknown layer 'Evil'"),
    "not a model": (lambda m: _edit_config(m, lambda d: d.update(class_name="Dense")), "class 'Dense' is not a model"),
    "foreign json": (lambda m: {**m, "config.json": b'{"hello": 1}'}, "does not say format 'faltung.model'"),
    "bad json": (lambda m: {**m, "config.json": b"{not json"}, "config.json is not valid JSON"),
    "future version": (lambda m: _edit_config(m, lambda d: d.update(format_version=99)), "format_version 99"),
    "missing weights": (lambda m: {k: v for k, v in m.items() if k != "weights.npz"}, "missing weights.npz"),
    "missing array": (lambda m: _edit_weights(m, lambda a: a.pop(sorted(a)[0])), "missing"),
    "extra array": (lambda m: _edit_weights(m, lambda a: a.update(extra=np.ones(2))), "unexpected \\['extra'\\]"),
    "wrong shape": (lambda m: _edit_weights(m, lambda a: a.update({sorted(a)[0]: np.ones((1, 2))})), "has shape \\(1, 2\\)"),
    "wrong dtype": (lambda m: _edit_weights(m, lambda a: a.update({sorted(a)[1]: a[sorted(a)[1]].astype(np.int32)})), "dtype int32"),
    "pickled object": (lambda m: _edit_weights(m, lambda a: a.update({sorted(a)[1]: np.array([{"x": 1}] * 4, dtype=object)})), "holds Python objects"),
    "bad layer config": (lambda m: _edit_config(m, lambda d: d["config"]["layers"][0]["config"].update(filters=-3)), "model config is invalid"),
    "bad optimizer": (lambda m: _edit_config(m, lambda d: d["compile_config"]["optimizer"].update(class_name="Evil")), "compile settings are invalid"),
    "overflowing setting": (lambda m: _edit_config(m, lambda d: d["compile_config"]["optimizer"]["config"].update(learning_rate=10**400)), "compile settings are invalid \\(OverflowError"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_with_their_reason(case, tmp_path):
    model = small_cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    good = tmp_path / "good.faltung"
    model.save(good)
    bad = tmp_path / "bad.faltung"
    change, message = BAD_FILES[case]
    _rewrite(good, bad, change)
    with pytest.raises(ValueError, match=message) as info:
        models.load_model(bad)
    assert str(bad) in str(info.value)


def test_non_zip_truncated_and_missing_files(tmp_path):
    model = small_cnn()
    good = tmp_path / "good.faltung"
    model.save(good)
    junk = tmp_path / "junk.faltung"
    junk.write_bytes(b"hello, I am not a zip file")
    with pytest.raises(ValueError, match="not a zip archive"):
        models.load_model(junk)
    truncated = tmp_path / "cut.faltung"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ValueError, match="cut.faltung"):
        models.load_model(truncated)
    with pytest.raises(ValueError, match="no such file"):
        models.load_model(tmp_path / "absent.faltung")


def test_save_is_atomic(tmp_path, monkeypatch):
    model = small_cnn()
    path = tmp_path / "net.faltung"
    model.save(path)
    before = path.read_bytes()
    import faltung.io as fio

    def boom(f, files):  # fails mid-write, after the temporary file has some bytes
        f.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("disk full")
    monkeypatch.setattr(fio, "_write_zip", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["net.faltung"]  # no temporary file left behind


def test_subclassed_models_explain_why_they_cannot_be_saved_whole(tmp_path):
    class Tiny(models.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x, training=False):
            return self.dense(x)

    model = Tiny()
    model(np.ones((1, 3), np.float32))
    assert model.count_params() == 8
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(tmp_path / "tiny.faltung")
    model.save_weights(tmp_path / "tiny.zip")
    other = Tiny()
    other(np.ones((1, 3), np.float32))
    other.load_weights(tmp_path / "tiny.zip")
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])


def test_frozen_layers_stay_frozen_after_loading(tmp_path):
    model = models.Sequential([layers.Input((4,)), layers.Dense(3), layers.Dense(2)])
    model.layers[0].trainable = False
    model.compile("adam", "mse")
    model.train_on_batch(np.ones((2, 4)), np.ones((2, 2)))
    model.save(tmp_path / "frozen.faltung")
    loaded = models.load_model(tmp_path / "frozen.faltung")
    assert [l.trainable for l in loaded.layers] == [False, True]
    assert len(loaded.trainable_weights) == 2


def test_saved_files_get_the_usual_mode(tmp_path):
    model = small_cnn()
    path = tmp_path / "net.faltung"
    model.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_an_array_header_claiming_too_much_is_refused_before_allocating(tmp_path):
    model = small_cnn()
    good = tmp_path / "good.faltung"
    model.save(good)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    bad = tmp_path / "huge.faltung"
    _rewrite(good, bad, lambda m: _edit_npz_raw(m, header.getvalue()))
    with pytest.raises(ValueError, match="claims dtype float32 and shape"):
        models.load_model(bad)


def _edit_npz_raw(members, npy_bytes):
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as zin:
        names = zin.namelist()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zout:
            for n in names:
                zout.writestr(n, npy_bytes + b"\0" * 16 if n == names[0] else zin.read(n))
    return {**members, "weights.npz": buf.getvalue()}
