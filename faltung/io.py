"""Saving and loading models: one zip file, safe to load, written atomically.

A model file holds ``config.json`` (format version, architecture, compile
settings), ``weights.npz`` and, once the model has been compiled,
``optimizer.npz`` (its slots and step count, so training resumes exactly).
Arrays are read with ``allow_pickle=False`` and classes are looked up by name
in faltung's own registry: loading runs no code from the file. Every problem
with a file is a ``ValueError`` that names the file and what is wrong (a file
that cannot be opened at all raises the ``OSError`` that says why). Memory is
bounded by what the architecture needs: members are inflated in chunks up to
their declared size, and array headers are checked before any array exists.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from typing import Any, Iterator

import numpy as np

from . import __version__, backend, untrusted_zip

FORMAT = "faltung.model"
WEIGHTS_FORMAT = "faltung.weights"
FORMAT_VERSION = 1
# a config is a few KB (ResNet-small: 10 KB); parsing 4 MiB of JSON can already take 100 MB
MAX_CONFIG_BYTES = 4 * 2**20


# ----- writing -----

def atomic_write(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    A crash or an error mid-write leaves the old file (or nothing) in place, never half a file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot save to {path!r}: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        # mkstemp makes the file owner-only; give it the mode a plain open() would (or the old file's)
        umask = os.umask(0)
        os.umask(umask)
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _weight_arrays(model) -> dict[str, np.ndarray]:
    # Keyed by position and the weight's own name ("0003:bias"), not the layer's name: layer names
    # differ between two instances of one architecture (dense, dense_1, ...), positions do not.
    return {f"{i:04d}:{w.name.rsplit('/', 1)[-1]}": w.data for i, w in enumerate(model.weights)}


def save_model(model, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to one zip file
    (Keras 3's ``.keras`` when the name ends so; see ``faltung.keras_format``)."""
    from . import keras_format
    if keras_format.writes_model(path):
        return keras_format.save_model(model, path, include_optimizer=include_optimizer)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "faltung_version": __version__,
                "class_name": type(model).__name__, "config": model.get_config(),
                "compile_config": None, "metadata": getattr(model, "metadata", {})}
    files = {"weights.npz": _npz_bytes(_weight_arrays(model))}
    if model.compiled and include_optimizer:
        from . import optimizers
        document["compile_config"] = {**model._compile_config, "optimizer": optimizers.serialize(model.optimizer)}
        files["optimizer.npz"] = _npz_bytes(model.optimizer.get_state(model.trainable_weights))
    files["config.json"] = json.dumps(document, indent=1).encode()
    atomic_write(path, lambda f: _write_zip(f, files))


def save_weights(model, path: str | os.PathLike) -> None:
    """Write only the weights (in ``model.weights`` order) to a zip file (Keras 3's ``.weights.h5``
    when the name ends so)."""
    from . import keras_format
    if keras_format.writes_weights(path):
        return keras_format.save_weights(model, path)
    manifest = {"format": WEIGHTS_FORMAT, "format_version": FORMAT_VERSION,
                "weights": [w.name for w in model.weights]}
    files = {"config.json": json.dumps(manifest).encode(), "weights.npz": _npz_bytes(_weight_arrays(model))}
    atomic_write(path, lambda f: _write_zip(f, files))


def _write_zip(f, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)


# ----- reading -----

class _Reader:
    """Opens a model or weights file and reads its members in bounded memory (see ``untrusted_zip``).

    A file that cannot be opened raises the ``OSError`` that says why (no permission, a folder);
    everything wrong inside it is a ``ValueError`` naming the file.
    """

    def __init__(self, path: str | os.PathLike, expected_format: str):
        self.path = os.fspath(path)
        self.expected_format = expected_format
        if not os.path.exists(self.path):
            raise ValueError(f"{self.path}: no such file")
        # opened here, not by zipfile.is_zipfile, which reports an unreadable file as "not a zip"
        self.file = open(self.path, "rb")
        try:
            if not zipfile.is_zipfile(self.file):
                raise self.error("not a faltung file (not a zip archive; truncated or foreign?)")
            try:
                self.zip = untrusted_zip.open_archive(self.file)
            except ValueError as err:
                raise self.error(str(err)) from None
            self.members = {info.filename: info for info in self.zip.infolist()}
            self._check_header()
        except BaseException:
            self.close()
            raise

    def _check_header(self) -> None:
        self.document = self.json("config.json")
        if not isinstance(self.document, dict) or self.document.get("format") != self.expected_format:
            raise self.error(f"config.json does not say format {self.expected_format!r}")
        version = self.document.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise self.error(f"format_version {version!r} is not one this faltung reads (<= {FORMAT_VERSION})")

    def error(self, what: str) -> ValueError:
        return ValueError(f"{self.path}: {what}")

    def read(self, name: str, limit: int) -> bytes:
        """Member ``name``'s bytes, refused (ValueError) if it is missing or declares more than ``limit``."""
        info = self.members.get(name)
        if info is None:
            raise self.error(f"missing {name}")
        try:
            return untrusted_zip.read_member(self.zip, info, limit)
        except ValueError as err:
            raise self.error(str(err)) from None

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name, MAX_CONFIG_BYTES).decode())
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise self.error(f"{name} is not valid JSON ({type(err).__name__}: {err})") from None

    def npz(self, name: str, limit: int, count: int) -> untrusted_zip.NpzArchive:
        """The .npz member ``name`` with every array header read: at most ``limit`` bytes of array
        data in ``count`` arrays or so (each array adds a little zip and .npy header)."""
        size_limit = limit + untrusted_zip.NPZ_OVERHEAD + count * untrusted_zip.NPZ_OVERHEAD_PER_ARRAY
        data = self.read(name, size_limit)
        try:
            return untrusted_zip.NpzArchive(name, data, limit)
        except ValueError as err:
            raise self.error(str(err)) from None

    def arrays(self, name: str, limit: int, count: int) -> dict[str, np.ndarray]:
        """Every array of the .npz member ``name`` (``limit`` bytes at most, checked before allocating)."""
        npz = self.npz(name, limit, count)
        try:
            return {key: self._array(npz, key) for key in npz.headers}
        finally:
            npz.close()

    def _array(self, npz: untrusted_zip.NpzArchive, key: str) -> np.ndarray:
        try:
            return npz.read(key)
        except ValueError as err:
            raise self.error(str(err)) from None

    def close(self) -> None:
        if hasattr(self, "zip"):
            self.zip.close()
        self.file.close()


