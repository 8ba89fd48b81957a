"""The lecture's worked examples as one-layer networks, so the explain page can show them cell by cell:
Example 2 (the 2×2 filter A on the 4×5 matrix B) and the 12×12 image with the 5×5 corner filter."""
from __future__ import annotations

from typing import Any

import numpy as np


def correlation_net(filter_: np.ndarray, input_hw: tuple[int, int], name: str) -> Any:
    """A Sequential net of one bias-free Conv2D whose single kernel is ``filter_`` (m×m): its output
    is the cross-correlation ``filter_ * B`` of Definition 1 for an (h, w) input B."""
    from .. import layers, models
    filter_ = np.asarray(filter_, dtype=np.float32)
    conv = layers.Conv2D(1, filter_.shape, use_bias=False, name=name)
    net = models.Sequential([layers.Input((*input_hw, 1), name=f"{name}_input"), conv], name=f"lecture_{name}")
    conv.set_weights([filter_.reshape(*filter_.shape, 1, 1)])
    return net


def lecture_examples() -> list[tuple[str, Any, np.ndarray]]:
    """``(title, model, image (h, w, 1))`` for Example 2 and for the corner image."""
    from .. import lecture
    return [
        ("Example 2: C = A * B with the 2×2 filter A on the 4×5 matrix B",
         correlation_net(lecture.EXAMPLE2_A, lecture.EXAMPLE2_B.shape, "example2"),
         lecture.EXAMPLE2_B.astype(np.float32)[:, :, None]),
        ("The 12×12 image with a corner drawn in ones, and the 5×5 corner filter (maximum 19.3 at the corner)",
         correlation_net(lecture.CORNER_FILTER, lecture.IMAGE.shape, "corner"),
         lecture.IMAGE.astype(np.float32)[:, :, None]),
    ]
