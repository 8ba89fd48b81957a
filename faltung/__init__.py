"""faltung: convolutional neural networks on NumPy alone, with Keras' API and the lecture's notation.

>>> import faltung as ft
>>> ft.correlate2d([[1, -1], [2, -3]], [[2, -3, 0], [0, 1, 4]])
array([[  2, -13]])

Keras' module layout, for what faltung supports: ``faltung.layers``, ``faltung.models``,
``faltung.optimizers``, ``faltung.losses``, ``faltung.metrics``, ``faltung.callbacks``,
``faltung.initializers``, ``faltung.utils``, and ``faltung.Sequential``/``Model``/``Input``.
"""
__version__ = "0.1.0"

from . import callbacks, initializers, layers, losses, metrics, models, optimizers, utils  # noqa: E402
from . import explain  # noqa: E402  (after models: it reads their graphs)
from .autograd import Parameter, Tensor, no_grad  # noqa: E402
from .backend import set_seed  # noqa: E402
from .functional.conv import correlate2d  # noqa: E402
from .layers import Input  # noqa: E402
from .models import Model, Sequential, load_model  # noqa: E402

__all__ = ["Tensor", "Parameter", "no_grad", "correlate2d", "set_seed", "Input", "Model", "Sequential",
           "load_model", "layers", "models", "optimizers", "losses", "metrics", "callbacks", "initializers",
           "utils", "__version__"]
