"""Gradient checking: compare a hand-written backward with central finite differences, in float64."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Sequence

import numpy as np

from .autograd import Tensor, no_grad


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, seed: int = 0) -> bool:
    """Check d(fn)/d(inputs) from ``backward()`` against central differences.

    ``fn`` maps Tensors to a Tensor; ``inputs`` are float64 arrays (each becomes a
    Tensor that requires a gradient). The output is weighted by fixed random
    numbers so every output entry's gradient is tested. Returns True, or raises
    AssertionError naming the input and the worst entry.

    >>> import faltung.functional as F
    >>> gradcheck(F.tanh, [np.linspace(-2, 2, 5)])
    True
    """
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    for i, a in enumerate(arrays):
        if not np.issubdtype(np.asarray(inputs[i]).dtype, np.floating) and np.asarray(inputs[i]).dtype != object:
            raise TypeError(f"input {i} must be a float array; got dtype {np.asarray(inputs[i]).dtype}")
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * weights).sum().backward()

    def objective() -> float:
        with no_grad():
            return float((fn(*[Tensor(a) for a in arrays]).data * weights).sum())

    compare_gradients(arrays, [t.grad for t in tensors], objective, eps, atol, rtol, "input")
    return True


def compare_gradients(arrays: list[np.ndarray], analytic: list[np.ndarray | None], objective: Callable[[], float],
             eps: float, atol: float, rtol: float, what: str) -> None:
    """Central differences of ``objective`` as each entry of ``arrays`` moves (in place, then back)
    against the ``analytic`` gradients (None: zero); AssertionError naming ``what`` and the worst entry."""
    for index, (array, grad) in enumerate(zip(arrays, analytic)):
        grad = np.zeros_like(array) if grad is None else grad
        numeric = np.zeros_like(array)
        for pos in np.ndindex(array.shape):
            original = array[pos]
            array[pos] = original + eps
            plus = objective()
            array[pos] = original - eps
            minus = objective()
            array[pos] = original
            numeric[pos] = (plus - minus) / (2 * eps)
        bad = np.abs(grad - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            worst = np.unravel_index(np.argmax(np.abs(grad - numeric)), array.shape)
            raise AssertionError(
                f"gradient of {what} {index} (shape {array.shape}) differs at {bad.sum()} entries; "
                f"worst at {worst}: backward {grad[worst]!r} vs finite difference {numeric[worst]!r}")


def run_layer_test(layer_cls: type, init_kwargs: dict, input_shape: Any, seed: int = 0,
                   check_gradients: bool = True) -> None:
    """Keras' ``run_layer_test`` for faltung: every promise a layer makes, checked on one layer.

    ``input_shape`` is a batch shape such as ``(2, 6, 7, 3)``, or a list of them for a layer that
    takes a list (``Add``). Checks: the output's shape equals ``compute_output_shape`` and the
    symbolic (``Input``) call's; the config is JSON-able and rebuilds an equal layer computing the
    same numbers; a model holding the layer saves and loads with equal predictions; in float64,
    the input's and every trainable weight's gradient equals central differences; one training
    step runs and moves every trainable weight. Raises AssertionError naming what failed.
    """
    from . import backend, layers, models
    rng = np.random.default_rng(seed)
    takes_list = isinstance(input_shape, list)
    shapes = input_shape if takes_list else [input_shape]
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    given = xs if takes_list else xs[0]
    name = f"{layer_cls.__name__}({init_kwargs})"

    layer = layer_cls(**init_kwargs)
    y = layer(given).numpy()
    batchless = [(None,) + tuple(s[1:]) for s in shapes]
    expected = layer.compute_output_shape(batchless if takes_list else batchless[0])
    assert tuple(expected[1:]) == y.shape[1:], f"{name}: output {y.shape}, compute_output_shape {expected}"
    inputs = [layers.Input(s[1:]) for s in shapes]
    symbolic = layer(inputs if takes_list else inputs[0])
    assert tuple(symbolic.shape[1:]) == y.shape[1:], f"{name}: symbolic output {symbolic.shape}"

    config = json.loads(json.dumps(layer.get_config()))
    clone = layer_cls.from_config(config)
    assert clone.get_config() == layer.get_config(), f"{name}: config does not round-trip"
    clone(given)
    clone.set_weights(layer.get_weights())
    assert np.array_equal(clone(given).numpy(), y), f"{name}: the rebuilt layer computes other numbers"

    model = models.Model(inputs if takes_list else inputs[0], symbolic)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "layer.faltung")
        model.save(path)
        again = models.load_model(path)
    assert np.array_equal(again.predict(given, verbose=0), model.predict(given, verbose=0)), \
        f"{name}: a saved and loaded model predicts other numbers"

    if check_gradients:
        previous = backend.floatx()
        backend.set_floatx("float64")
        try:
            _check_layer_gradients(layer_cls.from_config({**config, "dtype": "float64"}),
                                   [x.astype(np.float64) for x in xs], takes_list, seed)
        finally:
            backend.set_floatx(previous)

    trainable = model.trainable_weights
    if not trainable:  # nothing to learn: no step to take
        return
    before = [w.data.copy() for w in trainable]
    target = rng.standard_normal(y.shape).astype(np.float32)
    model.compile(optimizer="sgd", loss="mse")
    loss = model.train_on_batch(given, target)
    assert np.isfinite(loss), f"{name}: training step gave loss {loss}"
    for w, old in zip(trainable, before):
        assert not np.array_equal(w.data, old), f"{name}: training step left {w.name} unchanged"


def _check_layer_gradients(layer, xs: list[np.ndarray], takes_list: bool, seed: int) -> None:
    """Input and trainable-weight gradients of a float64 layer (inference mode) against differences."""
    tensors = [Tensor(x, requires_grad=True) for x in xs]
    out = layer(tensors if takes_list else tensors[0])
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * weights).sum().backward()

    def objective() -> float:
        with no_grad():
            return float((layer([Tensor(x) for x in xs] if takes_list else Tensor(xs[0])).data * weights).sum())

    params = layer.trainable_weights
    compare_gradients(xs, [t.grad for t in tensors], objective, 1e-6, 1e-6, 1e-5, f"{layer.name} input")
    compare_gradients([p.data for p in params], [p.grad for p in params], objective, 1e-6, 1e-6, 1e-5,
             f"{layer.name} weight")
