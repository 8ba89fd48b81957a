"""Decoding one image file into pixels: the single path shared by the image-folder loader and the command line.

Every image faltung reads from a file goes through ``decode_image``, so a picture means the same
numbers to ``faltung predict`` as it did to the training set read with
``image_dataset_from_directory``. Pillow is imported only when an image is decoded.
"""
from __future__ import annotations

import numpy as np

# color_mode -> (Pillow mode, channels), Keras' names
COLOR_MODES = {"rgb": ("RGB", 3), "rgba": ("RGBA", 4), "grayscale": ("L", 1)}


def color_mode_for(channels: int) -> str:
    """The color_mode whose images have ``channels`` channels (1, 3 or 4)."""
    for name, (_, count) in COLOR_MODES.items():
        if count == channels:
            return name
    raise ValueError(f"images have 1 (grayscale), 3 (rgb) or 4 (rgba) channels; got {channels}")


def decode_image(path: str, color_mode: str = "rgb") -> np.ndarray:
    """The image file at ``path`` as float32 ``(h, w, C)`` with values 0..255, C as ``color_mode`` says.

    16-bit images are scaled to 8 bits (value / 257, rounded), as TensorFlow does; palette images
    go through RGBA so transparency is honoured; an animated GIF gives its first frame. A file
    Pillow cannot read, or one whose pixel count exceeds Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``), is a ValueError naming the file.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("decoding image files needs Pillow: pip install 'faltung[images]' "
                          "(or pip install pillow)") from None
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {list(COLOR_MODES)}; got {color_mode!r}")
    mode = COLOR_MODES[color_mode][0]
    try:
        with Image.open(path) as img:
            img.seek(0)  # the first frame of an animated GIF, as Keras (expand_animations=False)
            if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit: scale to 8 bits as TF does
                img = Image.fromarray(np.rint(np.asarray(img, dtype=np.float32) / 257).astype(np.uint8))
            elif img.mode == "P":  # palette: through RGBA so transparency is honoured
                img = img.convert("RGBA")
            array = np.asarray(img.convert(mode), dtype=np.float32)
    # DecompressionBombError is not an OSError: without it a huge image escapes as a traceback
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: cannot read this image ({err})") from None
    return array[..., None] if array.ndim == 2 else array
