"""faltung: convolutional neural networks on NumPy alone, with Keras' API and the lecture's notation.

>>> import faltung as ft
>>> ft.correlate2d([[1, -1], [2, -3]], [[2, -3, 0], [0, 1, 4]])
array([[  2, -13]])

Keras' module layout, for what faltung supports: ``faltung.layers``, ``faltung.models``,
``faltung.optimizers``, ``faltung.losses``, ``faltung.metrics``, ``faltung.callbacks``,
``faltung.initializers``, ``faltung.utils``, and ``faltung.Sequential``/``Model``/``Input``;
imported on first use: ``faltung.datasets``, ``faltung.saving``, ``faltung.activations``,
``faltung.regularizers``, ``faltung.constraints`` and ``faltung.keras`` (so ``import faltung as tf``
gives ``tf.keras.layers``, and ``import faltung as keras`` gives ``keras.datasets.mnist``).
"""
from .version import __version__
from . import callbacks, distributed, initializers, layers, losses, metrics, models, optimizers, utils
from .autograd import Parameter, Tensor, no_grad
from .backend import set_seed
from .functional.conv import correlate2d
from .layers import Input
from .models import Model, Sequential, load_model

__all__ = ["Tensor", "Parameter", "no_grad", "correlate2d", "set_seed", "Input", "Model", "Sequential",
           "load_model", "layers", "models", "optimizers", "losses", "metrics", "callbacks", "initializers",
           "utils", "distributed", "__version__", "keras", "datasets", "saving", "activations", "regularizers",
           "constraints", "explain"]

# Loaded on first use (PEP 562): Keras' other namespaces, and nothing heavy at `import faltung`.
_LAZY = ("keras", "datasets", "saving", "activations", "regularizers", "constraints", "viz", "export", "explain")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'faltung' has no attribute {name!r}")
