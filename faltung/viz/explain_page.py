"""``viz.explain``: the interactive explain page of a model on one image (plain HTML; no matplotlib)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def explain(model: Any, image: Any, path: Any, class_names: Sequence[str] | None = None, **options: Any) -> Path:
    """Write ``path/index.html``: a self-contained page with every number ``model`` computes for
    ``image`` ((H, W, C), raw as the model takes it): each layer's maps, each conv cell's sum
    x·f + b, pooling windows, Dense terms, class probabilities, Grad-CAM and the input gradient.
    ``options``: ``class_index``, ``layer`` (Grad-CAM's), ``max_maps``, ``title``
    (see ``faltung.explain.explain_model``). Returns the path of index.html."""
    from ..explain.page import explain_model
    return explain_model(model, image, path, class_names=class_names, **options)
