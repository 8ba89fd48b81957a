"""A typical Keras CNN tutorial runs unchanged with `import faltung as keras` (data made locally)."""
import contextlib
import io

import numpy as np

TUTORIAL = '''
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

num_classes = 2
input_shape = (12, 12, 1)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (12, 12, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

batch_size = 32
epochs = 15
model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.01),
              metrics=["accuracy"])
early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                    callbacks=[early])

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
'''


def bars_uint8(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, (n, 12, 12)).astype(np.uint8)
    y = rng.integers(0, 2, n)
    for i in range(n):
        pos, start = rng.integers(1, 11), rng.integers(0, 5)
        if y[i] == 0:
            x[i, start:start + 6, pos] = 255
        else:
            x[i, pos, start:start + 6] = 255
    return x, y


def test_keras_tutorial_runs_with_only_the_import_changed():
    source = TUTORIAL.replace("from tensorflow import keras", "import faltung as keras")
    source = source.replace("from tensorflow.keras import layers", "from faltung import layers")
    assert source.count("faltung") == 2  # nothing else was edited
    (x_train, y_train), (x_test, y_test) = bars_uint8(500, 0), bars_uint8(200, 1)
    namespace = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    import faltung
    faltung.set_seed(0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        exec(compile(source, "keras_tutorial.py", "exec"), namespace)
    printed = out.getvalue()
    assert "x_train shape: (500, 12, 12, 1)" in printed
    assert "Total params:" in printed and "Epoch 1/15" in printed
    assert namespace["score"][1] > 0.9
    assert namespace["history"].history["val_accuracy"]
