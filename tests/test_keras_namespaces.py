"""Keras' namespaces over faltung: a script ports by its import lines alone."""
import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import faltung as ft
from faltung import layers, models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout


def test_import_faltung_stays_light_and_keras_names_load_on_first_use():
    out = _python(
        "import sys, faltung as keras\n"
        "lazy = ['faltung.keras', 'faltung.datasets', 'faltung.saving', 'faltung.viz', 'faltung.export']\n"
        "print([m for m in lazy if m in sys.modules])\n"
        "keras.datasets.mnist.load_data, keras.saving.load_model, keras.regularizers.l2\n"
        "import faltung as tf\n"
        "tf.keras.layers.Conv2D, tf.keras.losses.SparseCategoricalCrossentropy\n"
        "print(sorted(m for m in lazy if m in sys.modules))\n"
        "print('matplotlib' in sys.modules, 'onnx' in sys.modules, 'keras' in sys.modules)\n")
    assert out.splitlines() == ["[]", "['faltung.datasets', 'faltung.keras', 'faltung.saving']",
                                "False False False"]


def test_keras_module_paths_are_faltung_modules():
    from faltung import keras
    from faltung.keras import datasets, layers as keras_layers, models as keras_models
    from faltung.keras.layers import Conv2D, DepthwiseConv2D
    from faltung.keras.optimizers.schedules import ExponentialDecay
    import faltung.datasets
    import faltung.optimizers.schedules
    assert keras_layers is layers and keras_models is models and datasets is faltung.datasets
    assert Conv2D is layers.Conv2D and DepthwiseConv2D is layers.DepthwiseConv2D
    assert ExponentialDecay is faltung.optimizers.schedules.ExponentialDecay
    assert keras.Sequential is models.Sequential and keras.Input is layers.Input
    assert keras.utils.image_dataset_from_directory is faltung.datasets.image_dataset_from_directory
    assert ft.keras is keras and keras.backend.image_data_format() == "channels_last"
    assert not hasattr(faltung.losses, "__path__")  # aliasing never turns a module into a package
    with pytest.raises(ImportError):
        import faltung.keras.applications  # noqa: F401  (not provided: a plain ImportError)
    with pytest.raises(AttributeError, match="faltung.keras has no attribute 'applications'"):
        keras.applications  # noqa: B018


def test_clear_session_restarts_layer_names():
    from faltung import keras
    keras.backend.clear_session()
    assert layers.Dense(2).name == "dense" and layers.Dense(2).name == "dense_1"
    keras.backend.clear_session()
    assert layers.Dense(2).name == "dense"


def test_register_keras_serializable_loads_user_layers(tmp_path):
    from faltung import keras

    @keras.saving.register_keras_serializable(package="MyLayers")
    class TimesK(keras.layers.Layer):
        def __init__(self, k=2.0, **kwargs):
            super().__init__(**kwargs)
            self.k = k

        def call(self, x, training=False):
            return x * self.k

        def get_config(self):
            return {**super().get_config(), "k": self.k}

    model = keras.Sequential([keras.Input((3,)), TimesK(3.0), keras.layers.Dense(2)])
    # faltung's own format: a .keras file holds only Keras' own layers (Keras could not rebuild TimesK)
    keras.saving.save_model(model, tmp_path / "m.faltung")
    again = keras.saving.load_model(tmp_path / "m.faltung")
    x = np.ones((2, 3), np.float32)
    assert isinstance(again.layers[0], TimesK) and again.layers[0].k == 3.0
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert keras.saving.get_registered_object("TimesK") is TimesK
    with pytest.raises(ValueError, match="overwrite=False"):
        keras.saving.save_model(model, tmp_path / "m.faltung", overwrite=False)
    with pytest.raises(ValueError, match="your own class .*TimesK.* save the model as .faltung"):
        keras.saving.save_model(model, tmp_path / "m.keras")

    class Dense(keras.layers.Layer):  # shadowing faltung's own class is refused
        pass
    with pytest.raises(ValueError, match="the name 'Dense' is faltung's own"):
        keras.saving.register_keras_serializable()(Dense)


TUTORIAL = '''
import numpy as np
import tensorflow as tf
from tensorflow import keras

tf.keras.utils.set_random_seed(0)
keras.backend.clear_session()
data_augmentation = keras.Sequential([
    keras.layers.RandomRotation(0.05),
    keras.layers.RandomZoom(0.1),
])
inputs = keras.Input(shape=(12, 12, 1))
x = data_augmentation(inputs)
x = keras.layers.Rescaling(1.0 / 255)(x)
x = keras.layers.Conv2D(8, 3, padding="same", kernel_regularizer=keras.regularizers.l2(1e-4),
                        kernel_constraint=keras.constraints.max_norm(3.0))(x)
x = keras.layers.BatchNormalization()(x)
x = keras.layers.LeakyReLU()(x)
x = keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu")(x)
x = keras.layers.MaxPooling2D()(x)
x = keras.layers.GlobalAveragePooling2D()(x)
x = keras.layers.Dropout(0.2)(x)
outputs = keras.layers.Dense(2)(x)
model = keras.Model(inputs, outputs)
model.summary()
model.compile(optimizer=keras.optimizers.Adam(1e-2),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)]
history = model.fit(x_train, y_train, batch_size=32, epochs=12, validation_split=0.1,
                    class_weight={0: 1.0, 1: 1.0}, callbacks=callbacks, verbose=2)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", score[1])
model.save("bars.keras")
restored = keras.saving.load_model("bars.keras")
print(np.allclose(restored.predict(x_test[:8], verbose=0), model.predict_on_batch(x_test[:8]), atol=1e-6))
'''


def test_keras_script_runs_with_only_its_imports_changed(tmp_path, monkeypatch):
    from test_keras_port import bars_uint8  # the same bars as the first tutorial test
    source = TUTORIAL.replace("import tensorflow as tf", "import faltung as tf")
    source = source.replace("from tensorflow import keras", "from faltung import keras")
    assert source.count("faltung") == 2 and "tensorflow" not in source  # nothing else was edited
    (x_train, y_train), (x_test, y_test) = bars_uint8(400, 0), bars_uint8(100, 1)
    namespace = {"x_train": x_train[..., None], "y_train": y_train, "x_test": x_test[..., None], "y_test": y_test}
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        exec(compile(source, "keras_script.py", "exec"), namespace)
    printed = out.getvalue()
    assert "Total params:" in printed and "Epoch 1/12" in printed
    assert namespace["score"][1] > 0.9, printed
    assert printed.strip().endswith("True")  # the saved and reloaded model predicts the same
