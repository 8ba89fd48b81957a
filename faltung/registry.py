"""The one registry: every class or function a saved config may name, found by its kind and name.

Layers, activations, losses (and the loss functions a wrapper names), metrics (and their
functions), optimizers, learning-rate schedules, initializers, regularizers and constraints register here when their module is imported. Loading a config
looks names up here and nowhere else, so a file can only ever name faltung's own objects
(or those a user registered in this process): it never imports a module or runs its code.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

KINDS = ("layer", "activation", "loss", "loss_function", "metric", "metric_function", "optimizer", "schedule",
         "initializer", "regularizer", "constraint")

_ENTRIES: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> dict[str, Any]:
    if kind not in _ENTRIES:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {list(KINDS)}")
    return _ENTRIES[kind]


def register(kind: str, *aliases: str) -> Callable[[Any], Any]:
    """Decorator: file a class or function under its ``__name__`` (and ``aliases``) as a ``kind``.

    >>> @register("activation", "my_identity")
    ... def identity(x):
    ...     return x
    >>> lookup("activation", "my_identity") is identity
    True
    """
    entries = _check_kind(kind)

    def add(obj: Any) -> Any:
        for name in (obj.__name__, *aliases):
            entries[name] = obj
        return obj
    return add


def lookup(kind: str, name: Any) -> Any:
    """The ``kind`` registered as ``name``, or a ValueError naming the known names (and a near miss)."""
    entries = _check_kind(kind)
    if isinstance(name, str) and name in entries:
        return entries[name]
    hint = [k for k in entries if isinstance(name, str) and k.lower() == name.lower()]
    suggestion = f" (names are case-sensitive: did you mean {hint[0]!r}?)" if hint else ""
    known = ", ".join(map(repr, sorted(entries)))
    raise ValueError(f"unknown {kind.replace('_', ' ')} {name!r}{suggestion}; faltung knows {known}")


def entries(kind: str) -> dict[str, Any]:
    """A copy of ``{name: object}`` for every name of a kind (aliases included)."""
    return dict(_check_kind(kind))


def serialize(obj: Any) -> dict[str, Any]:
    """Keras' layout of an object with a config: ``{"class_name": ..., "config": {...}}``."""
    get_config = getattr(obj, "get_config", None)
    if get_config is None:
        raise TypeError(f"cannot serialize {obj!r}: it has no get_config()")
    return {"class_name": type(obj).__name__, "config": get_config()}


def deserialize(kind: str, entry: Any) -> Any:
    """The object ``serialize`` described, rebuilt from this registry's class (never imported)."""
    if (not isinstance(entry, Mapping) or not isinstance(entry.get("class_name"), str)
            or not isinstance(entry.get("config", {}) or {}, Mapping)):
        raise ValueError(f"a {kind} entry must be a dict {{'class_name': str, 'config': dict}}; "
                         f"got {entry!r:.200}")
    cls = lookup(kind, entry["class_name"])
    if not isinstance(cls, type):
        raise ValueError(f"{kind} {entry['class_name']!r} is a function, not a class with a config")
    return cls.from_config(dict(entry.get("config") or {}))
