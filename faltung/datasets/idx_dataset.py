"""The loader shared by MNIST and Fashion-MNIST: four IDX files found (or downloaded) and read.

Each file may be raw or gzipped (``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``);
downloads fetch the ``.gz`` files into the user cache.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import download as _download
from .idx import read_idx
from .sources import cache_dir, find, not_found, search_places

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
WANTED = ", ".join(f"{f}(.gz)" for f in FILES)

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def locate(folder: Path) -> tuple[dict[str, Path] | None, str]:
    """The four files in ``folder`` (raw preferred over .gz), or None and what is missing."""
    found, missing = {}, []
    for name in FILES:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(f"{name}(.gz)")
    if missing:
        return None, "none of the four files" if len(missing) == len(FILES) else f"missing {', '.join(missing)}"
    return found, ""


def load(*, name: str, title: str, url: str, sha256: Mapping[str, str], path, base_url: str | None,
         download: bool, verbose: int, system_folders: Sequence[str | os.PathLike] = (),
         apt_package: str | None = None, image_shape: tuple[int, int] = (28, 28)) -> Arrays:
    """Find the four files (path=, $FALTUNG_DATA, cache, system folders), else download, then read."""
    if path is not None and Path(path).expanduser().is_file():
        raise ValueError(f"path={os.fspath(path)!r} is a file; pass the folder that holds {WANTED}")
    found, lines = find(search_places(name, path, system_folders), locate)
    if found is None:
        source = _download.base_url(url, name, base_url)

        def error(note: str):
            return not_found(title, WANTED, lines, note, source, [f"{f}.gz" for f in FILES], name, apt_package)

        if not download:
            raise error("Downloading is off (download=False).")
        target = cache_dir(name)
        try:
            for f in FILES:
                if not (target / f).is_file() and not (target / f"{f}.gz").is_file():
                    _download.download(source + f"{f}.gz", target / f"{f}.gz", sha256[f"{f}.gz"], verbose)
        except (_download.DownloadError, OSError) as err:
            raise error(f"Downloading into {target} failed (no partial file was left): {err}") from None
        found, note = locate(target)
        if found is None:  # pragma: no cover - the downloads above put every file there
            raise error(f"After downloading, {target} has {note}.")
    return read_files(found, image_shape)


def read_files(files: Mapping[str, Path], image_shape: tuple[int, int]) -> Arrays:
    """Read the four files and check that they fit together: uint8 images of ``image_shape``,
    one uint8 label per image."""
    arrays = {}
    for name, file in files.items():
        a = read_idx(file, ndim=3 if "images" in name else 1)
        if a.dtype != np.uint8:
            raise ValueError(f"{file}: holds {a.dtype} values; expected uint8")
        if "images" in name and a.shape[1:] != tuple(image_shape):
            raise ValueError(f"{file}: images are {a.shape[1]}x{a.shape[2]}; expected "
                             f"{image_shape[0]}x{image_shape[1]}")
        arrays[name] = a
    x_train, y_train, x_test, y_test = (arrays[f] for f in FILES)
    for x, y, (fx, fy) in ((x_train, y_train, FILES[:2]), (x_test, y_test, FILES[2:])):
        if len(x) != len(y):
            raise ValueError(f"{files[fx]} has {len(x)} images but {files[fy]} has {len(y)} labels")
    return (x_train, y_train), (x_test, y_test)
