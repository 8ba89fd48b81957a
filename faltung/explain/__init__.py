"""Every number a CNN computes for one image, as the lecture writes it: cell formulas, Grad-CAM,
input gradients, and a self-contained HTML page that shows them all (``faltung explain``).

>>> from faltung import explain, lecture, layers, models
>>> net = models.Sequential([layers.Input((4, 5, 1)), layers.Conv2D(1, 2, use_bias=False)])
>>> net.layers[0].set_weights([lecture.EXAMPLE2_A.reshape(2, 2, 1, 1)])
>>> c = explain.cell(net, lecture.EXAMPLE2_B, 0, (1, 1, 0))
>>> [t.product for t in c.terms], c.value      # 1·1 + (-1)·4 + 2·(-2) + (-3)·7 = -28
([1.0, -4.0, -4.0, -21.0], -28.0)
"""
from . import lecture
from .cells import Cell, Term, cell, explain_cell
from .grad_cam import grad_cam, input_gradient
from .graph import Trace, trace
from .page import explain_lecture, explain_model, write_page

__all__ = ["cell", "grad_cam", "input_gradient", "trace", "explain_cell", "Trace", "Cell", "Term", "write_page",
           "explain_model", "explain_lecture", "lecture"]
