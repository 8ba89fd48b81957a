"""Every registered layer keeps every promise a layer makes, checked by one generic test
(``faltung.testing.run_layer_test``, after Keras' ``run_layer_test``)."""
import pytest

from faltung import layers
from faltung.layers.base import registered_layers
from faltung.testing import run_layer_test

IMAGES = (2, 6, 7, 3)

# Each registered layer with the arguments and input shapes it is tested on: a new layer must add its
# cases here (the completeness test below fails until it does).
CASES = {
    "Conv2D": [(dict(filters=4, kernel_size=3, strides=2, padding="same", activation="relu"), IMAGES),
               (dict(filters=2, kernel_size=(2, 3), padding=((1, 0), (2, 1)), use_bias=False,
                     kernel_initializer="he_normal"), IMAGES),
               (dict(filters=2, kernel_size=2, dilation_rate=2, activation="tanh"), IMAGES)],
    "MaxPooling2D": [(dict(pool_size=2), IMAGES), (dict(pool_size=3, strides=2, padding="same"), IMAGES)],
    "AveragePooling2D": [(dict(pool_size=2, padding="same"), IMAGES), (dict(pool_size=(2, 1)), IMAGES)],
    "GlobalAveragePooling2D": [({}, IMAGES)],
    "GlobalMaxPooling2D": [(dict(keepdims=True), IMAGES)],
    "Flatten": [({}, IMAGES)],
    "Dense": [(dict(units=5, activation="softmax"), (3, 4)), (dict(units=2, use_bias=False), (2, 3, 4))],
    "Activation": [(dict(activation="tanh"), IMAGES)],
    "ReLU": [(dict(max_value=1.0, negative_slope=0.1, threshold=0.2), IMAGES)],
    "Softmax": [({}, (3, 5))],
    "Dropout": [(dict(rate=0.3), IMAGES)],
    "BatchNormalization": [(dict(momentum=0.9), IMAGES), ({}, (8, 3))],
    "ZeroPadding2D": [(dict(padding=((1, 2), (0, 1))), IMAGES)],
    "Reshape": [(dict(target_shape=(-1, 3)), IMAGES)],
    "Rescaling": [(dict(scale=1 / 255.0, offset=-0.5), IMAGES)],
    "RandomFlip": [(dict(mode="horizontal", seed=1), IMAGES)],
    "RandomTranslation": [(dict(height_factor=0.1, width_factor=(-0.2, 0.3), fill_mode="nearest"), IMAGES)],
    "RandomCrop": [(dict(height=3, width=4), IMAGES)],
    "Add": [({}, [IMAGES, IMAGES])],
    "Concatenate": [(dict(axis=-1), [IMAGES, (2, 6, 7, 2)])],
}
NOT_LAYERS_OF_THEIR_OWN = {"InputLayer", "Model", "Sequential"}  # tested in test_models.py


def test_every_registered_layer_has_cases():
    missing = sorted(set(registered_layers()) - NOT_LAYERS_OF_THEIR_OWN - set(CASES))
    assert not missing, f"add test cases for {missing}"


@pytest.mark.parametrize("class_name,kwargs,shape",
                         [(name, kwargs, shape) for name, cases in CASES.items() for kwargs, shape in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_layer_contract(class_name, kwargs, shape):
    run_layer_test(registered_layers()[class_name], kwargs, shape)
