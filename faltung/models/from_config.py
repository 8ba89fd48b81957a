"""Building a model from a config that came from a file, with every size checked before memory is spent.

Used by ``load_model`` (whose weights then come from the file) and by ``faltung train --model
CONFIG.json`` (whose weights are then initialised as an ordinary build would initialise them).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .. import backend
from ..layers.base import get_layer_class
from ..layers.deferred import Deferral, deferred_weights
from .model import Model

# A model from a file may hold at most this many bytes of weights (4 GiB: 10**9 float32 numbers,
# far beyond any network a NumPy CPU library trains). Larger configs are refused before anything
# is allocated; raise it here if you really mean to load such a model.
MAX_WEIGHT_BYTES = 4 * 2**30
# Building costs some 20 microseconds and a few KB per layer; Keras' largest applications have
# about 800 layers. More than this many layers (or graph nodes) in one model is refused unread.
MAX_LAYERS = 10_000


def build_unallocated(class_name: Any, config: Any, source: str) -> tuple[Model, Deferral]:
    """The model ``config`` describes, its weights zero-cost read-only placeholders of the right shapes.

    ``source`` (the file's name) starts every error message. Returns the model and the
    ``Deferral`` that records its placeholders, for ``layers.deferred.initialize`` or for the
    caller to replace each ``weight.data`` with arrays read from a file.

    Raises ValueError for an unknown or non-model class, more than ``MAX_LAYERS`` layers, and
    anything that goes wrong while building (bad arguments, shapes too big for numpy, weights
    over ``MAX_WEIGHT_BYTES`` in all, ...).
    """
    try:
        cls = get_layer_class(class_name)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"{source}: class {class_name!r} is not a model")
    if not isinstance(config, dict):
        raise ValueError(f"{source}: no model config (expected a JSON object; got {type(config).__name__})")
    for key in ("layers", "nodes"):
        entries = config.get(key)
        if isinstance(entries, list) and len(entries) > MAX_LAYERS:
            raise ValueError(f"{source}: the model config lists {len(entries):,} {key}; "
                             f"at most {MAX_LAYERS:,} are read")
    try:
        with deferred_weights(MAX_WEIGHT_BYTES) as deferral:
            model = cls.from_config(config)
    # A config is data: whatever interpreting it raises (TypeError, KeyError, OverflowError,
    # ZeroDivisionError, RecursionError, numpy's errors, ...) means the config is invalid.
    except Exception as err:
        raise ValueError(f"{source}: the model config is invalid ({type(err).__name__}: {err})") from None
    return model, deferral


@contextlib.contextmanager
def rng_untouched() -> Iterator[None]:
    """Building layers draws initial weights; keep the global stream as it was so a resumed
    run shuffles and drops out exactly like an uninterrupted one."""
    state = backend.rng().bit_generator.state
    try:
        yield
    finally:
        backend.rng().bit_generator.state = state
