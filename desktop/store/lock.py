"""One writer per data folder: an exclusive OS lock on ``sidestream.lock``.

The lock is held for the life of the process and released by the OS when the
process ends, also after a crash or kill -9, so a stale lock never blocks the
next start.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import IO

log = logging.getLogger("sidestream.store")

LOCK_FILENAME = "sidestream.lock"


class DataDirLocked(RuntimeError):
    """Another running Sidestream holds this data folder."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILENAME
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        """Take the lock or raise DataDirLocked; OSError for an unusable folder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 (held until release)
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

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the lock
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
