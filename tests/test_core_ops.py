"""dense, flatten, dropout, batch_norm: gradients, semantics, PyTorch parity."""
import numpy as np
import pytest

import faltung as ft
import faltung.functional as F
from faltung import Tensor, backend
from faltung.testing import gradcheck

rng = np.random.default_rng(0)


def test_dense_gradients_and_value():
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2)), rng.standard_normal(2)
    np.testing.assert_allclose(F.dense(x, w, b).numpy(), x @ w + b)
    assert gradcheck(F.dense, [x, w, b])
    with pytest.raises(ValueError, match=r"kernel expects 5 input features but x has shape \(3, 4\)"):
        F.dense(np.ones((3, 4)), w)


def test_dense_on_leading_axes_in_both_kernel_sets():
    """x (..., in): the same values and gradients from either kernel set (the fast one splits these
    products over threads), and finite differences on a small case."""
    x, w, b = rng.standard_normal((2, 150, 257)), rng.standard_normal((257, 129)), rng.standard_normal(129)
    g = rng.standard_normal((2, 150, 129))
    results = []
    for name in backend.KERNEL_SETS:
        with backend.kernels(name):
            xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
            y = F.dense(xt, wt, bt)
            (y * g).sum().backward()
        assert y.shape == (2, 150, 129)
        results.append([y.numpy(), xt.grad, wt.grad, bt.grad])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(results[0][0], x @ w + b, rtol=1e-10, atol=1e-10)
    assert gradcheck(F.dense, [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)])


def test_flatten_is_channels_last_order():
    x = np.arange(24.0).reshape(2, 2, 3, 2)
    np.testing.assert_array_equal(F.flatten(x).numpy(), x.reshape(2, 12))
    assert gradcheck(F.flatten, [rng.standard_normal((2, 2, 3, 2))])


def test_dropout_scales_and_repeats_with_seed():
    x = np.ones((200, 50), np.float32)
    assert F.dropout(x, 0.5, training=False).numpy() is not None
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x)
    ft.set_seed(3)
    a = F.dropout(x, 0.3, training=True).numpy()
    ft.set_seed(3)
    b = F.dropout(x, 0.3, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02
    assert a.dtype == np.float32
    t = Tensor(x[:3, :4], requires_grad=True)
    ft.set_seed(4)
    y = F.dropout(t, 0.5, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, y.numpy())  # gradient is the same mask and scale
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\); got 1.0"):
        F.dropout(x, 1.0, training=True)


def test_batch_norm_training_gradients_and_moving_statistics():
    x = rng.standard_normal((4, 3, 2, 5)) * 2 + 1
    assert gradcheck(lambda x, g, b: F.batch_norm(x, g, b, training=True),
                     [x, rng.standard_normal(5), rng.standard_normal(5)])
    mm, mv = np.zeros(5), np.ones(5)
    F.batch_norm(x, None, None, mm, mv, training=True, momentum=0.9)
    np.testing.assert_allclose(mm, 0.1 * x.mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(mv, 0.9 + 0.1 * x.var(axis=(0, 1, 2)))  # biased variance, as Keras


def test_batch_norm_inference_uses_moving_statistics():
    x = rng.standard_normal((6, 3))
    mm, mv, g, b = rng.standard_normal(3), rng.random(3) + 0.5, rng.standard_normal(3), rng.standard_normal(3)
    y = F.batch_norm(x, g, b, mm, mv, training=False, epsilon=1e-3).numpy()
    np.testing.assert_allclose(y, g * (x - mm) / np.sqrt(mv + 1e-3) + b)
    assert gradcheck(lambda x, g, b: F.batch_norm(x, g, b, mm, mv, training=False), [x, g, b])
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\) to match x's channels; got \(2,\)"):
        F.batch_norm(x, np.ones(2), None, mm, mv)


def test_batch_norm_parity_with_pytorch(torch):
    x = rng.standard_normal((4, 5, 6, 3))
    g, b = rng.standard_normal(3), rng.standard_normal(3)
    xt, gt, bt = (Tensor(a, requires_grad=True) for a in (x, g, b))
    y = F.batch_norm(xt, gt, bt, training=True, epsilon=1e-3)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    ty = torch.nn.functional.batch_norm(tx.permute(0, 3, 1, 2), None, None, tg, tb, training=True, eps=1e-3)
    np.testing.assert_allclose(y.numpy(), ty.detach().permute(0, 2, 3, 1).numpy(), atol=1e-12)
    grad = rng.standard_normal(x.shape)
    (y * grad).sum().backward()
    ty.permute(0, 2, 3, 1).backward(torch.tensor(grad))
    for ours, theirs in ((xt, tx), (gt, tg), (bt, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-10)
