"""Reading an untrusted zip archive in bounded memory: members inflated in chunks, .npy headers before data.

``zipfile.ZipFile.read`` inflates a deflated member in one call (up to 2 GiB of output) before
anyone can compare the result with the size its header declares, so a 1 MB file that lies
about its size costs gigabytes. Here a member is read ``CHUNK`` bytes at a time and never past
its declared size, which must be within the caller's limit; a lie then shows up as a CRC or
length mismatch after at most that many bytes. Only stored and deflated members are read:
zipfile's bzip2 and lzma readers inflate without any bound.

Every failure is a ``ValueError`` naming the member; the caller prefixes the file's name.
"""
from __future__ import annotations

import io
import math
import zipfile
from typing import BinaryIO, NamedTuple

import numpy as np

CHUNK = 1 << 20
# Deflate cannot compress better than about 1032:1, so a member declaring more than this many times
# its compressed size is lying, and is refused without inflating anything.
MAX_DEFLATE_RATIO = 1032
READABLE = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# Slack for what an .npz member holds besides array data: per array a local and a central zip
# header with a zip64 extra field, and an .npy header (np.save pads it to 64 bytes; 1 MiB at most).
NPZ_OVERHEAD_PER_ARRAY = 4096
NPZ_OVERHEAD = 2**20


def open_archive(file: BinaryIO) -> zipfile.ZipFile:
    """A ``ZipFile`` on ``file``; ValueError if its central directory cannot be parsed."""
    try:
        return zipfile.ZipFile(file)
    # zipfile's parser lets whatever crafted bytes trigger escape (BadZipFile, struct.error,
    # UnicodeDecodeError, OverflowError, ...): at this boundary every one means "not a readable zip".
    except Exception as err:
        raise ValueError(f"unreadable zip archive ({type(err).__name__}: {err})") from None


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The bytes of member ``info``: at most ``limit`` of them, read ``CHUNK`` bytes at a time.

    Peak memory is the declared size plus one chunk, whatever the compressed stream would inflate to.
    """
    name = info.filename
    if info.compress_type not in READABLE:
        raise ValueError(f"{name} uses compression method {info.compress_type}; faltung reads only "
                         f"{' and '.join(READABLE.values())} members")
    if info.file_size > limit:
        raise ValueError(f"{name} claims {info.file_size:,} bytes, more than the {limit:,} allowed")
    if info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 64:  # 64: an empty stream's few bytes
        raise ValueError(f"{name} claims {info.file_size:,} bytes from {info.compress_size:,} compressed ones, "
                         f"more than deflate can hold")
    # a BytesIO grows in place and hands its buffer to getvalue() without a copy: one copy of the data
    buffer, total = io.BytesIO(), 0
    try:
        with archive.open(info) as f:
            # zipfile stops at the declared size and then checks the CRC-32, so a stream that
            # would inflate further fails here after file_size bytes, not after gigabytes.
            while chunk := f.read(CHUNK):
                total += len(chunk)
                if total > info.file_size:
                    break
                buffer.write(chunk)
    except Exception as err:  # see open_archive: BadZipFile, zlib.error, EOFError, RuntimeError, ...
        raise ValueError(f"{name} is damaged ({type(err).__name__}: {err})") from None
    if total != info.file_size:
        raise ValueError(f"{name} holds {'more' if total > info.file_size else total} bytes, "
                         f"not the {info.file_size:,} its header declares")
    return buffer.getvalue()


class ArrayHeader(NamedTuple):
    """What an .npy header says: the member, the array's shape and dtype, its data's and its own size in bytes."""

    info: zipfile.ZipInfo
    shape: tuple
    dtype: np.dtype
    nbytes: int
    header_size: int


class NpzArchive:
    """The arrays of an .npz (a zip of .npy files) whose bytes are ``data``.

    Every .npy header is read first and the arrays' sizes summed (``limit`` bytes at most), so
    ``headers`` (key -> ``ArrayHeader``, keys without ".npy") can be checked against what the
    caller expects before ``read(key)`` allocates any array. No object arrays, no pickles.
    """

    def __init__(self, name: str, data: bytes, limit: int):
        self.name = name
        try:
            self.zip = open_archive(io.BytesIO(data))
        except ValueError as err:
            raise ValueError(f"{name} is not a readable array archive ({err})") from None
        self.limit = limit
        self.headers: dict[str, ArrayHeader] = {}
        try:
            self._read_headers()
        except BaseException:
            self.close()
            raise

    def _read_headers(self) -> None:
        claimed = 0
        for info in self.zip.infolist():
            header = self._read_header(info)
            claimed += header.nbytes
            if claimed > self.limit:
                raise self._error(info, f"claims dtype {header.dtype} and shape {header.shape}, "
                                        f"{claimed:,} bytes so far (at most {self.limit:,} expected)")
            if info.file_size != header.header_size + header.nbytes:
                raise self._error(info, f"holds {info.file_size:,} bytes; its header (shape {header.shape}, dtype "
                                        f"{header.dtype}) implies {header.header_size + header.nbytes:,}")
            self.headers[info.filename.removesuffix(".npy")] = header

    def _error(self, info: zipfile.ZipInfo, what: str) -> ValueError:
        return ValueError(f"{self.name} member {info.filename!r} {what}")

    def _read_header(self, info: zipfile.ZipInfo) -> ArrayHeader:
        if info.compress_type not in READABLE:
            raise self._error(info, f"uses compression method {info.compress_type}; expected stored or deflated")
        # zipfile never reads past the declared size, and numpy reads a version 2.0 header's
        # declared length (up to 4 GiB) before checking it: bound the declared size first.
        if info.file_size > self.limit + NPZ_OVERHEAD:
            raise self._error(info, f"claims {info.file_size:,} bytes, more than the {self.limit:,} "
                                    "(plus headers) expected")
        try:
            with self.zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f".npy format version {version}; faltung reads 1.0 and 2.0")
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                header_size = f.tell()
        # numpy parses the header's Python literal with ast and tokenize, whose errors
        # (tokenize.TokenError, SyntaxError, MemoryError, ...) are no documented, closed set.
        except Exception as err:
            raise self._error(info, f"has a malformed .npy header ({type(err).__name__}: {err})") from None
        if dtype.hasobject:
            raise self._error(info, f"holds Python objects (dtype {dtype}); faltung never unpickles")
        if any(d < 0 for d in shape):
            raise self._error(info, f"claims the negative shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a crafted shape cannot overflow
        return ArrayHeader(info, shape, dtype, nbytes, header_size)

    def read(self, key: str) -> np.ndarray:
        """The array stored under ``key``, of exactly the shape and dtype its header announced."""
        header = self.headers[key]
        try:
            with self.zip.open(header.info) as f:
                # the member is exactly header + data (checked above), so reading the data reaches its
                # end, where zipfile compares the CRC-32
                array = np.lib.format.read_array(f, allow_pickle=False)
        except Exception as err:  # see _read_header
            raise self._error(header.info, f"is damaged ({type(err).__name__}: {err})") from None
        if array.shape != header.shape or array.dtype != header.dtype:  # the same bytes parsed twice
            raise self._error(header.info, "changed while being read")
        return array

    def close(self) -> None:
        self.zip.close()
