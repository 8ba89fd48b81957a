"""Writing ``index.html``: one self-contained static page (script, style and data inline; no network)
that shows every number a model computes for one image.

The data are one forward pass (``Trace``): each layer's output maps as float32 (base64), each conv
layer's kernel, bias, window tables (``cells.window_tables``, the rows and columns ``cell`` reads)
and pre-activations, each Dense unit's largest terms from ``explain_cell``, and Grad-CAM and input
gradients. The browser writes the formulas from these numbers. Large layers are cut to bounded
sizes (the page says where), so a big model still gives a page of a few megabytes.
"""
from __future__ import annotations

import base64
import html
import json
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..autograd import Tensor, no_grad
from ..io import atomic_write
from .cells import activation_name, explain_cell, kind_of, scale_and_shift, window_tables
from .grad_cam import class_of, grad_cam_of, input_gradient_of, last_conv
from .graph import Node, Trace, pre_activation

MAX_MAP_VALUES = 65536      # float32 values embedded per layer output: channels beyond are cut
MAX_KERNEL_VALUES = 65536   # per conv kernel: input and output channels beyond the embedded maps are cut
MAX_DENSE_UNITS = 256       # Dense units whose terms are embedded
TOP_TERMS = 10              # terms listed per Dense unit, the largest |x·w| first
MAX_SALIENCY_CLASSES = 5    # classes with Grad-CAM and input gradients: the chosen one and the most probable


