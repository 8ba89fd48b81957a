"""``keras.saving``: save and load whole models, and register your own layer classes so that files
naming them can be loaded.

>>> @register_keras_serializable()
... class Scale(layers.Layer):                               # doctest: +SKIP
...     def __init__(self, factor=2.0, **kwargs):
...         super().__init__(**kwargs)
...         self.factor = factor
...     def call(self, x, training=False):
...         return x * self.factor
...     def get_config(self):
...         return {**super().get_config(), "factor": self.factor}

Registration is by class, in memory: a file only names classes, and loading looks the name up among
faltung's own layers and the classes registered in this process. Nothing in a file is ever run.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from .models.saving import load_model as _load_model, save_model as _save_model
from .layers.base import Layer, get_layer_class, register_user_class

__all__ = ["load_model", "save_model", "register_keras_serializable", "get_registered_object",
           "get_registered_name"]


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable[[type], type]:
    """A class decorator: make a ``Layer`` (or ``Model``) subclass loadable from files by its class name.

    ``package`` is accepted for Keras' signature; faltung's files name classes by ``__name__`` alone,
    so ``name``, when given, must equal it. Registering a second, different class under a name that
    is taken (faltung's own ``Dense``, say) is a ValueError: a file must never load a class other
    than the one it was saved with.
    """
    if not isinstance(package, str):
        raise TypeError(f"register_keras_serializable: package must be a str; got {package!r}")

    def decorate(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"register_keras_serializable: faltung registers Layer and Model subclasses; "
                            f"got {cls!r}")
        if name is not None and name != cls.__name__:
            raise ValueError(f"register_keras_serializable: faltung saves classes under their own name, so "
                             f"name must be None or {cls.__name__!r}; got {name!r}")
        register_user_class(cls)
        return cls
    return decorate


def get_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None) -> Any:
    """The class registered (or built in) as ``name``, ``custom_objects[name]``, or None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    try:
        return get_layer_class(name)
    except ValueError:
        return None


def get_registered_name(obj: Any) -> str:
    """The name a file stores for ``obj``'s class."""
    return (obj if isinstance(obj, type) else type(obj)).__name__


def save_model(model, filepath: str | os.PathLike, overwrite: bool = True, include_optimizer: bool = True,
               **kwargs: Any) -> None:
    """``model.save(filepath)``: one zip with the architecture, weights and optimizer state, atomically.

    ``overwrite=False`` refuses an existing file. Keras' other keywords (``zipped``) are accepted
    and ignored: faltung's file is always one zip.
    """
    unknown = sorted(set(kwargs) - {"zipped"})
    if unknown:
        raise TypeError(f"save_model got unexpected keyword arguments {unknown}")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"save_model: {os.fspath(filepath)!r} exists and overwrite=False")
    _save_model(model, filepath, include_optimizer=include_optimizer)


def load_model(filepath: str | os.PathLike, custom_objects: Mapping[str, type] | None = None,
               compile: bool = True, safe_mode: bool = True):
    """Rebuild a model saved by ``save_model``/``model.save``.

    ``custom_objects``: ``{"ClassName": cls}`` for your own layer classes; they are registered as
    ``register_keras_serializable`` would (for the rest of the process). ``safe_mode`` is always on:
    faltung never runs code from a file, whatever is passed.
    """
    for key, cls in (custom_objects or {}).items():
        if not isinstance(cls, type) or cls.__name__ != key:
            raise ValueError(f"custom_objects maps class names to classes of that name; got {key!r}: {cls!r}")
        register_user_class(cls)
    return _load_model(filepath, compile=compile)
