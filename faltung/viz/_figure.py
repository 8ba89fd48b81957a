"""Loading matplotlib lazily, making figures and saving them: the one place faltung.viz touches pyplot.

matplotlib is an optional extra (``pip install "faltung[plot]"``); nothing here is imported
until a plotting function runs, so ``import faltung`` stays NumPy-only.
"""
from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_DPI = 100


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


def finish(fig: Any, path: Any = None, dpi: int = DEFAULT_DPI) -> Any:
    """Save ``fig`` to ``path`` (format from the suffix: .png, .svg, .pdf) if given; return ``fig``.

    The saved picture is exactly the figure's size × ``dpi`` pixels (no tight bounding box), so a
    caller knows the size of what it wrote.
    """
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def close(fig: Any) -> None:
    """Release a figure that pyplot keeps alive (scripts that draw many figures must close them)."""
    pyplot().close(fig)
