"""CIFAR-10, like ``keras.datasets.cifar10``: 50,000 + 10,000 colour images of 32×32, from the *binary* distribution.

Each record of ``data_batch_1..5.bin`` and ``test_batch.bin`` is one label byte followed by
3072 pixel bytes, channel-planar (1024 red, 1024 green, 1024 blue, each 32×32 row-major).
Records are read straight from ``cifar-10-binary.tar.gz`` (nothing is extracted, so no path
in the archive is ever written to) or from an extracted ``cifar-10-batches-bin`` folder.
No pickle is involved.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import download as _download
from .sources import cache_dir, find, not_found, search_places

NAME = "cifar10"
URL = "https://www.cs.toronto.edu/~kriz/"
ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
# SHA-256 of the archive (170,052,171 bytes; MD5 c32a1d4ab5d03f1284b67883e8d87530 as
# published on the CIFAR page).
SHA256 = {ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
FILES = (*TRAIN_FILES, TEST_FILE)
RECORD_BYTES = 1 + 3 * 32 * 32
RECORDS_PER_BATCH = 10000
SYSTEM_FOLDERS: tuple[str, ...] = ()
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
WANTED = f"{ARCHIVE}, {FOLDER}/ or the six .bin files"

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def locate(folder: Path) -> tuple[Path | None, str]:
    """The extracted folder or the archive in ``folder`` (extracted preferred), or None and why."""
    for candidate in (folder / FOLDER, folder):
        if all((candidate / f).is_file() for f in FILES):
            return candidate, ""
    if (folder / ARCHIVE).is_file():
        return folder / ARCHIVE, ""
    return None, f"no {ARCHIVE}, no complete {FOLDER}/"


def load_data(path: str | os.PathLike | None = None, *, base_url: str | None = None, download: bool = True,
              verbose: int = 1) -> Arrays:
    """``((x_train, y_train), (x_test, y_test))``: x uint8 ``(N, 32, 32, 3)`` channels-last,
    y uint8 ``(N, 1)`` in 0..9 (``CLASS_NAMES[y]``), exactly Keras' shapes and dtypes.

    ``path``: the archive itself, or a folder holding it or the extracted batches, searched first;
    then ``$FALTUNG_DATA/cifar10``, ``$FALTUNG_DATA``, ``~/.cache/faltung/cifar10``; else the
    archive is downloaded (SHA-256 checked) into that cache. ``base_url`` (or
    ``$FALTUNG_DATA_URL/cifar10/``) replaces the download server.

    >>> (x_train, y_train), (x_test, y_test) = load_data()   # doctest: +SKIP
    >>> x_train.shape, y_train.shape  # doctest: +SKIP
    ((50000, 32, 32, 3), (50000, 1))
    """
    if path is not None and Path(path).expanduser().is_file():
        return read_archive(Path(path).expanduser())
    found, lines = find(search_places(NAME, path, SYSTEM_FOLDERS), locate)
    if found is None:
        source = _download.base_url(URL, NAME, base_url)

        def error(note: str):
            return not_found("CIFAR-10", WANTED, lines, note, source, [ARCHIVE], NAME)

        if not download:
            raise error("Downloading is off (download=False).")
        target = cache_dir(NAME) / ARCHIVE
        try:
            _download.download(source + ARCHIVE, target, SHA256[ARCHIVE], verbose)
        except (_download.DownloadError, OSError) as err:
            raise error(f"Downloading into {target.parent} failed (no partial file was left): {err}") from None
        found = target
    return read_archive(found) if found.is_file() else read_folder(found)


def _split(records: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Records ``(N, 3073)`` to x ``(N, 32, 32, 3)`` and y ``(N, 1)``; labels checked to be 0..9."""
    labels = records[:, :1].copy()
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise ValueError(f"{where}: label byte {int(labels.max())} is not a CIFAR-10 class (0..9); "
                         f"is this CIFAR-100 or another file?")
    # channel-planar R,G,B of 32x32 -> channels-last, as Keras does with transpose(0, 2, 3, 1)
    x = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, labels


def _check_size(where: str, size: int) -> None:
    expected = RECORDS_PER_BATCH * RECORD_BYTES
    if size != expected:
        raise ValueError(f"{where}: {size} bytes; a CIFAR-10 batch is {RECORDS_PER_BATCH} records of "
                         f"{RECORD_BYTES} bytes = {expected} bytes (truncated or not a CIFAR-10 binary batch)")


def _assemble(batches: dict[str, bytes | np.ndarray], where: str) -> Arrays:
    def records(name):
        return np.frombuffer(batches[name], dtype=np.uint8).reshape(-1, RECORD_BYTES)

    x_train, y_train = _split(np.concatenate([records(f) for f in TRAIN_FILES]), f"{where} ({FOLDER} training)")
    x_test, y_test = _split(records(TEST_FILE), f"{where} ({TEST_FILE})")
    return (x_train, y_train), (x_test, y_test)


def read_folder(folder: Path) -> Arrays:
    """Read the six extracted ``.bin`` batches of ``folder``."""
    batches = {}
    for name in FILES:
        file = folder / name
        _check_size(str(file), file.stat().st_size)
        batches[name] = np.fromfile(file, dtype=np.uint8)
        _check_size(str(file), batches[name].size)
    return _assemble(batches, str(folder))


def read_archive(archive: Path) -> Arrays:
    """Read the six batches straight out of ``cifar-10-binary.tar.gz`` (or an uncompressed tar).

    Only regular members named ``cifar-10-batches-bin/<batch>.bin`` (or ``<batch>.bin``) are read,
    each only after its recorded size is checked; everything else in the archive is skipped.
    """
    import tarfile

    wanted = {f: f for f in FILES} | {f"{FOLDER}/{f}": f for f in FILES}
    batches: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, mode="r|*") as tar:  # streaming: one pass, forward only
            for member in tar:
                key = wanted.get(member.name.removeprefix("./"))
                if key is None:
                    continue
                where = f"{archive}: member {member.name}"
                if not member.isfile():
                    raise ValueError(f"{where} is not a regular file")
                if key in batches:
                    raise ValueError(f"{where} appears twice")
                _check_size(where, member.size)
                data = tar.extractfile(member).read(member.size)
                _check_size(where, len(data))
                batches[key] = data
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"{archive}: not a readable CIFAR-10 archive ({type(err).__name__}: {err})") from None
    missing = [f for f in FILES if f not in batches]
    if missing:
        raise ValueError(f"{archive}: missing {', '.join(missing)} (expected {FOLDER}/<batch>.bin members)")
    return _assemble(batches, str(archive))
