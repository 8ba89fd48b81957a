"""Keras' training API for models: compile, fit, evaluate, predict, train_on_batch, test_on_batch."""
from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Sequence

import numpy as np

from .. import backend, distributed, losses as losses_module, metrics as metrics_module, optimizers
from ..autograd import Tensor, no_grad
from ..callbacks import CallbackList, History, ProgbarLogger
from ..progress import ProgressBar


def _in_scope(release_memory: bool):
    """Run the decorated method inside one ``backend.scope``: whatever the kernels need is set up once per
    call, not per kernel, and given back when the call returns."""
    def decorate(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            with backend.scope(release_memory):
                return method(self, *args, **kwargs)
        return run
    return decorate


class Trainer:
    """Mixed into ``Model``: everything that turns data into weight updates and numbers."""

    def _init_training(self) -> None:
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history: History | None = None
        self._metrics: list = []
        self._compile_config: dict | None = None
        self._warned_unscaled = False
        # JSON-able facts saved with the model (the CLI keeps class names and epochs trained here)
        self.metadata: dict = {}

    # ----- compile -----
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[Any] | None = None) -> None:
        """Choose the optimizer, the loss and the metrics (objects or Keras' string names).

        ``optimizer=None`` means Keras' default, ``"rmsprop"``.
        """
        self._check_usable("compile")
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        if metrics is not None and (isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple))):
            raise TypeError(f"metrics must be a list, e.g. ['accuracy']; got {metrics!r}")
        self.optimizer = optimizers.get("rmsprop" if optimizer is None else optimizer)
        self.loss = losses_module.get(loss)
        self._metrics = [metrics_module.get(m, loss=self.loss) for m in (metrics or [])]
        self.compiled = True
        self._compile_config = {"loss": losses_module.serialize(self.loss),
                                "metrics": [metrics_module.serialize(m) for m in self._metrics]}

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m.name for m in self._metrics]

    def _check_usable(self, what: str) -> None:
        """Refuse a model that cannot compute anything (Sequential overrides this for an empty stack)."""

    def _require_compiled(self, what: str) -> None:
        self._check_usable(what)
        if not self.compiled:
            raise RuntimeError(f"call model.compile(optimizer, loss, metrics) before {what}()")

    # ----- data -----
    def _prepare_x(self, x: Any, warn_unscaled: bool = False) -> Any:
        """Arrays in the model's dtype; integer images become float (and, unscaled, earn one warning)."""
        if isinstance(x, (list, tuple)) and getattr(self, "_multi_in", False):
            return [self._prepare_x(v, warn_unscaled) for v in x]
        if isinstance(x, Tensor):
            x = x.data
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"x must hold numbers; got dtype {x.dtype}")
        if x.ndim == 0:
            raise ValueError("x must have a batch axis; got a scalar")
        expected = self.input_shape if self.built and not isinstance(self.input_shape, list) else None
        if expected is not None and (len(expected) != x.ndim or any(
                a is not None and a != b for a, b in zip(expected[1:], x.shape[1:]))):
            raise ValueError(f"x has shape {x.shape}, so each sample is {x.shape[1:]}; model {self.name!r} "
                             f"expects samples of shape {tuple(expected[1:])}")
        if x.dtype.kind in "iub":
            if warn_unscaled and not self._warned_unscaled and x.size and x.max() > 1 \
                    and not any(type(l).__name__ == "Rescaling" for l in self._all_layers()):
                warnings.warn(f"fit() got integer inputs with values up to {x.max()} and the model has no "
                              "Rescaling layer: unscaled 0..255 pixels train badly. Divide x by 255 or add "
                              "layers.Rescaling(1/255) as the first layer.", UserWarning, stacklevel=4)
                self._warned_unscaled = True
            return x.astype(self.dtype)
        if not np.all(np.isfinite(x)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ValueError(f"x contains NaN or infinite values (first at index {bad})")
        limit = np.finfo(self.dtype).max
        if x.size and x.dtype.itemsize > np.dtype(self.dtype).itemsize and np.abs(x).max() > limit:
            # the cast would turn these into inf, and the outputs into NaN
            largest = float(np.abs(x).max())
            raise ValueError(f"x holds values up to {largest:.6g} in magnitude; model {self.name!r} computes in "
                             f"{np.dtype(self.dtype).name}, whose largest value is {float(limit):.6g}")
        return x.astype(self.dtype, copy=False)

    def _all_layers(self) -> list:
        out = []
        for layer in self.layers:
            out.append(layer)
            if hasattr(layer, "_all_layers"):
                out.extend(layer._all_layers())
        return out

    @staticmethod
    def _prepare_y(y: Any, n: int) -> np.ndarray:
        y = np.asarray(y.data if isinstance(y, Tensor) else y)
        if y.dtype.kind not in "fiub":
            raise TypeError(f"y must hold numbers; got dtype {y.dtype}")
        if y.ndim == 0 or len(y) != n:
            raise ValueError(f"x has {n} samples but y has {0 if y.ndim == 0 else len(y)}; they must match")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinite values")
        return y

    @staticmethod
    def _length(x: Any) -> int:
        return len(x[0]) if isinstance(x, list) else len(x)

    @staticmethod
    def _take(x: Any, index: Any) -> Any:
        return [v[index] for v in x] if isinstance(x, list) else x[index]

    # ----- one step -----
    def _forward_loss(self, x: Any, y: np.ndarray, training: bool, sample_weight: Any = None) -> tuple[Tensor, Any]:
        """The compiled loss (weighted per sample, Keras' sum over the batch size) plus every
        regularization penalty of ``model.losses``, as Keras' compute_loss adds them."""
        prediction = self(x, training=training)
        loss = self.loss(y, prediction, sample_weight=sample_weight)
        for penalty in self.losses:
            loss = loss + penalty
        return loss, prediction

    def _train_step(self, x: Any, y: np.ndarray, sample_weight: Any = None) -> tuple[float, np.ndarray]:
        weights = self.trainable_weights
        for w in weights:
            w.grad = None
        loss, prediction = self._forward_loss(x, y, training=True, sample_weight=sample_weight)
        shard = distributed.current_shard()  # this rank's part of the global batch, in a data-parallel fit
        # The loss is the mean over this rank's shard: weighted by the shard's share of the global
        # batch, the ranks' gradients sum to the global batch's mean gradient.
        loss.backward(None if shard is None else shard.share)
        grads = [(w.grad, w) for w in weights if w.grad is not None]
        self.optimizer.apply_gradients(grads if shard is None else shard.sum_gradients(grads))
        for w in weights:  # Keras applies constraints right after the update
            if getattr(w, "constraint", None) is not None:
                w.data[...] = w.constraint(w.data)
        return float(loss.item()), prediction.data

    def _test_step(self, x: Any, y: np.ndarray, sample_weight: Any = None) -> tuple[float, np.ndarray]:
        with no_grad():
            loss, prediction = self._forward_loss(x, y, training=False, sample_weight=sample_weight)
        return float(loss.item()), prediction.data

    def _run_batches(self, x, y, batch_size, indices, step, callbacks, kind: str, bar: ProgressBar,
                     sample_weight: np.ndarray | None = None) -> dict:
        """Run ``step`` over batches of ``indices``; running loss weighted by batch size (Keras);
        ``sample_weight`` weighs the loss, not the metrics (Keras' ``metrics``).

        Data-parallel (``faltung.distributed``), each rank steps through its shard of every batch,
        and the logs are those of the whole batches.
        """
        parallel = distributed.strategy()
        for m in self._metrics:
            m.reset_state()
        total, seen = 0.0, 0
        logs: dict = {}
        for b, start in enumerate(range(0, len(indices), batch_size)):
            getattr(callbacks, f"on_{kind}_batch_begin")(b)
            with parallel.shard(indices[start:start + batch_size]) as (idx, size):
                xb, yb = self._take(x, idx), y[idx]
                wb = None if sample_weight is None else sample_weight[idx]
                loss, prediction = step(xb, yb, wb)
            total += loss * size
            seen += size
            if size:  # else this rank computed a placeholder sample, which counts for nothing
                for m in self._metrics:  # compile()'s metrics ignore sample weights in Keras
                    m.update_state(yb, prediction)
            logs = parallel.logs(total, seen, self._metrics)
            getattr(callbacks, f"on_{kind}_batch_end")(b, logs)
            bar.update(b + 1, logs)
            if kind == "train" and self.stop_training:
                break
        return logs

    # ----- fit / evaluate / predict -----
    def _data_parallel(self, callbacks, params: dict, what: str, fit: bool = False):
        """The strategy that shares this call's work between ranks (``faltung.distributed``; in one
        process it changes nothing) after it has set every rank up alike, and the callbacks as it runs
        them. ``what`` names the work, so that ranks given different work fail instead of hanging."""
        parallel = distributed.strategy()
        parallel.begin(self, what, fit=fit)
        return parallel, parallel.callbacks(CallbackList(callbacks, model=self, params=params), self)

    @_in_scope(release_memory=True)
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Sequence[Any] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, initial_epoch: int = 0,
            sample_weight: Any = None, class_weight: dict | None = None) -> History:
        """Train for ``epochs`` passes over (x, y) in shuffled mini-batches; returns a ``History``.

        x: (N, ...) samples (uint8 images are cast to float); y: (N,) labels or (N, ...) targets.
        ``validation_split`` holds out the last fraction of the data before shuffling, as Keras does.
        ``sample_weight`` (N,) weighs each sample's loss (compile's metrics stay unweighted, as in
        Keras); ``class_weight``
        ``{class: weight}`` gives every sample its class's weight (Keras: one or the other).
        ``validation_data`` may be (x_val, y_val) or (x_val, y_val, sample_weight_val).
        """
        self._require_compiled("fit")
        batch_size = _check_batch_size(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1); got {validation_split!r}")
        if not isinstance(epochs, int) or epochs < 0 or not isinstance(initial_epoch, int) or initial_epoch < 0:
            raise ValueError(f"epochs and initial_epoch must be non-negative ints; got {epochs!r}, {initial_epoch!r}")
        x = self._prepare_x(x, warn_unscaled=True)
        n = self._length(x)
        y = self._prepare_y(y, n)
        if class_weight is not None and sample_weight is not None:
            raise ValueError("fit() got both class_weight and sample_weight; give one (as Keras requires)")
        sample_weight = _check_sample_weight(sample_weight, n)
        if validation_data is None and validation_split:
            split = int(math.floor(n * (1.0 - validation_split)))  # Keras' split point
            if split in (0, n):
                raise ValueError(f"validation_split={validation_split} of {n} samples leaves an empty set")
            validation_data = (self._take(x, slice(split, None)), y[split:],
                               None if sample_weight is None else sample_weight[split:])
            x, y, n = self._take(x, slice(0, split)), y[:split], split
            sample_weight = None if sample_weight is None else sample_weight[:split]
        if class_weight is not None:  # the training samples only: Keras leaves validation unweighted
            sample_weight = _class_weight_to_sample_weight(y, class_weight)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight)")
            vx = self._prepare_x(validation_data[0])
            vn = self._length(vx)
            vw = _check_sample_weight(validation_data[2] if len(validation_data) == 3 else None, vn)
            validation_data = (vx, self._prepare_y(validation_data[1], vn), vw)
        if n == 0:
            raise ValueError("fit() got no training samples")
        steps = math.ceil(n / batch_size)
        history = History()
        self.stop_training = False
        parallel, cbs = self._data_parallel(list(callbacks or []) + [history],
                                            {"epochs": epochs, "steps": steps, "verbose": verbose},
                                            f"fit on {n} samples in batches of {batch_size}, "
                                            f"epochs {initial_epoch}..{epochs}", fit=True)
        verbose = parallel.verbose(verbose)
        # a ProgbarLogger among the callbacks draws the bar itself (Keras never shows two)
        bar_verbose = 0 if any(isinstance(cb, ProgbarLogger) for cb in callbacks or []) else verbose
        cbs.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            parallel.share_random_state()
            order = backend.rng().permutation(n) if shuffle else np.arange(n)
            bar = ProgressBar(steps, bar_verbose, title=f"Epoch {epoch + 1}/{epochs}")
            logs = self._run_batches(x, y, batch_size, order, self._train_step, cbs, "train", bar, sample_weight)
            if validation_data is not None:
                vx, vy, vw = validation_data
                val = self._evaluate_logs(vx, vy, batch_size, CallbackList([]), ProgressBar(0, 0), vw)
                logs.update({f"val_{k}": v for k, v in val.items()})
            cbs.on_epoch_end(epoch, logs)
            bar.close(logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return history

    def _evaluate_logs(self, x, y, batch_size, callbacks, bar, sample_weight=None) -> dict:
        return self._run_batches(x, y, batch_size, np.arange(self._length(x)), self._test_step, callbacks,
                                 "test", bar, sample_weight)

    @_in_scope(release_memory=True)
    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, callbacks: Sequence[Any] | None = None, return_dict: bool = False) -> Any:
        """Loss and metrics on (x, y): ``[loss, metric, ...]``, a float without metrics, or a dict.
        ``sample_weight`` (N,) weighs each sample's loss, as in ``fit``."""
        self._require_compiled("evaluate")
        batch_size = _check_batch_size(batch_size)
        x = self._prepare_x(x)
        y = self._prepare_y(y, self._length(x))
        sample_weight = _check_sample_weight(sample_weight, self._length(x))
        if self._length(x) == 0:
            raise ValueError("evaluate() got no samples: the loss and metrics of an empty set are undefined")
        steps = math.ceil(self._length(x) / batch_size)
        parallel, cbs = self._data_parallel(callbacks, {"steps": steps},
                                            f"evaluate on {self._length(x)} samples in batches of {batch_size}")
        bar = ProgressBar(steps, parallel.verbose(1 if verbose == "auto" else verbose))
        cbs.on_test_begin()
        logs = self._evaluate_logs(x, y, batch_size, cbs, bar, sample_weight)
        cbs.on_test_end(logs)
        bar.close(logs)
        return _result(logs, self.metrics_names, return_dict)

    @_in_scope(release_memory=True)
    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                callbacks: Sequence[Any] | None = None) -> Any:
        """The model's outputs for x, computed in batches without recording gradients: an ndarray."""
        self._check_usable("predict")
        batch_size = _check_batch_size(batch_size)
        x = self._prepare_x(x)
        n = self._length(x)
        steps = math.ceil(n / batch_size)
        parallel, cbs = self._data_parallel(callbacks, {"steps": steps},
                                            f"predict on {n} samples in batches of {batch_size}")
        bar = ProgressBar(steps, parallel.verbose(1 if verbose == "auto" else verbose))
        cbs.on_predict_begin()
        outputs = []
        with no_grad():
            for b, start in enumerate(range(0, n, batch_size)):
                cbs.on_predict_batch_begin(b)
                with parallel.shard(slice(start, min(start + batch_size, n))) as (part, size):
                    out = self(self._take(x, part), training=False)
                outputs.append([o.data[:size] for o in out] if isinstance(out, list) else out.data[:size])
                cbs.on_predict_batch_end(b, {"outputs": outputs[-1]})
                bar.update(b + 1)
        cbs.on_predict_end()
        bar.close({})
        if outputs and isinstance(outputs[0], list):
            return [parallel.concatenate(parts, n, batch_size) for parts in zip(*outputs)]
        if outputs:
            return parallel.concatenate(outputs, n, batch_size)
        return np.zeros((0,) + tuple(self.output_shape[1:]), self.dtype)

    @_in_scope(release_memory=False)
    def predict_on_batch(self, x: Any) -> Any:
        """The model's outputs for one batch x, in inference mode: an ndarray (a list for several outputs)."""
        self._check_usable("predict_on_batch")
        with no_grad():
            out = self(self._prepare_x(x), training=False)
        return [o.data for o in out] if isinstance(out, list) else out.data

    @_in_scope(release_memory=False)  # a loop of batches reuses the kernels' buffers
    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """One gradient step on one batch; returns the loss (and metrics) on that batch."""
        self._require_compiled("train_on_batch")
        return self._one_batch(x, y, self._train_step, return_dict, sample_weight)

    @_in_scope(release_memory=False)
    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Loss (and metrics) on one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        return self._one_batch(x, y, self._test_step, return_dict, sample_weight)

    def _one_batch(self, x, y, step, return_dict, sample_weight=None):
        x = self._prepare_x(x, warn_unscaled=step == self._train_step)
        y = self._prepare_y(y, self._length(x))
        sample_weight = _check_sample_weight(sample_weight, self._length(x))
        for m in self._metrics:
            m.reset_state()
        loss, prediction = step(x, y, sample_weight)
        for m in self._metrics:
            m.update_state(y, prediction)
        logs = {"loss": loss, **{m.name: float(m.result()) for m in self._metrics}}
        return _result(logs, self.metrics_names, return_dict)


