"""faltung's model file format: one zip, safe to read, written atomically (no model classes here:
``faltung.models.saving`` turns models into such files and back).

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

from . import untrusted_zip

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


def write_archive(path: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Write ``{member name: bytes}`` as one deflated zip at ``path``, atomically."""
    atomic_write(path, lambda f: _write_zip(f, files))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an .npz archive (no pickles: numeric arrays only)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _write_zip(f, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)


# ----- reading -----

class ModelFile:
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
            return {key: self.array(npz, key) for key in npz.headers}
        finally:
            npz.close()

    def array(self, npz: untrusted_zip.NpzArchive, key: str) -> np.ndarray:
        """Array ``key`` of an archive from ``npz``; a damaged one is a ValueError naming this file."""
        try:
            return npz.read(key)
        except ValueError as err:
            raise self.error(str(err)) from None

    def close(self) -> None:
        if hasattr(self, "zip"):
            self.zip.close()
        self.file.close()


@contextlib.contextmanager
def open_model_file(path, expected_format: str) -> Iterator[ModelFile]:
    """The model or weights file at ``path``, its header checked, closed on leaving the block."""
    reader = ModelFile(path, expected_format)
    try:
        yield reader
    finally:
        reader.close()
