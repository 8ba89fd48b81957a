"""Layers: Keras' shapes, weights order, config round trips, errors."""
import json

import numpy as np
import pytest

import faltung as ft
from faltung import layers
from faltung.testing import gradcheck

def test_keras_weight_order_and_shapes():
    conv = layers.Conv2D(8, (3, 5))
    conv(np.zeros((1, 10, 10, 3), np.float32))
    assert [w.shape for w in conv.get_weights()] == [(3, 5, 3, 8), (8,)]
    bn = layers.BatchNormalization()
    bn(np.zeros((2, 4), np.float32))
    assert [w.name for w in bn.weights] == [f"{bn.name}/{n}" for n in ("gamma", "beta", "moving_mean", "moving_variance")]
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    dense = layers.Dense(3)
    dense(np.zeros((2, 7), np.float32))
    assert [w.shape for w in dense.get_weights()] == [(7, 3), (3,)]
    assert dense.count_params() == 7 * 3 + 3


def test_default_initialisers_are_glorot_uniform_and_zeros():
    ft.set_seed(0)
    conv = layers.Conv2D(64, 3)
    conv(np.zeros((1, 5, 5, 32), np.float32))
    kernel, bias = conv.get_weights()
    limit = np.sqrt(6 / (3 * 3 * 32 + 3 * 3 * 64))
    assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert np.all(bias == 0)


def test_set_weights_checks_everything_before_changing_anything():
    dense = layers.Dense(2)
    dense(np.zeros((1, 3), np.float32))
    before = dense.get_weights()
    with pytest.raises(ValueError, match=r"has shape \(2,\); got an array of shape \(3,\)"):
        dense.set_weights([np.ones((3, 2)), np.ones(3)])
    with pytest.raises(ValueError, match="has 2 weights; got a list of 1"):
        dense.set_weights([np.ones((3, 2))])
    for a, b in zip(before, dense.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_batch_norm_layer_modes():
    bn = layers.BatchNormalization(momentum=0.5)
    x = np.random.default_rng(1).standard_normal((16, 3)).astype(np.float32) * 3 + 2
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.data, 0.5 * x.mean(axis=0), rtol=1e-5)
    y_inf = bn(x, training=False).numpy()
    np.testing.assert_allclose(y_inf, (x - bn.moving_mean.data) / np.sqrt(bn.moving_variance.data + 1e-3), rtol=1e-5)
    bn.trainable = False  # frozen: inference mode even when training (Keras 3)
    before = bn.moving_mean.data.copy()
    bn(x, training=True)
    np.testing.assert_array_equal(bn.moving_mean.data, before)


def test_relu_layer_general_form_and_gradient():
    layer = layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5)
    x = np.array([[-1.0, 0.2, 0.7, 3.0]])
    expected = np.where(x >= 2.0, 2.0, np.where(x >= 0.5, x, 0.1 * (x - 0.5)))
    layer64 = layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5, dtype="float64")
    np.testing.assert_allclose(layer64(x).numpy(), expected)
    assert gradcheck(lambda t: layer64(t), [x])


def test_zero_padding_and_concatenate_gradients():
    pad = layers.ZeroPadding2D(((1, 0), (2, 1)), dtype="float64")
    assert gradcheck(lambda t: pad(t), [np.random.default_rng(0).standard_normal((1, 2, 3, 2))])
    cat = layers.Concatenate(dtype="float64")
    rng = np.random.default_rng(1)
    assert gradcheck(lambda a, b: cat([a, b]), [rng.standard_normal((2, 3, 1)), rng.standard_normal((2, 3, 4))])


def test_integer_images_are_cast_to_float():
    layer = layers.Rescaling(1 / 255)
    out = layer(np.full((1, 2, 2, 1), 255, np.uint8))
    assert out.dtype == np.float32 and np.allclose(out.numpy(), 1.0)


@pytest.mark.parametrize("make,message", [
    (lambda: layers.Conv2D(0, 3), "filters must be a positive int; got 0"),
    (lambda: layers.Conv2D(4, 3, padding="smae"), "padding must be 'valid', 'same'"),
    (lambda: layers.Dense(-1), "units must be a positive int; got -1"),
    (lambda: layers.Dense(3, activation="rleu"), "activation must be one of"),
    (lambda: layers.Dropout(1.5), r"rate must be a number in \[0, 1\); got 1.5"),
    (lambda: layers.MaxPool2D(2, padding=1), "padding must be 'valid' or 'same'"),
    (lambda: layers.Dense(3, kernel_size=3), "unexpected keyword arguments: kernel_size"),
])
def test_bad_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_wrong_input_is_refused_with_the_shapes():
    conv = layers.Conv2D(4, 3)
    conv(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="kernel expects C_in=3 input channels but x has 1"):
        conv(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match=r"output height would be -?\d+"):
        layers.MaxPool2D(4)(layers.Input((3, 8, 1)))


def test_unique_default_names():
    a, b = layers.Dense(1), layers.Dense(1)
    assert a.name != b.name and a.name.startswith("dense") and b.name.startswith("dense")
    assert layers.MaxPool2D().name.startswith("max_pooling2d")
    assert layers.GlobalAveragePooling2D().name.startswith("global_average_pooling2d")
