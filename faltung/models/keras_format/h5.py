"""HDF5 read in bounded memory with h5py: links, shapes and dtypes checked before any data is read.

h5py reads an object's header (shape, dtype, storage) lazily and its data only when asked, so
every dataset is compared with the array the model needs before one byte of it is read. Only
hard links are followed: a soft or external link, a dataset stored in external files, or a
virtual dataset would make faltung read something other than the file it was given, and is
refused. Strings in attributes are read only if their declared size is within a limit (a
variable-length string is stored in the file's heap, so it cannot be longer than the file).
"""
from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def h5py_module():
    """h5py, imported on first use (the optional ``keras`` extra)."""
    try:
        import h5py
    except ImportError:
        raise ImportError("reading and writing Keras' HDF5 files (.keras, .weights.h5, .h5) needs h5py: "
                          'pip install "faltung[keras]" (or pip install h5py)') from None
    return h5py


def is_hdf5(path) -> bool:
    """Whether the file at ``path`` starts with HDF5's signature (False if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


class H5Error(ValueError):
    """Something wrong inside an HDF5 file; the caller prefixes the file's name."""


def open_file(source: str | bytes):
    """An h5py File on a path or on bytes held in memory, read-only; H5Error if it is not HDF5."""
    h5py = h5py_module()
    try:
        return h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    # libhdf5's refusals come as OSError, KeyError, RuntimeError... whatever the bytes provoke
    except Exception as err:
        raise H5Error(f"not a readable HDF5 file ({type(err).__name__}: {err})") from None


def get(group, path: str, where: str | None = None):
    """The object at ``path`` under ``group`` (hard links only), or None if it is absent."""
    h5py = h5py_module()
    node = group
    for part in path.split("/"):
        if not part:
            continue
        try:
            link = node.get(part, getlink=True)
        except Exception as err:
            raise H5Error(f"{where or path}: unreadable ({type(err).__name__}: {err})") from None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise H5Error(f"{where or path} is a {type(link).__name__}: faltung follows no links to other "
                          "objects or files")
        try:
            node = node[part]
        except Exception as err:
            raise H5Error(f"{where or path}: unreadable ({type(err).__name__}: {err})") from None
    return node


def datasets(group, where: str) -> set[str]:
    """The paths of every dataset under ``group``, found through hard links only; a soft or external
    link anywhere is refused (a bounded file holds a bounded number of objects)."""
    h5py = h5py_module()
    found: set[str] = set()
    pending = [("", group)]
    while pending:
        prefix, node = pending.pop()
        for key in list(node.keys()):
            path = f"{prefix}{key}"
            child = get(node, key, f"{where}/{path}")
            if isinstance(child, h5py.Group):
                pending.append((path + "/", child))
            elif isinstance(child, h5py.Dataset):
                found.add(path)
    return found


def read_array(dataset, shape: tuple, kinds: str, where: str) -> np.ndarray:
    """The dataset's values, once its shape is ``shape``, its dtype a plain number of a kind in
    ``kinds`` ('f', 'i', 'u'), and its storage within the file."""
    h5py = h5py_module()
    if not isinstance(dataset, h5py.Dataset):
        raise H5Error(f"{where} is not a dataset")
    try:
        dtype, stored_shape = dataset.dtype, dataset.shape
        external, virtual, chunks = dataset.external, dataset.is_virtual, dataset.chunks
    except Exception as err:
        raise H5Error(f"{where} has an unreadable header ({type(err).__name__}: {err})") from None
    if stored_shape != tuple(shape):
        raise H5Error(f"{where} has shape {stored_shape}; the model needs {tuple(shape)}")
    if dtype.kind not in kinds or dtype.itemsize > 8 or dtype.fields is not None or dtype.subdtype is not None:
        raise H5Error(f"{where} has dtype {dtype}; expected {'a float' if kinds == 'f' else 'a number'} dtype")
    if external or virtual:
        raise H5Error(f"{where} keeps its data in other files; faltung reads only the file it was given")
    # a chunk is inflated whole: one far larger than the array could cost more than the array
    if chunks is not None and math.prod(chunks) > max(math.prod(shape), 2**20):
        raise H5Error(f"{where} claims chunks of shape {chunks} for an array of shape {tuple(shape)}")
    try:
        return np.asarray(dataset[()])
    except Exception as err:
        raise H5Error(f"{where} is damaged ({type(err).__name__}: {err})") from None


def _attribute(obj, name: str, where: str, check) -> Any:
    """Attribute ``name`` of ``obj`` (None if absent), read once ``check(shape, dtype)`` accepted what
    its header declares (``check`` raises H5Error)."""
    h5py = h5py_module()
    try:
        if name not in obj.attrs:
            return None
        declared = h5py.h5a.open(obj.id, name.encode())
        check(declared.shape, declared.dtype)
        return obj.attrs[name]
    except H5Error:
        raise
    except Exception as err:
        raise H5Error(f"{where} attribute {name!r} is unreadable ({type(err).__name__}: {err})") from None


def _decoded(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_text(obj, name: str, limit: int, where: str) -> str | None:
    """The string attribute ``name`` of ``obj`` (str or bytes, at most ``limit`` bytes), or None."""
    def check(shape, dtype):
        if shape not in ((), (1,)) or dtype.kind not in "SUO":
            raise H5Error(f"{where} attribute {name!r} is not a string (shape {shape}, dtype {dtype})")
        if dtype.kind != "O" and dtype.itemsize > limit:
            raise H5Error(f"{where} attribute {name!r} claims {dtype.itemsize:,} bytes, more than the "
                          f"{limit:,} allowed")
    value = _attribute(obj, name, where, check)
    if value is None:
        return None
    text = _decoded(np.asarray(value).reshape(-1)[0] if isinstance(value, np.ndarray) else value)
    if len(text) > limit:
        raise H5Error(f"{where} attribute {name!r} holds {len(text):,} characters, more than the {limit:,} allowed")
    return text


def read_json(obj, name: str, limit: int, where: str) -> Any:
    """The JSON document stored in string attribute ``name`` (None if absent)."""
    text = read_text(obj, name, limit, where)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise H5Error(f"{where} attribute {name!r} is not valid JSON ({type(err).__name__}: {err})") from None


def read_names(obj, name: str, limit: int, where: str) -> list[str]:
    """A list-of-strings attribute (legacy ``layer_names``, ``weight_names``), at most ``limit`` entries."""
    def check(shape, dtype):
        if len(shape) > 1 or dtype.kind not in "SUOf" or (shape and shape[0] > limit):
            raise H5Error(f"{where} attribute {name!r} is not a list of at most {limit:,} names "
                          f"(shape {shape}, dtype {dtype})")
    values = _attribute(obj, name, where, check)
    values = np.atleast_1d(values if values is not None else [])
    if values.dtype.kind == "f":  # h5py stores an empty list as an empty float array
        if values.size:
            raise H5Error(f"{where} attribute {name!r} holds numbers, not names")
        return []
    return [_decoded(v) for v in values]
