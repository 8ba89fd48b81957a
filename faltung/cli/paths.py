"""Checking, before any data is loaded or any training is done, that the command can write its outputs.

A model file that cannot be written is otherwise found out only when training is over, and the
trained model is lost with it.
"""
from __future__ import annotations

import os
import tempfile


def check_output_file(path: str, what: str) -> str:
    """``path`` if a file can be written there, else a ValueError naming ``what`` and the reason.

    The file's folder must exist and take new files (saves are atomic: a temporary file beside
    the target is renamed over it); the path must not be a folder; an existing file must be
    writable (the history CSV is appended to in place).
    """
    if os.path.isdir(path):
        raise ValueError(f"{what} {path!r} is a folder; expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        why = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"{what} {path!r}: the folder {folder!r} {why}")
    _check_takes_files(folder, what, path)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path!r} exists and is not writable")
    return path


def check_output_folder(path: str, what: str) -> str:
    """``path`` if it is a folder that takes files, or can be made one; else a ValueError.

    Missing folders on the way are fine (they are created when the files are written), but
    the nearest one that exists must be a writable folder.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{what} {path!r} is a file; expected a folder")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{what} {path!r}: {existing!r} is a file, so the folder cannot be made")
    _check_takes_files(existing, what, path)
    return path


def _check_takes_files(folder: str, what: str, path: str) -> None:
    # Try it: permission bits do not tell (root ignores them; read-only mounts and /proc refuse anyway)
    try:
        fd, probe = tempfile.mkstemp(prefix=".faltung-probe-", dir=folder)
    except OSError as err:
        raise ValueError(f"{what} {path!r}: cannot write into the folder {folder!r} "
                         f"({err.strerror or err})") from None
    os.close(fd)
    os.remove(probe)
