"""The lecture's Definition 1 and its worked examples, through the public API."""
import numpy as np
import pytest

import faltung as ft
from faltung import lecture
from faltung.testing import gradcheck


def test_example_2():
    C = ft.correlate2d(lecture.EXAMPLE2_A, lecture.EXAMPLE2_B)
    np.testing.assert_array_equal(C, [[2, -13, 6, 0], [9, -28, 9, 5], [2, -12, 6, -9]])
    assert C.dtype.kind == "i"


def test_corner_filter_on_the_12x12_image():
    C = ft.correlate2d(lecture.CORNER_FILTER, lecture.IMAGE)
    assert C.shape == (8, 8)
    assert np.abs(C - lecture.PRINTED_OUTPUT).max() <= 0.1
    i, j = np.unravel_index(np.argmax(C), C.shape)
    assert (i, j) == (5, 2) and round(C[i, j], 1) == 19.3
    # the filter's corner (its row 3, column 1) lies on the image's corner pixel (row 8, column 3)
    assert lecture.IMAGE[i + 3, j + 1] == 1.0 and lecture.IMAGE[i + 3, j + 4] == 1.0


def test_definition_1_by_its_sum_with_a_rectangular_filter():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((2, 3)), rng.standard_normal((5, 6))
    C = ft.correlate2d(A, B)
    assert C.shape == (4, 4)
    for i in range(4):
        for j in range(4):
            assert C[i, j] == pytest.approx(sum(A[a, b] * B[i + a, j + b] for a in range(2) for b in range(3)))


def test_tensors_give_a_differentiable_result():
    rng = np.random.default_rng(1)
    out = ft.correlate2d(ft.Tensor(rng.standard_normal((2, 2))), rng.standard_normal((4, 5)))
    assert isinstance(out, ft.Tensor) and out.shape == (3, 4)
    assert gradcheck(ft.correlate2d, [rng.standard_normal((2, 3)), rng.standard_normal((4, 4))])


def test_errors_name_what_was_received():
    with pytest.raises(ValueError, match=r"A must be a 2-D matrix \(h', w'\); got shape \(2,\)"):
        ft.correlate2d([1, 2], np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"filter A of shape \(4, 4\) must be non-empty and fit inside B of shape \(3, 3\)"):
        ft.correlate2d(np.ones((4, 4)), np.ones((3, 3)))
    with pytest.raises(TypeError, match="B must be a numeric matrix; got dtype <U1"):
        ft.correlate2d(np.ones((1, 1)), [["a"]])


def test_uint8_images_do_not_wrap_around():
    C = ft.correlate2d(np.ones((3, 3), np.uint8), np.full((4, 4), 200, np.uint8))
    np.testing.assert_array_equal(C, np.full((2, 2), 1800))
