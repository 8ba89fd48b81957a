"""Names and configs of the small objects a model is compiled with (losses, metrics): Keras' default
names, ``from_config`` that refuses unknown keys, and function wrappers restored by name only."""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Mapping

from . import registry


def snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: "SparseTopKCategoricalAccuracy" -> "sparse_top_k_categorical_accuracy"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def default_name(obj: Any, name: Any) -> str:
    """``name``, or Keras' default, the snake_case class name, when it is None or empty."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{type(obj).__name__}: name must be a str or None; got {name!r}")
    return name or snake_case(type(obj).__name__)


def function_name(fn: Callable[..., Any]) -> str:
    # A wrapped function is saved by name only: files never carry code, so a custom function
    # saves fine but cannot be restored (wrapper_from_config names it).
    return getattr(fn, "__name__", type(fn).__name__)


def checked_from_config(cls: type, config: Mapping[str, Any]) -> Any:
    """``cls(**config)``, refusing keys the constructor does not take (named in the error)."""
    if not isinstance(config, Mapping):
        raise TypeError(f"{cls.__name__}.from_config: config must be a dict; got {type(config).__name__}")
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    allowed = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
    unknown = sorted(set(config) - set(allowed))
    if unknown and not takes_any:
        raise ValueError(f"{cls.__name__}.from_config: unknown config keys {unknown}; expected some of {allowed}")
    return cls(**config)


def wrapper_from_config(cls: type, config: Mapping[str, Any], kind: str) -> Any:
    """``cls(fn, **config)``, with the config's ``"fn"`` name looked up among the registry's
    ``kind`` (``"loss_function"``, ``"metric_function"``) only: files never carry code."""
    config = dict(config)
    name = config.pop("fn", None)
    return cls(registry.lookup(kind, name), **config)
