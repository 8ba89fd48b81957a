"""Every registered layer keeps every promise a layer makes, checked by one generic test
(``faltung.testing.run_layer_test``, after Keras' ``run_layer_test``)."""
import pytest

from faltung import backend
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
    "Multiply": [({}, [IMAGES, IMAGES])],
    "Average": [({}, [IMAGES, IMAGES, IMAGES])],
    "Maximum": [({}, [IMAGES, IMAGES])],
    "Subtract": [({}, [IMAGES, IMAGES])],
    "DepthwiseConv2D": [(dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2), IMAGES),
                        (dict(kernel_size=(2, 3), dilation_rate=2, activation="relu"), IMAGES)],
    "SeparableConv2D": [(dict(filters=4, kernel_size=3, padding="same", depth_multiplier=2), IMAGES)],
    "Conv2DTranspose": [(dict(filters=2, kernel_size=3, strides=2, padding="same"), IMAGES),
                        (dict(filters=3, kernel_size=(2, 3), strides=(1, 2)), IMAGES)],
    "Conv1D": [(dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 9, 4)),
               (dict(filters=2, kernel_size=2, dilation_rate=2, padding="causal"), (2, 8, 3))],
    "MaxPooling1D": [(dict(pool_size=2, padding="same"), (2, 9, 4))],
    "GlobalAveragePooling1D": [({}, (2, 9, 4))],
    "UpSampling2D": [(dict(size=(2, 3)), IMAGES), (dict(size=2, interpolation="bilinear"), IMAGES)],
    "Cropping2D": [(dict(cropping=((1, 2), (0, 3))), IMAGES)],
    "LeakyReLU": [(dict(negative_slope=0.2), IMAGES)],
    "PReLU": [(dict(alpha_initializer="ones"), IMAGES)],
    "ELU": [(dict(alpha=0.5), IMAGES)],
    "SpatialDropout2D": [(dict(rate=0.3), IMAGES)],
    "LayerNormalization": [({}, IMAGES), (dict(axis=(1, 2, 3)), IMAGES)],
    "GroupNormalization": [(dict(groups=3), (2, 4, 5, 6))],
    "Normalization": [(dict(mean=0.5, variance=2.0), IMAGES)],
    "Resizing": [(dict(height=4, width=9), IMAGES)],
    "CenterCrop": [(dict(height=4, width=5), IMAGES)],
    "RandomRotation": [(dict(factor=0.1, seed=1), IMAGES)],
    "RandomZoom": [(dict(height_factor=0.2, seed=1), IMAGES)],
    "RandomContrast": [(dict(factor=0.3, seed=1), IMAGES)],
    "RandomBrightness": [(dict(factor=0.2, seed=1), IMAGES)],
}
NOT_LAYERS_OF_THEIR_OWN = {
    "InputLayer", "Model", "Sequential",  # tested in test_models.py
    "Lambda",  # Python code: never saved or loaded by design (tests/test_keras_layers.py checks the refusal)
}


def test_every_registered_layer_has_cases():
    own = {name for name, cls in registered_layers().items() if cls.__module__.startswith("faltung.")}
    missing = sorted(own - NOT_LAYERS_OF_THEIR_OWN - set(CASES))  # other tests register layers of their own
    assert not missing, f"add test cases for {missing}"


@pytest.mark.parametrize("kernels", ["reference", "fast"])
@pytest.mark.parametrize("class_name,kwargs,shape",
                         [(name, kwargs, shape) for name, cases in CASES.items() for kwargs, shape in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_layer_contract(class_name, kwargs, shape, kernels):
    with backend.kernels(kernels):  # the layers never know which kernel set runs: both keep every promise
        run_layer_test(registered_layers()[class_name], kwargs, shape)
