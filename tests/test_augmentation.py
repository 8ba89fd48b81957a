"""Augmentation layers: random only while training, per-sample draws, exact geometry."""
import numpy as np
import pytest

import faltung as ft
from faltung import layers
from faltung.testing import gradcheck

X = np.arange(3 * 4 * 5 * 2, dtype=np.float32).reshape(3, 4, 5, 2)


@pytest.mark.parametrize("layer", [layers.RandomFlip(), layers.RandomTranslation(0.3, 0.3)])
def test_identity_at_inference(layer):
    np.testing.assert_array_equal(layer(X).numpy(), X)


def test_flip_is_a_permutation_of_each_image():
    ft.set_seed(0)
    y = layers.RandomFlip("horizontal")(X, training=True).numpy()
    for i in range(3):
        assert np.array_equal(y[i], X[i]) or np.array_equal(y[i], X[i, :, ::-1])
    ft.set_seed(0)
    flips = layers.RandomFlip("vertical")(np.repeat(X[:1], 200, axis=0), training=True).numpy()
    flipped = np.array([np.array_equal(f, X[0, ::-1]) for f in flips])
    assert np.all(flipped | np.array([np.array_equal(f, X[0]) for f in flips]))
    assert 0.35 < flipped.mean() < 0.65


def test_translation_shifts_whole_pixels_and_fills():
    layer = layers.RandomTranslation((0.25, 0.25), (0.4, 0.4), fill_mode="constant", fill_value=-1.0)
    y = layer(X, training=True).numpy()  # exactly +1 row, +2 columns
    np.testing.assert_array_equal(y[:, 1:, 2:], X[:, :-1, :-2])
    assert np.all(y[:, 0] == -1) and np.all(y[:, :, :2] == -1)
    wrap = layers.RandomTranslation((0.25, 0.25), (0, 0), fill_mode="wrap")(X, training=True).numpy()
    np.testing.assert_array_equal(wrap, np.roll(X, 1, axis=1))
    reflect = layers.RandomTranslation((0.5, 0.5), (0, 0), fill_mode="reflect")(X, training=True).numpy()
    np.testing.assert_array_equal(reflect[:, :2], X[:, 1::-1])  # edge repeats, like Keras
    np.testing.assert_array_equal(reflect[:, 2:], X[:, :2])


def test_random_crop_training_and_centre_at_inference():
    layer = layers.RandomCrop(2, 3, seed=1)
    centre = layer(X).numpy()
    np.testing.assert_array_equal(centre, X[:, 1:3, 1:4])
    y = layer(X, training=True).numpy()
    assert y.shape == (3, 2, 3, 2)
    for i in range(3):  # each crop is a window of its own image
        assert any(np.array_equal(y[i], X[i, r:r + 2, c:c + 3]) for r in range(3) for c in range(3))
    with pytest.raises(ValueError, match="crops 5×3 but images are 4×5"):
        layers.RandomCrop(5, 3)(X)


def test_gradients_flow_through_augmentation():
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 1))
    layer = layers.RandomTranslation(0.3, 0.3, seed=3, dtype="float64")
    state = layer._rng.bit_generator.state

    def fn(t):
        layer._rng.bit_generator.state = state  # the same draw each evaluation
        return layer(t, training=True)
    assert gradcheck(fn, [x])


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="fill_mode must be one of"):
        layers.RandomTranslation(0.1, 0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="height_factor must be"):
        layers.RandomTranslation(2.0, 0.1)
