"""Optimizers: Keras 3's gradient-descent update rules, learning-rate schedules and resumable optimizer state.

An optimizer updates *variables*: objects with a ``.data`` attribute (a float
``np.ndarray``, updated in place and kept in its dtype) and a ``.name``.

>>> opt = get("adam")                                # == Adam(learning_rate=0.001)
>>> opt.apply_gradients([(grad_w, w), (grad_b, b)])  # doctest: +SKIP

Every optimizer follows Keras 3 (``keras/src/optimizers/``) step for step:

1. ``None`` gradients are dropped (with a warning naming the variables);
2. gradients are clipped (``clipnorm`` per variable, ``global_clipnorm`` over all
   of them, or ``clipvalue`` element-wise; at most one of the three);
3. decoupled weight decay ``w <- w - w * weight_decay * lr`` is applied to every
   variable that has a gradient (for *all* optimizers, not only AdamW);
4. the optimizer's own update rule runs with ``t = iterations + 1``;
5. ``iterations`` increases by one.

The learning rate of a step is ``learning_rate`` as a float, or a schedule
evaluated at ``iterations`` (before the increment), as Keras does.

The package follows Keras' layout: ``base`` holds those steps, ``sgd``, ``adam`` (Adam and
AdamW), ``rmsprop`` and ``adagrad`` one update rule each, ``schedules`` the learning-rate
schedules; this module looks optimizers up by name.
"""
from __future__ import annotations

from typing import Any, Mapping

from .. import registry
from . import schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import LearningRate, Optimizer  # noqa: F401  (LearningRate stays importable here)
from .rmsprop import RMSprop
from .schedules import CosineDecay, ExponentialDecay, LearningRateSchedule
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "LearningRateSchedule",
    "ExponentialDecay",
    "CosineDecay",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]


# --------------------------------------------------------------------------- #
# Lookup and serialization
# --------------------------------------------------------------------------- #
# Keras' names are case-insensitive for optimizers: each class is filed under its lower-case name.
for _cls in (SGD, Adam, AdamW, RMSprop, Adagrad):
    registry.register("optimizer", _cls.__name__.lower())(_cls)


def _class(name: str) -> type[Optimizer]:
    return registry.lookup("optimizer", name.lower() if isinstance(name, str) else name)


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of an optimizer (Keras' layout)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize: expected an Optimizer; received {type(optimizer).__name__}")
    return registry.serialize(optimizer)


def deserialize(config: Mapping[str, Any]) -> Optimizer:
    """The optimizer described by ``{"class_name": ..., "config": ...}`` (class name case-insensitive)."""
    if not isinstance(config, Mapping) or not isinstance(config.get("class_name"), str):
        raise ValueError(
            f"deserialize: expected a dict with a string 'class_name' and a 'config'; received {config!r}"
        )
    return registry.deserialize("optimizer", {**config, "class_name": config["class_name"].lower()})


def get(identifier: str | Mapping[str, Any] | Optimizer | None) -> Optimizer | None:
    """An optimizer from a name (``"adam"``, ``"SGD"``, ... case-insensitive, default
    arguments), a ``{"class_name", "config"}`` dict, or an instance (returned as is).

    >>> get("rmsprop").learning_rate
    0.001
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _class(identifier)()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    raise ValueError(
        f"could not interpret optimizer identifier {identifier!r}; expected a name "
        f"({', '.join(sorted(registry.entries('optimizer')))}), a config dict or an Optimizer instance"
    )
