"""Where a dataset's files are looked for, and the error that says where they were not found.

Search order: the ``path=`` argument, ``$FALTUNG_DATA/<name>``, ``$FALTUNG_DATA``, the user
cache ``${XDG_CACHE_HOME:-~/.cache}/faltung/<name>``, then system folders such as the one the
Debian package ``dataset-fashion-mnist`` installs. Downloads go to the user cache.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the searched folders and could not be downloaded.

    The message lists every folder searched and how to get the data.
    """


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/faltung`` (an absolute XDG_CACHE_HOME only, as the spec says), else ``~/.cache/faltung``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "faltung"


def cache_dir(name: str) -> Path:
    """The folder downloads of dataset ``name`` go to."""
    return cache_root() / name


@dataclass(frozen=True)
class Place:
    folder: Path
    why: str  # how this folder came to be searched, for the error message


def search_places(name: str, path: str | os.PathLike | None, system_folders: Sequence[str | os.PathLike] = ()) -> list[Place]:
    """The folders to search for dataset ``name``, in order."""
    places = []
    if path is not None:
        places.append(Place(Path(path).expanduser(), "path= argument"))
    env = os.environ.get("FALTUNG_DATA", "")
    if env:
        root = Path(env).expanduser()
        places += [Place(root / name, f"$FALTUNG_DATA/{name}"), Place(root, "$FALTUNG_DATA")]
    places.append(Place(cache_dir(name), "user cache"))
    places += [Place(Path(f), "system folder") for f in system_folders]
    return places


def find(places: list[Place], match: Callable[[Path], "tuple[object | None, str]"]) -> tuple[object | None, list[str]]:
    """The first ``match(folder)`` result that is not None, and one line per folder tried.

    ``match`` returns ``(found, note)``: what it found (or None) and, when nothing, why not.
    """
    lines = []
    for place in places:
        if not place.folder.is_dir():
            note = "not a folder" if place.folder.exists() else "does not exist"
            lines.append(f"  {place.folder}  ({place.why}): {note}")
            continue
        found, note = match(place.folder)
        if found is not None:
            return found, lines
        lines.append(f"  {place.folder}  ({place.why}): {note}")
    return None, lines


def not_found(title: str, wanted: str, lines: list[str], download_note: str | None, url: str,
              files: Sequence[str], name: str, apt_package: str | None = None) -> DatasetNotFoundError:
    """The error for a dataset found nowhere: where we looked, what failed, the ways to get it."""
    text = [f"{title} not found. Searched these folders for {wanted}:", *lines]
    if download_note:
        text.append(download_note)
    where = (f"download {', '.join(files)} from {url} into {cache_dir(name)} "
             f"(or into any folder, and set FALTUNG_DATA to it or pass path=)")
    if apt_package:
        text += ["To get the data, either:", f"  - install the Debian package: apt-get install {apt_package}",
                 f"  - or {where}"]
    else:
        text.append(f"To get the data, {where}")
    return DatasetNotFoundError("\n".join(text))
