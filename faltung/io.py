"""Saving and loading models: one zip file, safe to load, written atomically.

A model file holds ``config.json`` (format version, architecture, compile
settings), ``weights.npz`` and, once the model has been compiled,
``optimizer.npz`` (its slots and step count, so training resumes exactly).
Arrays are read with ``allow_pickle=False`` and classes are looked up by name
in faltung's own registry: loading runs no code from the file. Every problem
with a file is a ``ValueError`` that names the file and what is wrong.
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

from . import __version__, backend

FORMAT = "faltung.model"
WEIGHTS_FORMAT = "faltung.weights"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 16 * 2**20       # a config is a few KB; more is not a faltung file
MAX_ARRAY_BYTES = 16 * 2**30        # refuse zip bombs before inflating them


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
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to one zip file."""
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
    """Write only the weights (in ``model.weights`` order) to a zip file."""
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
    """Opens a model or weights file and reads its members, turning every failure into ValueError."""

    def __init__(self, path: str | os.PathLike, expected_format: str):
        self.path = os.fspath(path)
        self.expected_format = expected_format
        if not os.path.isfile(self.path):
            raise ValueError(f"{self.path}: no such file")
        if not zipfile.is_zipfile(self.path):
            raise ValueError(f"{self.path}: not a faltung file (not a zip archive; truncated or foreign?)")
        try:
            self.zip = zipfile.ZipFile(self.path)
            self.members = {info.filename: info for info in self.zip.infolist()}
        except (zipfile.BadZipFile, OSError) as err:
            raise self.error(f"unreadable zip archive ({err})") from None
        try:
            self._check_header()
        except BaseException:
            self.zip.close()
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
        info = self.members.get(name)
        if info is None:
            raise self.error(f"missing {name}")
        if info.file_size > limit:
            raise self.error(f"{name} claims {info.file_size} bytes, more than the {limit} allowed")
        try:
            data = self.zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as err:
            raise self.error(f"{name} is damaged ({err})") from None
        if len(data) != info.file_size:
            raise self.error(f"{name} is truncated")
        return data

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name, MAX_CONFIG_BYTES).decode())
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise self.error(f"{name} is not valid JSON ({type(err).__name__}: {err})") from None

    def arrays(self, name: str, limit: int = MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
        """The arrays of an .npz member, each header checked before its data is allocated:
        no object arrays, and no more than ``limit`` bytes claimed in all."""
        data = self.read(name, limit + 2**20)
        arrays, claimed = {}, 0
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as npz:
                for info in npz.infolist():
                    with npz.open(info) as f:
                        version = np.lib.format.read_magic(f)
                        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0)
                        shape, _, dtype = read_header(f)
                        claimed += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                        # 1 MiB of slack: a stray small array gets the caller's clearer "unexpected"
                        if dtype.hasobject or claimed > limit + 2**20:
                            raise ValueError(f"array {info.filename} claims dtype {dtype} and shape {shape}, "
                                             f"{claimed} bytes so far (at most {limit} expected)")
                    with npz.open(info) as f:
                        arrays[info.filename.removesuffix(".npy")] = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise self.error(f"{name} is not a readable array archive ({err})") from None
        return arrays

    def close(self) -> None:
        self.zip.close()


@contextlib.contextmanager
def _open(path, expected_format: str) -> Iterator[_Reader]:
    reader = _Reader(path, expected_format)
    try:
        yield reader
    finally:
        reader.close()


def _check_and_assign(reader: _Reader, model, arrays: dict[str, np.ndarray]) -> None:
    """Every weight present, nothing extra, each of the right shape and a float dtype; then assign."""
    expected = _weight_arrays(model)
    missing = [k for k in expected if k not in arrays]
    extra = [k for k in arrays if k not in expected]
    if missing or extra:
        raise reader.error(f"weights do not fit the model: missing {missing[:5]}, unexpected {extra[:5]}")
    for key, current in expected.items():
        value = arrays[key]
        if value.shape != current.shape:
            raise reader.error(f"weight {key} has shape {value.shape}; the model needs {current.shape}")
        if value.dtype.kind != "f":
            raise reader.error(f"weight {key} has dtype {value.dtype}; expected a float dtype")
    for w, key in zip(model.weights, expected):  # all checked first: a bad file changes nothing
        w.data[...] = arrays[key]


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
    optimizer with its state."""
    from . import losses, metrics, optimizers
    from .layers.base import get_layer_class
    from .models.model import Model

    with _open(path, FORMAT) as reader:
        doc = reader.document
        try:
            cls = get_layer_class(doc.get("class_name"))
        except ValueError as err:
            raise reader.error(str(err)) from None
        if not (isinstance(cls, type) and issubclass(cls, Model)):
            raise reader.error(f"class {doc.get('class_name')!r} is not a model")
        if not isinstance(doc.get("config"), dict):
            raise reader.error("config.json has no model config")
        try:
            with _rng_untouched():
                model = cls.from_config(doc["config"])
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as err:
            raise reader.error(f"the model config is invalid ({type(err).__name__}: {err})") from None
        weight_bytes = sum(w.data.nbytes for w in model.weights)
        _check_and_assign(reader, model, reader.arrays("weights.npz", weight_bytes))
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
            except (ValueError, TypeError, KeyError) as err:
                raise reader.error(f"the compile settings are invalid ({type(err).__name__}: {err})") from None
            if "optimizer.npz" in reader.members:
                try:
                    # slots are at most a few copies of the weights (Adam's amsgrad: three)
                    state = reader.arrays("optimizer.npz", 4 * weight_bytes + 2**20)
                    model.optimizer.set_state(model.trainable_weights, state)
                except (ValueError, TypeError) as err:
                    raise reader.error(f"optimizer state does not fit ({err})") from None
    return model


def load_weights(model, path: str | os.PathLike) -> None:
    """Overwrite ``model``'s weights from a file written by ``save_weights`` (or ``save``)."""
    for fmt in (WEIGHTS_FORMAT, FORMAT):
        try:
            with _open(path, fmt) as reader:
                weight_bytes = sum(w.data.nbytes for w in model.weights)
                _check_and_assign(reader, model, reader.arrays("weights.npz", weight_bytes))
                return
        except ValueError as err:
            if "does not say format" not in str(err):
                raise
    raise ValueError(f"{os.fspath(path)}: neither a faltung weights file nor a model file")
