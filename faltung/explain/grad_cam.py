"""Saliency for one image: Grad-CAM over a conv layer and the gradient of the class score with
respect to the input pixels, both from faltung's autograd.

Grad-CAM (Selvaraju et al., 2017): with A the conv layer's output (h, w, K) and y the class
score (the logit before a final softmax), ``alpha_k = mean_{i,j} dy/dA[i,j,k]`` and the map is
``relu(sum_k alpha_k · A[:, :, k])``, resized to the image (bilinear, half-pixel centres) and
divided by its maximum.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph import Node, Trace


def last_conv(tr: Trace) -> Node:
    """The last Conv2D node whose output is (h, w, C) maps: Grad-CAM's default layer."""
    from ..layers.conv import Conv2D
    for node in reversed(tr.nodes):
        if isinstance(node.layer, Conv2D):
            return node
    raise ValueError(f"model {tr.model.name!r} has no Conv2D layer for Grad-CAM; its layers are "
                     f"{[n.key for n in tr.nodes]}")


def class_of(tr: Trace, class_index: int | None) -> int:
    """``class_index`` checked, or the predicted class when None."""
    if class_index is None:
        return tr.predicted_class()
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
        raise ValueError(f"class_index must be an int or None; got {class_index!r}")
    return int(class_index)


def grad_cam_of(tr: Trace, class_index: int | None = None, layer: Any = None) -> np.ndarray:
    """Grad-CAM of a traced forward pass: (H, W) float64 in [0, 1] (all zeros when no location
    raises the score). ``layer``: a Conv2D (or any layer with (h, w, C) output) by Layer, name or
    index; default the last Conv2D."""
    from ..datasets.resize import resize
    node = last_conv(tr) if layer is None else tr.node(layer)
    maps = tr.values[node.key]
    if maps.ndim != 3:
        raise ValueError(f"Grad-CAM needs a layer with (h, w, C) output; layer {node.key!r} outputs {maps.shape}")
    grads = tr.gradient(node.key, class_of(tr, class_index)).astype(np.float64)
    alpha = grads.mean(axis=(0, 1))                                   # (K,): one weight per feature map
    cam = np.maximum(maps.astype(np.float64) @ alpha, 0.0)            # (h, w)
    height, width = tr.batch.shape[1:3]
    cam = resize(cam[:, :, None], (height, width), "bilinear")[:, :, 0].astype(np.float64)
    top = cam.max()
    return cam / top if top > 0 else np.zeros_like(cam)


def grad_cam(model: Any, image: Any, class_index: int | None = None, layer: Any = None) -> np.ndarray:
    """Grad-CAM heat map of ``image`` for ``class_index`` (default: the predicted class).

    ``image``: (H, W, C) with the model's input shape, raw as the model takes it. ``layer``:
    the conv layer (Layer, name or index; default the last Conv2D). Returns an (H, W) float64
    map in [0, 1]: where in the image the layer's features raised the class score.
    """
    return grad_cam_of(Trace(model, image), class_index, layer)


def input_gradient_of(tr: Trace, class_index: int | None = None) -> np.ndarray:
    """d(class score)/d(input) for a traced pass: (H, W, C), in the model's float dtype."""
    return tr.gradient(tr.input_key, class_of(tr, class_index))


def input_gradient(model: Any, image: Any, class_index: int | None = None) -> np.ndarray:
    """The gradient of the class score (the logit before a final softmax) with respect to each
    input value of ``image``: (H, W, C). Large magnitudes mark the pixels whose change would
    change the score most."""
    return input_gradient_of(Trace(model, image), class_index)