def _b64(array: np.ndarray) -> str:
    """float32, little-endian, C order: what the page's ``Float32Array`` reads back."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def _range(array: np.ndarray) -> tuple[float, float]:
    finite = array[np.isfinite(array)] if array.size else array
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def _maps(value: np.ndarray, notes: list[str], name: str) -> dict:
    """A node's output, cut to MAX_MAP_VALUES: (h, w, C) keeps its first channels, a vector its first units."""
    if value.ndim == 3:
        h, w, c = value.shape
        keep = max(1, min(c, MAX_MAP_VALUES // (h * w)))
        if keep < c:
            notes.append(f"{name}: the first {keep} of {c} channels are in this page")
        data = value[:, :, :keep]
    elif value.ndim == 1:
        keep = min(value.size, MAX_MAP_VALUES)
        if keep < value.size:
            notes.append(f"{name}: the first {keep} of {value.size} values are in this page")
        data = value[:keep]
    else:
        notes.append(f"{name}: output of shape {value.shape} per image is not drawn")
        return {"embedded": 0}
    lo, hi = _range(data)
    return {"embedded": int(keep), "data": _b64(data), "lo": lo, "hi": hi}


def _params(layer: Any) -> int:
    try:
        return int(layer.count_params())
    except ValueError:
        return 0


def _conv_data(tr: Trace, node: Node, entry: dict, embedded: dict, notes: list[str]) -> dict:
    layer = node.layer
    x = tr.input_of(node)
    out = tr.values[node.key]
    rows, cols = window_tables(layer, x.shape[:2], out.shape[:2])
    kh, kw, c_in, c_out = layer.kernel.data.shape
    k_in = embedded.get(node.parents[0], 0) if x.ndim == 3 else 0
    k_out = entry["embedded"]
    if kh * kw * k_in * k_out > MAX_KERNEL_VALUES:
        k_in = max(1, min(k_in, MAX_KERNEL_VALUES // (kh * kw * k_out)))
        notes.append(f"{node.key}: the kernel's first {k_in} input channels are in this page")
    with no_grad():
        pre = pre_activation(layer, Tensor(x[None].astype(np.float64))).numpy()[0]
    (top, bottom), (left, right) = _pads(layer, x.shape[:2])
    in_size = x.size
    out_size = out.size
    bias = np.zeros(c_out) if layer.bias is None else layer.bias.data
    return {
        "kernel_size": list(layer.kernel_size), "strides": list(layer.strides), "dilation": list(layer.dilation_rate),
        "padding": layer.padding if isinstance(layer.padding, str) else "explicit",
        "pads": [[top, bottom], [left, right]], "rows": rows.tolist(), "cols": cols.tolist(),
        "c_in": int(c_in), "k_in": int(k_in), "k_out": int(k_out),
        "kernel": _b64(layer.kernel.data[:, :, :k_in, :k_out]),
        "bias": [float(b) for b in bias[:k_out]], "use_bias": layer.bias is not None,
        "pre": _b64(pre[:, :, :k_out]),
        # the lecture's point: a Dense layer from the same input to the same output has no sharing
        "dense_inputs": int(in_size), "dense_outputs": int(out_size),
        "dense_params": int(in_size * out_size + (out_size if layer.bias is not None else 0)),
    }


def _pads(layer: Any, in_hw: tuple[int, int]):
    from ..kernels.padding import resolve_pads
    kernel = getattr(layer, "kernel_size", None) or layer.pool_size
    dilation = getattr(layer, "dilation_rate", (1, 1))
    return resolve_pads(layer.padding, in_hw, kernel, layer.strides, dilation)


def _pool_data(tr: Trace, node: Node) -> dict:
    layer = node.layer
    x = tr.input_of(node)
    out = tr.values[node.key]
    if out.ndim == 1:  # global pooling: the window is the whole map
        return {"global": True}
    rows, cols = window_tables(layer, x.shape[:2], out.shape[:2])
    (top, bottom), (left, right) = _pads(layer, x.shape[:2])
    return {"global": False, "pool_size": list(layer.pool_size), "strides": list(layer.strides),
            "padding": layer.padding, "pads": [[top, bottom], [left, right]], "rows": rows.tolist(),
            "cols": cols.tolist()}


def _dense_data(tr: Trace, node: Node, notes: list[str]) -> dict:
    x = tr.input_of(node)
    out = tr.values[node.key]
    if x.ndim != 1 or out.ndim != 1:
        return {"units": []}
    shown = min(out.size, MAX_DENSE_UNITS)
    if shown < out.size:
        notes.append(f"{node.key}: the terms of the first {shown} of {out.size} units are in this page")
    units = []
    for u in range(shown):
        c = explain_cell(tr, node, (u,))
        order = np.argsort(-np.abs(c.products), kind="stable")[:TOP_TERMS]
        units.append({"u": u, "pre": c.pre_activation, "value": c.value, "bias": c.bias, "n": int(len(c.products)),
                      "top": [[int(k), float(c.inputs[k]), float(c.weights[k]), float(c.products[k])] for k in order],
                      "rest": float(c.products.sum() - c.products[order].sum())})
    return {"units": units, "n_in": int(x.size)}


def _scale_data(node: Node, value: np.ndarray, embedded: int) -> dict:
    a, c = scale_and_shift(node.layer, value.shape[-1])
    return {"a": a[:embedded].tolist(), "c": c[:embedded].tolist()}


def _prediction(tr: Trace, class_names: Sequence[str] | None) -> dict | None:
    output = tr.output
    if output.ndim != 1 or output.size < 2:
        return None
    names = list(class_names) if class_names is not None else []
    if names and len(names) != output.size:
        raise ValueError(f"class_names has {len(names)} names; the model has {output.size} outputs")
    names = [str(n) for n in names] or [f"class {i}" for i in range(output.size)]
    probabilities = bool(np.all(output >= 0) and abs(float(output.sum()) - 1) < 1e-3)
    return {"values": [float(v) for v in output], "classes": names, "predicted": tr.predicted_class(),
            "probabilities": probabilities}


def _saliency(tr: Trace, class_index: int | None, layer: Any, notes: list[str]) -> dict | None:
    if tr.output.ndim != 1 or tr.output.size < 2:
        return None
    chosen = class_of(tr, class_index)
    ranked = [int(c) for c in np.argsort(-tr.output, kind="stable")]
    classes = [chosen] + [c for c in ranked if c != chosen][:MAX_SALIENCY_CLASSES - 1]
    if layer is not None:
        cam_node = tr.node(layer)  # a layer asked for by name must exist
    else:
        try:
            cam_node = last_conv(tr)
        except ValueError as err:  # no conv layer: the page still shows the input gradient
            cam_node = None
            notes.append(f"Grad-CAM: {err}")
    items = []
    for c in classes:
        gradient = np.abs(input_gradient_of(tr, c)).max(axis=-1).astype(np.float64)
        top = gradient.max()
        item = {"class": c, "input_gradient": _b64(gradient / top if top > 0 else gradient)}
        if cam_node is not None:
            item["grad_cam"] = _b64(grad_cam_of(tr, c, cam_node.key))
        items.append(item)
    return {"layer": None if cam_node is None else cam_node.key, "chosen": chosen, "items": items}


def example_data(tr: Trace, title: str, class_names: Sequence[str] | None = None, class_index: int | None = None,
                 cam_layer: Any = None, max_maps: int = 16) -> dict:
    """The page's data for one traced image: a JSON-able dict (see the module docstring)."""
    notes: list[str] = []
    image = tr.batch[0].astype(np.float32)
    embedded = {tr.input_key: image.shape[-1]}
    entries = [{"key": tr.input_key, "class": "Input", "kind": "input", "shape": list(image.shape), "params": 0,
                "parents": [], "activation": "linear", **_maps(image, notes, "input")}]
    for node in tr.nodes:
        value = tr.values[node.key]
        entry = {"key": node.key, "class": type(node.layer).__name__, "kind": kind_of(node.layer) or "other",
                 "shape": list(value.shape), "params": _params(node.layer), "parents": list(node.parents),
                 "activation": activation_name(node.layer), **_maps(value, notes, node.key)}
        embedded[node.key] = entry["embedded"]
        if entry["kind"] == "conv" and value.ndim == 3:
            entry["conv"] = _conv_data(tr, node, entry, embedded, notes)
        elif entry["kind"] in ("max_pool", "avg_pool") and tr.input_of(node).ndim == 3:
            entry["pool"] = _pool_data(tr, node)
        elif entry["kind"] == "dense":
            entry["dense"] = _dense_data(tr, node, notes)
        elif entry["kind"] == "scale":
            entry["scale"] = _scale_data(node, value, max(1, entry["embedded"]))
        if node.key == tr.output_key and _ends_in_softmax(node):
            entry["softmax"] = True
        entries.append(entry)
    prediction = _prediction(tr, class_names)
    saliency = _saliency(tr, class_index, cam_layer, notes) if prediction else None
    return {"title": title, "model": tr.model.name, "input_key": tr.input_key, "output_key": tr.output_key,
            "layers": entries, "prediction": prediction, "saliency": saliency, "max_maps": int(max_maps),
            "notes": notes}


def _ends_in_softmax(node: Node) -> bool:
    from .. import functional as F
    from .graph import is_softmax
    return getattr(node.layer, "activation", None) is F.softmax or is_softmax(node.layer)


def _template(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render(examples: list[dict], title: str, subtitle: str = "") -> str:
    """The page's HTML text: the template with the style, the script and the data inline."""
    # "<" escaped inside the JSON, so no name or value can close the script element early
    data = json.dumps({"title": title, "subtitle": subtitle, "examples": examples},
                      separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    values = {"/*STYLE*/": _template("page.css"), "/*SCRIPT*/": _template("page.js"), "/*DATA*/": data,
              "<!--TITLE-->": html.escape(title), "<!--SUBTITLE-->": html.escape(subtitle)}
    template = _template("page.html")
    missing = [m for m in values if m not in template]
    if missing:
        raise RuntimeError(f"the page template lacks the markers {missing}")
    # one pass over the template only: a marker-like text inside the script or the data stays as it is
    return re.sub("|".join(re.escape(m) for m in values), lambda m: values[m.group(0)], template)


def write_page(path: Any, examples: list[dict], title: str, subtitle: str = "") -> Path:
    """Write ``path/index.html`` (the folder is made if needed) atomically; returns the file's path."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; the page needs a folder (it writes {folder}/index.html)")
    folder.mkdir(parents=True, exist_ok=True)
    data = render(examples, title, subtitle).encode("utf-8")
    target = folder / "index.html"
    atomic_write(target, lambda f: f.write(data))
    return target


def explain_model(model: Any, image: Any, path: Any, class_names: Sequence[str] | None = None,
                  class_index: int | None = None, layer: Any = None, max_maps: int = 16,
                  title: str | None = None) -> Path:
    """Write ``path/index.html`` explaining ``model`` on one ``image`` ((H, W, C), raw as the model
    takes it). ``class_names``: one per output; ``class_index``: the class for the saliency view
    (default the predicted one); ``layer``: Grad-CAM's conv layer (default the last Conv2D);
    ``max_maps``: maps per layer in the overview. Returns the path of index.html."""
    if not isinstance(max_maps, int) or isinstance(max_maps, bool) or max_maps < 1:
        raise ValueError(f"max_maps must be a positive int; got {max_maps!r}")
    started = time.perf_counter()
    tr = Trace(model, image)
    example = example_data(tr, title or f"{model.name} on one image", class_names, class_index, layer, max_maps)
    example["seconds"] = round(time.perf_counter() - started, 3)
    return write_page(path, [example], f"faltung explain: {model.name}",
                      "Every number the model computes for one image. Click a layer; hover a cell.")


def explain_lecture(path: Any) -> Path:
    """Write ``path/index.html`` with the lecture's Example 2 (A * B) and its 12×12 image correlated
    with the corner filter, each as a one-layer network whose kernel is the lecture's filter."""
    from .lecture import lecture_examples
    examples = [example_data(Trace(model, image), title, max_maps=1) for title, model, image in lecture_examples()]
    return write_page(path, examples, "faltung explain: the lecture's examples",
                      "Definition 1, c[i,j] = sum a[i',j'] · b[i+i', j+j'], computed cell by cell. Hover a cell.")
