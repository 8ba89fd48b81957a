"""faltung.utils: to_categorical with Keras' shape rules and loud errors; set_random_seed."""
import random

import numpy as np
import pytest

from faltung import Tensor, backend, utils


def test_to_categorical_keras_example():
    a = utils.to_categorical([0, 1, 2, 3], num_classes=4)
    np.testing.assert_array_equal(a, np.eye(4))
    assert a.dtype == np.float32


@pytest.mark.parametrize("shape,expected", [
    ((5,), (5, 3)),
    ((5, 1), (5, 3)),        # a trailing axis of 1 is dropped, as Keras does
    ((2, 4), (2, 4, 3)),     # e.g. a segmentation map: the class axis goes last
    ((2, 4, 1), (2, 4, 3)),
    ((1,), (1, 3)),          # a single label keeps its batch axis
    ((), (3,)),              # a scalar label
])
def test_to_categorical_shapes(shape, expected):
    y = np.arange(int(np.prod(shape))).reshape(shape) % 3
    out = utils.to_categorical(y, num_classes=3)
    assert out.shape == expected
    np.testing.assert_array_equal(out.argmax(-1), y.reshape(expected[:-1]))
    np.testing.assert_array_equal(out.sum(-1), 1)


def test_to_categorical_infers_classes_and_accepts_other_inputs():
    assert utils.to_categorical([2, 0]).shape == (2, 3)  # max + 1
    np.testing.assert_array_equal(utils.to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])  # whole floats
    np.testing.assert_array_equal(utils.to_categorical(np.array([True, False])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(utils.to_categorical(Tensor([1.0, 2.0]), 3), [[0, 1, 0], [0, 0, 1]])
    assert utils.to_categorical([1, 0], dtype="float64").dtype == np.float64
    assert utils.to_categorical([1, 0], dtype="uint8").dtype == np.uint8
    assert utils.to_categorical(np.zeros((0,), int), num_classes=4).shape == (0, 4)


def test_to_categorical_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) for num_classes=3; got 3"):
        utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="labels must be >= 0; got -1"):
        utils.to_categorical([0, -1])
    with pytest.raises(ValueError, match="whole class numbers; got 1.5"):
        utils.to_categorical([0.0, 1.5])
    with pytest.raises(ValueError, match="NaN or infinite"):
        utils.to_categorical([0.0, np.nan])
    with pytest.raises(ValueError, match="num_classes must be a positive int or None; got 0"):
        utils.to_categorical([0, 1], num_classes=0)
    with pytest.raises(ValueError, match="num_classes must be a positive int or None; got 2.0"):
        utils.to_categorical([0, 1], num_classes=2.0)
    with pytest.raises(ValueError, match="cannot infer num_classes from an empty y"):
        utils.to_categorical([])
    with pytest.raises(TypeError, match="y must hold integer class labels; got dtype <U3"):
        utils.to_categorical(["cat", "dog"])
    with pytest.raises(TypeError, match="dtype must be a NumPy dtype"):
        utils.to_categorical([0, 1], dtype="notatype")


def test_set_random_seed_repeats_every_generator():
    def draw():
        return backend.rng().random(), np.random.random(), random.random()

    utils.set_random_seed(123)
    first = draw()
    utils.set_random_seed(123)
    assert draw() == first
    utils.set_random_seed(124)
    assert all(a != b for a, b in zip(draw(), first))


@pytest.mark.parametrize("seed", [-1, 2 ** 32, 1.5, "1", True])
def test_set_random_seed_refuses_bad_seeds(seed):
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*32\); got"):
        utils.set_random_seed(seed)
