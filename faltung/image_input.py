"""One image for a model that takes one image input: the shape it takes, and the image as a batch of one
(shared by the pictures and the explain page)."""
from __future__ import annotations

from typing import Any

import numpy as np


def input_image_shape(model: Any) -> tuple[int, int, int]:
    """The (H, W, C) that one input image of ``model`` must have."""
    shape = model.input_shape
    if isinstance(shape, list) or shape is None or len(shape) != 4:
        raise ValueError(f"feature maps need a model with one image input (None, H, W, C); "
                         f"model {model.name!r} takes {shape}")
    return tuple(shape[1:])


def as_batch(model: Any, image: Any) -> np.ndarray:
    """One image as a batch of one: (H, W, C), (1, H, W, C) or, for one channel, (H, W) -> (1, H, W, C)."""
    expected = input_image_shape(model)
    array = np.asarray(image)
    if array.ndim == 2 and expected[-1] == 1:
        array = array[..., None]
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.shape != expected:
        raise ValueError(f"the image must have the model's input shape {expected} (or (1, *shape)); "
                         f"got shape {np.shape(image)}")
    return array[None]
