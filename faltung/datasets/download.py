"""Downloading one dataset file: streamed, SHA-256 checked, written atomically, with a progress bar.

A failed, interrupted or mismatching download leaves nothing at the destination (the bytes
go to a temporary file beside it that is renamed only once the hash matches).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from ..io import atomic_write
from ..progress import ProgressBar

TIMEOUT_S = 30
_CHUNK = 1 << 16


class DownloadError(OSError):
    """A download failed: no network, an HTTP error, or the bytes did not have the expected SHA-256."""


def base_url(default: str, name: str, override: str | None = None) -> str:
    """The folder URL to fetch from: ``override``, else ``$FALTUNG_DATA_URL/<name>/``, else ``default``."""
    if override:
        return override if override.endswith("/") else override + "/"
    env = os.environ.get("FALTUNG_DATA_URL", "")
    if env:
        return env.rstrip("/") + f"/{name}/"
    return default


def download(url: str, dest: str | os.PathLike, sha256: str | None, verbose: int = 1) -> Path:
    """Fetch ``url`` to ``dest`` (its folder is created), checking the SHA-256 when given.

    Raises ``DownloadError`` (nothing written) on any network failure or hash mismatch.
    """
    import http.client
    import urllib.error
    import urllib.request

    dest = Path(dest)
    created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)

    def write(f) -> None:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                total = int(response.headers.get("Content-Length") or 0)
                kib = max((total + 1023) // 1024, 1)
                bar = ProgressBar(kib, verbose=verbose if total else 0,
                                  title=f"Downloading {url} ({total / 2**20:.1f} MiB)")
                done = 0
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
                    done += len(chunk)
                    bar.update(min(done // 1024, kib))
                bar.close()
        except urllib.error.HTTPError as err:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
            # no network, connection refused or cut, timeout, a malformed URL
            reason = getattr(err, "reason", err)
            raise DownloadError(f"{url}: {reason}") from None
        if total and done != total:
            raise DownloadError(f"{url}: the connection ended after {done} of {total} bytes")
        if sha256 and digest.hexdigest() != sha256.lower():
            raise DownloadError(f"{url}: the file's SHA-256 is {digest.hexdigest()}, expected {sha256.lower()}")

    try:
        atomic_write(dest, write)
    except BaseException:
        if created:  # leave no empty folder behind either
            with contextlib.suppress(OSError):
                dest.parent.rmdir()
        raise
    os.chmod(dest, 0o644)  # a cache file anyone may read, not the temporary file's 0600
    return dest