def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """None, or (N,) finite non-negative weights as float64 (Keras takes per-sample weights)."""
    if sample_weight is None:
        return None
    w = np.asarray(getattr(sample_weight, "data", sample_weight))
    if w.dtype.kind not in "fiub" or w.ndim != 1 or len(w) != n:
        raise ValueError(f"sample_weight must be {n} numbers, one per sample, shape ({n},); "
                         f"got shape {w.shape}, dtype {w.dtype}")
    if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
        raise ValueError("sample_weight must hold finite values >= 0")
    return w.astype(np.float64)


def _class_weight_to_sample_weight(y: np.ndarray, class_weight: Any) -> np.ndarray:
    """Keras' rule: each sample weighs its class's entry (1 for classes not listed); the class is the
    label, or the argmax of one-hot rows."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}; got {class_weight!r}")
    labels = y
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64).reshape(len(y))
    weights = np.ones(len(y), dtype=np.float64)
    for cls, weight in class_weight.items():
        weights[labels == int(cls)] = float(weight)
    return weights


def _check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32  # Keras' default
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    return int(batch_size)


def _result(logs: dict, names: list[str], return_dict: bool) -> Any:
    if return_dict:
        return dict(logs)
    values = [logs.get(k, float("nan")) for k in names]
    return values[0] if len(values) == 1 else values
