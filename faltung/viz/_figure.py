"""Loading matplotlib lazily, making figures and saving them: the one place faltung.viz touches pyplot.

matplotlib is an optional extra (``pip install "faltung[plot]"``); nothing here is imported
until a plotting function runs, so ``import faltung`` stays NumPy-only.
"""
from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_DPI = 100
VECTOR_SUFFIXES = (".svg", ".svgz", ".pdf", ".eps", ".ps")  # sized in points, not pixels


def pyplot() -> Any:
    """``matplotlib.pyplot``, choosing the file-only Agg backend when there is no display to show on.

    A user who picked a backend (``MPLBACKEND``, Jupyter, an earlier ``import matplotlib.pyplot``)
    keeps it; only a headless Linux session with nothing chosen gets Agg.
    """
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("faltung.viz needs matplotlib: pip install 'faltung[plot]' "
                           "(or pip install matplotlib)") from None
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND") and _headless():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def use_agg() -> None:
    """Force the Agg backend (the command line writes files and never opens a window)."""
    pyplot()
    import matplotlib
    matplotlib.use("Agg")


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def new_figure(width: float, height: float) -> Any:
    """A pyplot figure of ``width`` × ``height`` inches (pyplot, so ``plt.show()`` works for users)."""
    return pyplot().figure(figsize=(width, height))


def pixel_size(fig: Any, dpi: int = DEFAULT_DPI) -> tuple[int, int]:
    """(width, height) in pixels of ``fig`` saved at ``dpi``: the size in inches × dpi, rounded."""
    width, height = fig.get_size_inches()
    return round(width * dpi), round(height * dpi)


def finish(fig: Any, path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Save ``fig`` to ``path`` (format from the suffix: .png, .svg, .pdf) if given; return ``fig``.

    A saved PNG is exactly ``pixel_size(fig, dpi)`` (no tight bounding box), so a caller knows
    the size of what it wrote.
    """
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if not path.lower().endswith(VECTOR_SUFFIXES):
            width, height = pixel_size(fig, dpi)
            # Agg truncates size × dpi to whole pixels, so 10.74 in at 100 dpi could come out 1073 px
            # (floating point); a thousandth of a pixel over the rounded size makes it exactly 1074.
            fig.set_size_inches((width + 1e-3) / dpi, (height + 1e-3) / dpi)
        fig.savefig(path, dpi=dpi)
    return fig


def close(fig: Any) -> None:
    """Release a figure that pyplot keeps alive (scripts that draw many figures must close them)."""
    pyplot().close(fig)
