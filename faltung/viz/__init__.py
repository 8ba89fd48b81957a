"""Pictures of what a convolutional network computes and learns (needs matplotlib: ``faltung[plot]``).

Every function returns the matplotlib ``Figure`` and, given ``path=``, saves it (.png, .svg, ...)
at exactly its size × ``dpi`` pixels. matplotlib is imported only when a function runs, and a
session without a display gets the file-only Agg backend.

>>> from faltung import lecture, viz
>>> fig = viz.plot_correlation(lecture.IMAGE, lecture.CORNER_FILTER, path="correlation.png")  # doctest: +SKIP
"""
from .correlation import FILTERS, named_filter, plot_correlation
from .evaluation import confusion_matrix, plot_confusion_matrix, plot_predictions
from .explain_page import explain
from .feature_maps import plot_feature_maps
from .filters import plot_filters
from .history import plot_history, read_history
from .report import write_report

__all__ = ["plot_correlation", "plot_filters", "plot_feature_maps", "plot_history", "plot_confusion_matrix",
           "plot_predictions", "write_report", "confusion_matrix", "read_history", "named_filter", "FILTERS",
           "explain"]
