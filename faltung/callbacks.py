"""Callbacks: hooks into ``fit``/``evaluate``/``predict`` with Keras' names, and the ones Keras ships."""
from __future__ import annotations

import csv
import inspect
import math
import os
import warnings
from collections.abc import Iterable
from typing import Any, Callable

import numpy as np


class Callback:
    """Base class: override any ``on_*`` hook. ``self.model`` and ``self.params`` are set by ``fit``."""

    def __init__(self) -> None:
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList:
    """Calls a hook on every callback in order: ``callbacks.on_epoch_end(epoch, logs)``."""

    def __init__(self, callbacks: Iterable[Callback] | None, model=None, params: dict | None = None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {type(cb).__name__}")
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)

    def __getattr__(self, hook: str) -> Any:
        if hook not in _HOOKS:
            raise AttributeError(hook)

        def call_all(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return call_all


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]``, ``history.epoch``, ``history.params``."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


# --------------------------------------------------------------------------- #
# Watching a monitored quantity (shared by EarlyStopping, ModelCheckpoint, ReduceLROnPlateau)
# --------------------------------------------------------------------------- #
_MODES = ("auto", "min", "max")
# Fragments of metric names that improve upwards / downwards, for mode="auto" when the metric
# object itself does not say (Keras 3 asks the metric's ``_direction``; Keras 2 matched "acc").
_UP_NAMES = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2", "cosine_similarity")
_DOWN_NAMES = ("loss", "error", "crossentropy", "mse", "mae", "mape", "msle", "hinge", "kl_divergence",
               "poisson", "log_cosh", "huber")


def _check_mode(owner: str, mode: Any) -> str:
    if mode not in _MODES:
        # Keras warns and falls back to "auto"; so do we, with the value named.
        warnings.warn(f"{owner} mode {mode!r} is unknown, fallback to auto mode "
                      f"(expected one of {', '.join(_MODES)}).", stacklevel=3)
        return "auto"
    return mode


def _infer_direction(owner: str, monitor: str, mode: str, model: Any) -> str:
    """'min' or 'max' for ``monitor``: ``mode`` if given, else the metric's own direction, else its name."""
    if mode in ("min", "max"):
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss":
        return "min"
    for m in getattr(model, "_metrics", None) or []:
        direction = getattr(m, "_direction", None) or getattr(m, "direction", None)
        if getattr(m, "name", None) == name and direction in ("up", "down"):
            return "max" if direction == "up" else "min"
    lowered = name.lower()
    if any(part in lowered for part in _UP_NAMES):
        return "max"
    if any(part in lowered for part in _DOWN_NAMES):
        return "min"
    raise ValueError(f"{owner} callback received monitor={monitor!r}, but faltung isn't able to "
                     "automatically determine whether that metric should be maximized or minimized. "
                     "Pass mode='max' in order to monitor based on the highest metric value, or pass "
                     "mode='min' in order to use the lowest value.")