@contextlib.contextmanager
def _open(path, expected_format: str) -> Iterator[_Reader]:
    reader = _Reader(path, expected_format)
    try:
        yield reader
    finally:
        reader.close()


def _read_weights(reader: _Reader, model) -> list[np.ndarray]:
    """The arrays of weights.npz in ``model.weights`` order, once their headers (names, shapes, float
    dtypes) have been checked against the model's weights, which may be placeholders; nothing of
    the model is touched."""
    expected = _weight_arrays(model)
    # a file may hold float64 weights for a float32 model (they are cast); nothing wider is plausible
    limit = sum(w.size * max(8, w.dtype.itemsize) for w in expected.values())
    npz = reader.npz("weights.npz", limit, len(expected))
    try:
        missing = [k for k in expected if k not in npz.headers]
        extra = [k for k in npz.headers if k not in expected]
        if missing or extra:
            raise reader.error(f"weights do not fit the model: missing {missing[:5]}, unexpected {extra[:5]}")
        for key, current in expected.items():
            header = npz.headers[key]
            if header.shape != current.shape:
                raise reader.error(f"weight {key} has shape {header.shape}; the model needs {current.shape}")
            if header.dtype.kind != "f":
                raise reader.error(f"weight {key} has dtype {header.dtype}; expected a float dtype")
        return [reader._array(npz, key) for key in expected]
    finally:
        npz.close()


@contextlib.contextmanager
def _rng_untouched() -> Iterator[None]:
    """Building layers draws initial weights; keep the global stream as it was so a resumed
    run shuffles and drops out exactly like an uninterrupted one."""
    state = backend.rng().bit_generator.state
    try:
        yield
    finally:
        backend.rng().bit_generator.state = state


def load_model(path: str | os.PathLike, compile: bool = True):
    """Rebuild a model saved by ``model.save``: architecture, weights and (if saved) the compiled
    optimizer with its state.

    The architecture is built first with placeholder weights that cost no memory (at most
    ``models.from_config.MAX_WEIGHT_BYTES`` of them), and every weight's shape is compared with
    the file's array headers before any weight is read. Keras' ``.keras`` and ``.h5`` files, told
    apart by their contents, are read by ``faltung.keras_format``.
    """
    from . import keras_format, losses, metrics, optimizers
    if keras_format.is_keras_file(path):
        return keras_format.load_model(path, compile=compile)
    from .models.from_config import build_unallocated

    with _open(path, FORMAT) as reader:
        doc = reader.document
        with _rng_untouched():  # placeholders draw nothing, but a layer's constructor might
            model, _ = build_unallocated(doc.get("class_name"), doc.get("config"), reader.path)
        for w, value in zip(model.weights, _read_weights(reader, model)):
            w.data = np.ascontiguousarray(value, dtype=w.data.dtype)  # the placeholder goes; memory is spent
        metadata = doc.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise reader.error("metadata must be a JSON object")
        model.metadata = metadata
        compile_config = doc.get("compile_config")
        if compile and compile_config:
            try:
                model.compile(optimizer=optimizers.deserialize(compile_config["optimizer"]),
                              loss=losses.deserialize(compile_config["loss"]),
                              metrics=[metrics.deserialize(m) for m in compile_config.get("metrics", [])])
            # settings are data: an OverflowError (learning_rate=10**400) is as invalid as a KeyError
            except Exception as err:
                raise reader.error(f"the compile settings are invalid ({type(err).__name__}: {err})") from None
            if "optimizer.npz" in reader.members:
                # slots are at most a few copies of the weights (Adam's amsgrad: three), plus scalars
                weight_bytes = sum(w.data.nbytes for w in model.weights)
                state = reader.arrays("optimizer.npz", 4 * weight_bytes + 2**20, 3 * len(model.weights) + 2)
                try:
                    model.optimizer.set_state(model.trainable_weights, state)
                except Exception as err:  # as above: whatever crafted arrays make set_state raise
                    raise reader.error(f"optimizer state does not fit ({type(err).__name__}: {err})") from None
    return model


def load_weights(model, path: str | os.PathLike) -> None:
    """Overwrite ``model``'s weights from a file written by ``save_weights`` (or ``save``).

    Every array is checked and read before the first weight changes: a bad file changes nothing.
    Keras' ``.weights.h5``, ``.keras`` and ``.h5`` files are read by ``faltung.keras_format``.
    """
    from . import keras_format
    if keras_format.is_keras_file(path):
        return keras_format.load_weights(model, path)
    for fmt in (WEIGHTS_FORMAT, FORMAT):
        try:
            with _open(path, fmt) as reader:
                values = _read_weights(reader, model)
        except ValueError as err:
            if "does not say format" not in str(err):
                raise
            continue
        for w, value in zip(model.weights, values):
            w.data[...] = value
        return
    raise ValueError(f"{os.fspath(path)}: neither a faltung weights file nor a model file")
