"""faltung: convolutional neural networks on NumPy alone, with Keras' API and the lecture's notation.

>>> import faltung as ft
>>> ft.correlate2d([[1, -1], [2, -3]], [[2, -3, 0], [0, 1, 4]])
array([[  2, -13]])
"""
from .autograd import Parameter, Tensor, no_grad
from .backend import set_seed
from .functional.conv import correlate2d

__version__ = "0.1.0"

__all__ = ["Tensor", "Parameter", "no_grad", "correlate2d", "set_seed", "__version__"]
