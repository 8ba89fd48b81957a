"""Export a faltung model to other runtimes: ``export_model(model, "net.onnx", format="onnx")``.

The ``onnx`` package (``pip install "faltung[onnx]"``) builds and checks the graph; it is
imported only here, only when exporting. The whole model is converted and checked in
memory first, so an unexportable layer is an error before any file is touched, and the file
is written atomically (a temporary file renamed into place).
"""
from __future__ import annotations

import os
from typing import Any

FORMATS = ("onnx",)
DEFAULT_OPSET = 17


def _onnx_model_module():
    try:
        import onnx  # noqa: F401  (an optional extra: only exporting needs it)
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx package: pip install onnx "
                           "(or pip install \"faltung[onnx]\")") from None
    from . import onnx_model
    return onnx_model


def to_onnx(model: Any, opset: int = DEFAULT_OPSET):
    """``model`` as a checked ``onnx.ModelProto`` (NHWC float32 inputs, dynamic batch), not written."""
    return _onnx_model_module().to_onnx(model, opset)


def export_model(model: Any, filepath: str | os.PathLike, format: str = "onnx", opset: int | None = None) -> None:
    """Write ``model`` to ``filepath`` in ``format`` (only 'onnx' so far), atomically.

    ``opset``: the ONNX opset, 17 (default) up to the newest the installed onnx knows.
    Every problem (a format, an opset, a layer that cannot be exported) is raised before writing.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}; got {format!r}")
    from ..io import atomic_write
    proto = to_onnx(model, DEFAULT_OPSET if opset is None else opset)
    data = proto.SerializeToString()
    atomic_write(filepath, lambda f: f.write(data))


__all__ = ["export_model", "to_onnx", "FORMATS", "DEFAULT_OPSET"]
