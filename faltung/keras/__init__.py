"""Keras' namespace over faltung: ``from faltung import keras`` is what ``from tensorflow import keras``
or ``import keras`` gives a script, for what faltung supports.

>>> from faltung import keras
>>> from faltung.keras import layers, models, datasets      # modules of faltung, not copies
>>> from faltung.keras.layers import Conv2D, Dense          # submodule imports work too

``faltung.keras.X`` *is* ``faltung.X`` (``faltung.keras.layers is faltung.layers``); each module is
imported on first use, so ``import faltung`` stays fast.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

# Keras' public sub-modules that faltung provides, each the faltung module of the same name.
MODULES = ("activations", "backend", "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
           "metrics", "models", "optimizers", "regularizers", "saving", "utils")
NAMES = {"Sequential": "models", "Model": "models", "Input": "layers", "Layer": "layers"}

__all__ = list(MODULES) + list(NAMES) + ["__version__"]


def __getattr__(name: str):
    if name in MODULES:
        return importlib.import_module(f"faltung.{name}")
    if name in NAMES:
        return getattr(importlib.import_module(f"faltung.{NAMES[name]}"), name)
    if name == "__version__":
        return importlib.import_module("faltung").__version__
    raise AttributeError(f"faltung.keras has no attribute {name!r}; faltung provides Keras' "
                         f"{', '.join(MODULES)} and {', '.join(NAMES)}")


def __dir__():
    return sorted(__all__)


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import faltung.keras.layers`` (and ``faltung.keras.optimizers.schedules``) hands out the module
    ``faltung.layers`` itself, so a module is never loaded twice under two names."""

    PREFIX = __name__ + "."

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.PREFIX) or fullname[len(self.PREFIX):].split(".")[0] not in MODULES:
            return None
        target = importlib.import_module("faltung." + fullname[len(self.PREFIX):])
        # a package keeps its own __path__; a plain module must not gain one
        return importlib.machinery.ModuleSpec(fullname, self, is_package=hasattr(target, "__path__"))

    def create_module(self, spec):
        return sys.modules["faltung." + spec.name[len(self.PREFIX):]]

    def exec_module(self, module):
        pass  # the real module ran when it was imported under its own name


if not any(isinstance(f, _Alias) for f in sys.meta_path):
    sys.meta_path.insert(0, _Alias())
