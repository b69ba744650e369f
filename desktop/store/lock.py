"""One writer per data folder: an exclusive OS lock on ``sidestream.lock``.

The lock is held for the life of the process and released by the OS when the
process ends, also after a crash or kill -9, so a stale lock never blocks the
next start. The lock file is private (0600) and never a symbolic link: it is
written to, and writing through a link would write outside the data folder.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path
from typing import IO

from desktop.store.paths import FILE_MODE, owned_by_me

log = logging.getLogger("sidestream.store")

LOCK_FILENAME = "sidestream.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_BINARY", 0)

# Lock files this process holds: probing one of them from here must not
# mistake our own lock for another process's.
_held: set[Path] = set()


class DataDirLocked(RuntimeError):
    """Another running Sidestream holds this data folder."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILENAME
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        """Take the lock or raise DataDirLocked; OSError for an unusable folder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.fdopen(_open_private(self.path), "r+b")
        try:
            _lock(handle)
        except OSError as exc:
            handle.close()
            raise DataDirLocked(
                f"Another Sidestream is already using the data folder {self.path.parent}."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        _held.add(_key(self.path))

    def release(self) -> None:
        if self._file is not None:
            _held.discard(_key(self.path))
            self._file.close()  # closing the descriptor drops the lock
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None


def held_by_another_process(data_dir: Path) -> bool:
    """Whether another running process (a Sidestream) holds ``data_dir``'s lock."""
    path = data_dir / LOCK_FILENAME
    if _key(path) in _held:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return False
    try:
        return not _probe(fd)
    finally:
        os.close(fd)  # also drops the probe's shared lock


def _key(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _open_private(path: Path) -> int:
    """Open (creating 0600) the lock file without following a link; tighten it if loose."""
    try:
        fd = os.open(path, _OPEN_FLAGS, FILE_MODE)
    except OSError as exc:
        if path.is_symlink():
            target = os.path.realpath(path)
            raise OSError(
                f"{path} is a symbolic link to {target}; Sidestream will not follow it"
                " out of its data folder."
            ) from exc
        raise
    st = os.fstat(fd)
    if hasattr(os, "fchmod") and owned_by_me(st) and stat.S_IMODE(st.st_mode) & ~FILE_MODE:
        try:
            os.fchmod(fd, FILE_MODE)
        except OSError as exc:
            log.debug("Could not make %s private: %s", path, exc)
    return fd


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _probe(fd: int) -> bool:
        return True  # no probe without taking the lock itself; assume free

else:
    import fcntl

    def _lock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _probe(fd: int) -> bool:
        """True when the lock is free. flock is independent of SQLite's POSIX locks."""
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
