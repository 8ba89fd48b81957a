"""Argument types for the command line, and its size limits: a bad value is a usage error (exit 2)
that names the option, the value received and what is expected, before any work is done.

The limits keep one command within a laptop's memory: each is far above what the sizes are
meant for, and far below what would allocate gigabytes for a single image, batch or picture.
"""
from __future__ import annotations

import argparse

MAX_IMAGE_SIZE = 1024      # pixels per side of a DIR dataset's images (Keras' default is 256)
MAX_BATCH_SIZE = 4096      # images per batch: activations of a whole batch are held at once
MAX_DPI = 1000             # picture resolution (print quality is 300-600)
MAX_PANELS = 256           # images, maps or filters drawn in one picture
MAX_PICTURE_PIXELS = 100_000_000  # a picture's width x height: 400 MB of RGBA while it is drawn


class IntRange:
    """An argparse ``type``: an integer from ``low`` to ``high`` (None: no upper bound).

    Its message replaces argparse's "invalid <function name> value", which would show the
    name of a Python function to the user.
    """

    def __init__(self, low: int = 1, high: int | None = None):
        self.low, self.high = low, high
        self.expected = ("a positive integer" if low == 1 else f"an integer of at least {low}")
        if high is not None:
            self.expected = f"{self.expected} up to {high}"
        self.__name__ = self.expected  # what argparse names the type if anything else goes wrong

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {self.expected}; got {text!r}") from None
        if value < self.low or (self.high is not None and value > self.high):
            raise argparse.ArgumentTypeError(f"expected {self.expected}; got {value}")
        return value


positive_int = IntRange(1)


def fraction(text: str) -> float:
    """An argparse ``type``: a number in [0, 1), as ``fit``'s ``validation_split`` takes."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to (not including) 1; got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to (not including) 1; got {value}")
    return value


def usage_error(check):
    """An argparse ``type`` from ``check(text)``, which returns the value or raises ValueError."""

    def convert(text: str):
        try:
            return check(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = check.__name__
    return convert
