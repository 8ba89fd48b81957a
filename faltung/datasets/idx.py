"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST, raw or gzipped.

An IDX file is a header ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the values in C order, big-endian. The header is checked against
the file's real size before anything is allocated, so a corrupt or hostile header
that claims terabytes fails at once with a ``ValueError`` naming the file.
"""
from __future__ import annotations

import gzip as _gzip
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

from ..io import atomic_write

GZIP_MAGIC = b"\x1f\x8b"
# The IDX type codes; multi-byte values are big-endian on disk.
DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
CODES = {dt.newbyteorder("=").str[1:]: code for code, dt in DTYPES.items()}  # "u1" -> 0x08, ...
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes holds at most
# this many times n bytes: a header claiming more is refused without inflating anything.
MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 22


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with gzip's magic bytes (whatever its name)."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _gzip_isize(f: BinaryIO) -> int:
    """The uncompressed size modulo 2**32 that the gzip trailer records (of the last member)."""
    f.seek(-4, os.SEEK_END)
    return struct.unpack("<I", f.read(4))[0]


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _parse_header(name: str, stream: BinaryIO, expect_ndim: int | None) -> tuple[np.dtype, tuple[int, ...], int]:
    """Read and check the magic number and dimensions; return (dtype, shape, header size)."""
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(magic)} bytes, an IDX header has at least 4)")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{name}: not an IDX file (magic number {magic.hex()} does not start with 0000)")
    code, ndim = magic[2], magic[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header says 0 dimensions; expected at least 1")
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(f"{name}: IDX header says {ndim} dimensions; expected {expect_ndim}")
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header ({4 + len(raw_dims)} bytes; "
                         f"{ndim} dimensions need {4 + 4 * ndim})")
    shape = struct.unpack(f">{ndim}I", raw_dims)
    return DTYPES[code], shape, 4 + 4 * ndim


def _size_error(name: str, header: int, shape: tuple[int, ...], dtype: np.dtype, actual: str) -> ValueError:
    claimed = header + int(np.prod(shape, dtype=object)) * dtype.itemsize
    return ValueError(f"{name}: IDX header claims shape {shape} of {dtype.newbyteorder('=').name}, that is "
                      f"{claimed} bytes with the header, but {actual} (corrupt, truncated or not an IDX file)")


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip, told apart by the magic bytes) into a native-endian array.

    ``ndim``, when given, is the number of dimensions the caller expects (3 for images
    ``(N, rows, cols)``, 1 for labels ``(N,)``). Raises ``FileNotFoundError`` for a missing
    file and ``ValueError`` naming the file for anything wrong inside it.

    >>> x = read_idx("train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> x.shape, x.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        if f.read(2) == GZIP_MAGIC:
            return _read_gzip(name, f, file_size, ndim)
        f.seek(0)
        dtype, shape, header = _parse_header(name, f, ndim)
        count = int(np.prod(shape, dtype=object))
        if header + count * dtype.itemsize != file_size:
            raise _size_error(name, header, shape, dtype, f"the file has {file_size} bytes")
        data = np.fromfile(f, dtype=dtype, count=count)
    if data.size != count:  # the file shrank under us
        raise _size_error(name, header, shape, dtype, f"only {header + data.nbytes} bytes could be read")
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _read_gzip(name: str, f: BinaryIO, file_size: int, ndim: int | None) -> np.ndarray:
    if file_size < 18:
        raise ValueError(f"{name}: truncated gzip file ({file_size} bytes)")
    isize = _gzip_isize(f)
    f.seek(0)
    try:
        with _gzip.GzipFile(fileobj=f, mode="rb") as z:
            dtype, shape, header = _parse_header(name, z, ndim)
            count = int(np.prod(shape, dtype=object))
            total = header + count * dtype.itemsize
            # Two checks before allocating: the trailer's size, and what deflate could possibly hold.
            if total % 2**32 != isize:
                raise _size_error(name, header, shape, dtype,
                                  f"its gzip trailer says it inflates to {isize} bytes (modulo 2**32)")
            if total > MAX_DEFLATE_RATIO * file_size:
                raise _size_error(name, header, shape, dtype, f"the file has {file_size} compressed bytes, "
                                  f"which inflate to at most {MAX_DEFLATE_RATIO * file_size}")
            data = np.empty(count, dtype=dtype)
            view = memoryview(data).cast("B")
            filled = 0
            while filled < len(view):
                n = z.readinto(view[filled:filled + _CHUNK])
                if not n:
                    break
                filled += n
            extra = z.read(1)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(f"{name}: damaged gzip data ({err})") from None
    if filled != len(view) or extra:
        actual = f"it inflates to {header + filled} bytes" if not extra else "it inflates to more"
        raise _size_error(name, header, shape, dtype, actual)
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array, gzip: bool = False) -> None:
    """Write ``array`` as an IDX file (gzipped when ``gzip=True``), atomically.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the IDX types);
    cast other arrays first (``x.astype(np.int32)``).
    """
    a = np.asarray(array)
    key = a.dtype.newbyteorder("=").str[1:] if a.dtype.kind in "uif" else None
    if key not in CODES:
        supported = ", ".join(np.dtype(k).name for k in CODES)
        raise ValueError(f"write_idx: dtype {a.dtype} has no IDX type code; supported: {supported}")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions; got shape {a.shape}")
    if any(n >= 2**32 for n in a.shape):
        raise ValueError(f"write_idx: every dimension must be below 2**32; got shape {a.shape}")
    code = CODES[key]
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    body = np.ascontiguousarray(a, dtype=DTYPES[code]).tobytes()

    def write(f: BinaryIO) -> None:
        if gzip:
            with _gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as z:
                z.write(header)
                z.write(body)
        else:
            f.write(header)
            f.write(body)

    atomic_write(path, write)
