"""float32 end to end: a training step of every ready-made net computes nothing in float64.

The autograd safety net casts a gradient of the wrong dtype back to its input's dtype; that
would hide a kernel that silently promotes (twice the memory traffic, half the BLAS speed).
So this test looks at every forward output and every gradient *as the Function returned it*.
"""
import numpy as np
import pytest

import faltung as ft
from faltung import autograd, zoo


@pytest.mark.parametrize("net,shape", [("lenet", (28, 28, 1)), ("vgg-small", (32, 32, 3)),
                                       ("resnet-small", (32, 32, 3))])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_training_step_stays_float32(net, shape, optimizer, monkeypatch):
    seen = []
    original_apply = autograd.Function.apply.__func__

    def watched_apply(cls, *inputs, **options):
        out = original_apply(cls, *inputs, **options)
        seen.append((f"{cls.__name__}.forward", out.dtype))
        fn = out._fn
        if fn is not None:
            backward = fn.backward

            def watched_backward(grad, backward=backward, name=cls.__name__):
                grads = backward(grad)
                seen.extend((f"{name}.backward", g.dtype) for g in grads if g is not None)
                return grads
            fn.backward = watched_backward
        return out

    monkeypatch.setattr(autograd.Function, "apply", classmethod(watched_apply))
    ft.set_seed(0)
    model = zoo.build(net, shape, 10)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, *shape)).astype(np.uint8)
    y = rng.integers(0, 10, 8)
    model.train_on_batch(x, y)
    assert len({name for name, _ in seen}) > 10 and any(name.endswith(".backward") for name, _ in seen)
    promoted = sorted({name for name, dtype in seen if dtype != np.float32})
    assert not promoted, f"float64 (or other) arrays from {promoted}"
    for w in model.weights:
        assert w.data.dtype == np.float32 and (w.grad is None or w.grad.dtype == np.float32), w.name
    for w in model.trainable_weights:  # Adam's moments (SGD has none) live in the weights' dtype
        assert all(slot.dtype == np.float32 for slot in model.optimizer._get_slots(w).values()), w.name
