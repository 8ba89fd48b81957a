"""Writes docs/keras-cnn.keras, the Keras-trained model the README opens with faltung.

Keras 3 (any backend; the README's file was made with torch) trains a small CNN on faltung's
synthetic ``shapes`` dataset and saves it in Keras' own format. Run from the repository root:

    KERAS_BACKEND=torch python docs/keras_example.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

from faltung import datasets  # noqa: E402  (the data only: the model is Keras' own)

(x_train, y_train), (x_test, y_test) = datasets.shapes.load_data(n_train=3000, n_test=500)
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((28, 28, 1), name="image"),
    keras.layers.Rescaling(1 / 255),
    keras.layers.Conv2D(8, 5, padding="same", activation="relu", name="edges"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(16, 3, activation="relu"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(len(datasets.shapes.CLASS_NAMES), activation="softmax", name="shape"),
], name="keras_cnn")
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train[..., None], y_train, batch_size=64, epochs=10, verbose=2)
print("Keras test accuracy:", model.evaluate(x_test[..., None], y_test, verbose=0)[1])
model.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras-cnn.keras"))
