"""Attached files, stored once per content in the data folder.

A file is kept under ``attachments/<first two hex digits>/<SHA-256>`` of the data
folder, readable by its owner alone (0600, its folders 0700), whatever its
name was: the same picture attached to ten messages is stored once, and the
rows of ``attachments`` name it by its hash. A file is written to a temporary
name in its final folder, flushed to disk and renamed into place, so a crash
leaves either the whole file or none (and a stray temporary file that
:meth:`FileStore.sweep` removes).

A file is added when the user attaches it, before the message that uses it
exists (so a 20 MB file is copied while the user is still typing, not when
they press Enter). A file no message uses is removed when the last chat (or
message) that used it is deleted, and files attached but never sent are swept
at the next start once they are a day old.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("sidestream.store")

FILES_DIR = "attachments"
_CHUNK = 1 << 20
_HASH = re.compile(r"^[0-9a-f]{64}$")
# An unsent attachment is kept this long (the composer may still hold it).
UNSENT_GRACE_S = 24 * 3600


class FileStore:
    """Content-addressed files under ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    def path(self, sha256: str) -> Path:
        if not _HASH.match(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self._root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        """The file's bytes; ``FileNotFoundError`` if it is gone."""
        return self.path(sha256).read_bytes()

    def add_bytes(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.has(sha256):
            self._write(sha256, [data])
        return sha256

    def add_file(self, source: BinaryIO) -> tuple[str, int]:
        """Copy an open file in (hashing as it goes) and return its SHA-256 and size.

        Reads in 1 MB pieces; meant for a worker thread (a 20 MB file takes
        tens of milliseconds).
        """
        digest = hashlib.sha256()
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._root / f".incoming-{os.getpid()}-{time.monotonic_ns()}"
        size = 0
        try:
            with _private_file(tmp) as out:
                while piece := source.read(_CHUNK):
                    digest.update(piece)
                    out.write(piece)
                    size += len(piece)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            target = self.path(sha256)
            if target.is_file():
                tmp.unlink()
            else:
                target.parent.mkdir(mode=0o700, exist_ok=True)
                tmp.replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return sha256, size

    def remove(self, hashes: Iterable[str]) -> int:
        """Delete these files (those still there); returns how many went."""
        removed = 0
        for sha256 in hashes:
            try:
                self.path(sha256).unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:  # the next sweep tries again
                log.warning("could not remove attached file %s: %s", sha256[:12], exc)
        return removed

    def stored(self) -> dict[str, float]:
        """Every stored file's SHA-256 and modification time."""
        found: dict[str, float] = {}
        if not self._root.is_dir():
            return found
        for folder in self._root.iterdir():
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if _HASH.match(entry.name):
                    with contextlib.suppress(OSError):
                        found[entry.name] = entry.stat().st_mtime
        return found

    def sweep(self, used: set[str], now: float | None = None) -> int:
        """Remove files no message uses that are older than a day, and stray
        temporary files; returns how many files went."""
        now = time.time() if now is None else now
        old = [
            sha256
            for sha256, mtime in self.stored().items()
            if sha256 not in used and now - mtime > UNSENT_GRACE_S
        ]
        removed = self.remove(old)
        if self._root.is_dir():
            for stray in self._root.rglob(".incoming-*"):
                with contextlib.suppress(OSError):
                    if now - stray.stat().st_mtime > UNSENT_GRACE_S:
                        stray.unlink()
        return removed

    def _write(self, sha256: str, pieces: list[bytes]) -> None:
        target = self.path(sha256)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.parent / f".incoming-{os.getpid()}-{time.monotonic_ns()}"
        try:
            with _private_file(tmp) as out:
                for piece in pieces:
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def _private_file(path: Path) -> BinaryIO:
    """A new file open for writing that only its owner can read (0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")