def _as_float(value: Any) -> float | None:
    """A scalar log value as a float; None for anything else (arrays with more than one element)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return float(arr) if arr.ndim == 0 else None


def _available(logs: dict) -> str:
    return ",".join(logs.keys())


# --------------------------------------------------------------------------- #
# EarlyStopping
# --------------------------------------------------------------------------- #
class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving for ``patience`` epochs (Keras 3 rules).

    An epoch improves when ``current + min_delta < best`` (mode min) or ``current - min_delta > best``
    (mode max). ``wait`` counts epochs since the last improvement; training stops once
    ``wait >= patience`` (never at the first epoch). With ``baseline``, an improvement resets
    ``wait`` only if it also beats the baseline. Epochs before ``start_from_epoch`` are ignored.
    With ``restore_best_weights=True`` the best epoch's weights are put back at the end of
    training, whether it stopped early or ran all its epochs (Keras 3).

    >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> model.fit(x, y, validation_split=0.1, epochs=100, callbacks=[stop])  # doctest: +SKIP
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode("EarlyStopping", mode)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.direction: str | None = None
        self.best = math.inf
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights: list | None = None

    def _improves(self, value: float, reference: float) -> bool:
        if self.direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def _setup(self) -> None:
        self.direction = _infer_direction("EarlyStopping", self.monitor, self.mode, self.model)
        self.best = math.inf if self.direction == "min" else -math.inf

    def on_train_begin(self, logs=None):
        # Reusable across fits: a second fit starts from a clean slate (best included).
        self._setup()
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None

    def get_monitor_value(self, logs: dict | None) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {_available(logs)}", stacklevel=3)
            return None
        return _as_float(value)

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._setup()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Nothing better has been seen yet, so the current weights are the best so far.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


# --------------------------------------------------------------------------- #
# ModelCheckpoint
# --------------------------------------------------------------------------- #
class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after every epoch, or every ``save_freq`` batches.

    ``filepath`` may hold format fields filled from the logs and the 1-based ``epoch`` (and
    ``batch`` with an integer ``save_freq``): ``"ckpt-{epoch:02d}-{val_loss:.2f}.faltung"``.
    With ``save_best_only=True`` a file is written only when ``monitor`` improves on the best
    so far (which starts at ``initial_value_threshold`` when given). Unlike Keras, a checkpoint is
    never written when the logs hold a NaN or infinite loss (or monitored value): a diverged model
    must not overwrite a good file. Saves go through ``model.save``/``model.save_weights``, which
    write atomically.
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _check_mode("ModelCheckpoint", mode)
        if save_freq != "epoch" and (not isinstance(save_freq, (int, np.integer)) or isinstance(save_freq, bool)
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or "
                             "integer values >= 1")
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self.direction: str | None = None
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.direction == "min" else value > self.best

    def on_train_begin(self, logs=None):
        # Only save_best_only compares values, so only it needs a direction (an unknown name fails here,
        # before any training).
        if self.save_best_only and self.direction is None:
            self.direction = _infer_direction("ModelCheckpoint", self.monitor, self.mode, self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # Count batches across epoch boundaries, as Keras does: batch indices restart each epoch.
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _get_file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e!r}; '
                           f"available fields: epoch, {', '.join(logs.keys())}") from None

    def _non_finite(self, logs: dict) -> list[str]:
        keys = [k for k in logs if k == "loss" or k.endswith("_loss")]
        if self.monitor in logs and self.monitor not in keys:
            keys.append(self.monitor)
        bad = []
        for k in keys:
            v = _as_float(logs[k])
            if v is not None and not math.isfinite(v):
                bad.append(f"{k}={v}")
        return bad

    def _should_save(self, epoch: int, logs: dict, filepath: str) -> bool:
        bad = self._non_finite(logs)
        if bad:
            warnings.warn(f"ModelCheckpoint: epoch {epoch + 1} has {', '.join(bad)}; not saving the model to "
                          f"{filepath}, so the last good checkpoint is kept.", RuntimeWarning, stacklevel=4)
            return False
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        if self.direction is None:
            self.direction = _infer_direction("ModelCheckpoint", self.monitor, self.mode, self.model)
        raw = logs.get(self.monitor)
        if raw is None:
            warnings.warn(f"Can save best model only with {self.monitor} available. Available metrics are: "
                          f"{_available(logs)}", stacklevel=4)
            return True
        current = _as_float(raw)
        if current is None:
            warnings.warn(f"Can save best model only when `monitor` is a scalar value. Received: {raw}. "
                          "Falling back to `save_best_only=False`.", stacklevel=4)
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._improves(current):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                          f"existing directory: {filepath}")
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


# --------------------------------------------------------------------------- #
# Learning-rate callbacks
# --------------------------------------------------------------------------- #
class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    An epoch improves when ``current < best - min_delta`` (mode min) or ``current > best + min_delta``
    (mode max). After a reduction, ``cooldown`` epochs pass before ``wait`` counts again; the rate
    never goes below ``min_lr``. Each epoch's logs get ``"learning_rate"``: the rate that epoch
    trained with (before any reduction at its end), as Keras 3 logs it.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode("ReduceLROnPlateau", mode)
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.direction: str | None = None
        self.best = math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _reset(self) -> None:
        self.direction = _infer_direction("ReduceLROnPlateau", self.monitor, self.mode, self.model)
        self.best = math.inf if self.direction == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improves(self, value: float) -> bool:
        if self.direction == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._reset()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        raw = logs.get(self.monitor)
        if raw is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {_available(logs)}.", stacklevel=3)
            return
        current = _as_float(raw)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                # Keras compares in float32, so a rate that is min_lr up to float32 rounding stays put.
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch: ``lr = schedule(epoch, lr)``, epoch from 0.

    A ``schedule(epoch)`` of one argument works too (Keras' old API). The epoch's logs get
    ``"learning_rate"``.

    >>> LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)  # doctest: +ELLIPSIS
    <...LearningRateScheduler object at ...>
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: `schedule` must be a function (epoch, lr) -> lr; "
                            f"got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def _call_schedule(self, epoch: int, lr: float) -> Any:
        try:
            inspect.signature(self.schedule).bind(epoch, lr)
        except TypeError:
            return self.schedule(epoch)  # the one-argument form
        except ValueError:  # no signature to inspect (some builtins): just try the new API
            pass
        return self.schedule(epoch, lr)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = self._call_schedule(epoch, float(optimizer.learning_rate))
        if isinstance(lr, np.ndarray) and lr.ndim == 0:
            lr = lr[()]
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr!r} "
                             f"(type {type(lr).__name__}) at epoch {epoch}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


# --------------------------------------------------------------------------- #
# CSVLogger, TerminateOnNaN, LambdaCallback
# --------------------------------------------------------------------------- #
class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file: header ``epoch,<sorted keys>``, one flushed row per epoch.

    ``epoch`` is 0-based, as Keras writes it. Keys are fixed by the first epoch; a key missing
    later is written ``NA``. With ``append=True`` rows go after an existing file's (its header is
    kept, not repeated).
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.csv_file = None
        self.writer = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    @staticmethod
    def _handle_value(value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, np.ndarray) and value.ndim == 0:
            return value.item()
        if isinstance(value, Iterable):
            return f'"[{", ".join(map(str, value))}]"'
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs.keys())
        if self.writer is None:
            self.writer = csv.writer(self.csv_file, delimiter=self.sep, lineterminator="\n")
            if self.append_header:
                self.writer.writerow(["epoch"] + self.keys)
        self.writer.writerow([epoch] + [self._handle_value(logs.get(k, "NA")) for k in self.keys])
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stop training after the first batch whose loss is NaN or infinite.

    Sets ``model.stop_training`` (so ``on_train_end`` still runs) and warns with the epoch, batch and
    loss; with ``raise_error=True`` raises ``RuntimeError`` at once instead (Keras 3.x).
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = _as_float(loss)
        if value is None or math.isfinite(value):
            return
        where = f"epoch {self._epoch + 1}, batch {batch}"
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at {where}. Loss value: {value}. "
                               "Terminating training immediately.")
        warnings.warn(f"TerminateOnNaN: invalid loss at {where}: loss={value}; terminating training.",
                      RuntimeWarning, stacklevel=3)
        self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Any hook of ``Callback`` may be given by name. Functions are called with the hook's positional
    arguments and ``logs`` last (``None`` where ``fit`` passes none): ``(epoch, logs)``,
    ``(batch, logs)`` or ``(logs)``.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs: Any) -> None:
        super().__init__()
        # Keras' older names, still accepted by Keras 3 (its on_train_batch_* call on_batch_*)
        for old, new in (("on_batch_begin", "on_train_batch_begin"), ("on_batch_end", "on_train_batch_end")):
            if old in kwargs:
                if locals()[new] is not None:
                    raise TypeError(f"LambdaCallback got both {old} and {new}; give one")
                if new == "on_train_batch_begin":
                    on_train_batch_begin = kwargs.pop(old)
                else:
                    on_train_batch_end = kwargs.pop(old)
        unknown = sorted(k for k in kwargs if k not in _HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s) {unknown}; expected names among {_HOOKS}")
        hooks = dict(kwargs, on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin, on_train_batch_end=on_train_batch_end)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable; got {fn!r}")
            setattr(self, name, _with_logs(fn, takes_index=name not in _NO_INDEX_HOOKS))


_NO_INDEX_HOOKS = {name for name in _HOOKS if "batch" not in name and "epoch" not in name}


def _with_logs(fn: Callable, takes_index: bool) -> Callable:
    if takes_index:
        def hook(index, logs=None):
            return fn(index, logs)
    else:
        def hook(logs=None):
            return fn(logs)
    return hook


# --------------------------------------------------------------------------- #
# ProgbarLogger, TensorBoard
# --------------------------------------------------------------------------- #
class ProgbarLogger(Callback):
    """The progress bar of ``fit`` as a callback (Keras): given in ``callbacks``, it replaces fit's own
    bar (so there is never a second one) and follows fit's ``verbose``: 1 a live bar per epoch, 2 one
    line per epoch, 0 nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        from .progress import ProgressBar
        verbose = self.params.get("verbose", 1)
        self._bar = ProgressBar(self.params.get("steps") or 0, 1 if verbose == "auto" else verbose,
                                title=f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}")

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(batch + 1, dict(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close(dict(logs or {}))
            self._bar = None


class TensorBoard(Callback):
    """Write the training curves as TensorBoard event files, as Keras does: under ``log_dir/train``
    the scalars ``epoch_loss``, ``epoch_<metric>`` and ``epoch_learning_rate`` per epoch, under
    ``log_dir/validation`` the ``val_`` ones (without the prefix); with ``update_freq="batch"`` (or
    every N batches) also ``batch_<name>`` per batch; with ``histogram_freq=N`` a histogram of every
    weight (``<layer>/<weight>/histogram``) every N epochs. ``tensorboard --logdir log_dir`` shows them.

    Needs the optional ``tensorboardX`` writer (``pip install "faltung[tensorboard]"``); the error
    says so at ``fit``'s start, before any training.
    """

    def __init__(self, log_dir: Any = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: Any = "epoch",
                 profile_batch: Any = 0, embeddings_freq: int = 0, embeddings_metadata: Any = None) -> None:
        super().__init__()
        if update_freq not in ("epoch", "batch") and (not isinstance(update_freq, int) or isinstance(
                update_freq, bool) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int; got {update_freq!r}")
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an int >= 0; got {histogram_freq!r}")
        if profile_batch or embeddings_freq or write_images:
            raise ValueError("TensorBoard: profile_batch, embeddings_freq and write_images are not supported by "
                             "faltung; leave them at 0/False")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.write_graph = histogram_freq, write_graph  # (no graph: faltung has no TF graph)
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers: dict = {}
        self._global_batch = 0
        self._epoch_start = 0.0

    def _writer(self, run: str):
        if run not in self._writers:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                raise ImportError("the TensorBoard callback writes event files with tensorboardX, which is not "
                                  "installed: pip install tensorboardX (or faltung[tensorboard])") from None
            self._writers[run] = SummaryWriter(log_dir=os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_train_begin(self, logs=None):
        self._writer("train")  # fails here, before any training, when tensorboardX is missing
        self._global_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        import time
        self._epoch_start = time.perf_counter()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_batch += 1
        self._epoch_batches = batch + 1
        if self.update_freq != "epoch" and self._global_batch % self.update_freq == 0:
            for name, value in (logs or {}).items():
                scalar = _as_float(value)
                if scalar is not None:
                    self._writer("train").add_scalar(f"batch_{name}", scalar, self._global_batch)

    def on_epoch_end(self, epoch, logs=None):
        import time
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in train and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            train["steps_per_second"] = self._epoch_batches / max(time.perf_counter() - self._epoch_start, 1e-9)
        for run, items in (("train", train.items()),
                           ("validation", [(k[4:], v) for k, v in logs.items() if k.startswith("val_")])):
            for name, value in items:
                scalar = _as_float(value)
                if scalar is not None:
                    self._writer(run).add_scalar(f"epoch_{name}", scalar, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for layer in self.model.layers:
                for weight in layer.weights:
                    self._writer("train").add_histogram(f"{weight.name}/histogram", weight.data, epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
