"""Where Sidestream keeps its data, and creating that place with private modes.

The data folder holds chat history, so it is created owner-only (0700) and the
database file 0600; SQLite gives its ``-wal``/``-shm`` files the mode of the
database file, so those follow.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "Sidestream"
DB_FILENAME = "sidestream.db"
DIR_MODE = 0o700
FILE_MODE = 0o600


def default_data_dir() -> Path:
    """The platform's per-user data folder for Sidestream."""
    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_data_dir(arg: str | Path | None) -> Path:
    """The data folder to use: ``arg`` (``--data-dir``) when given, else the default."""
    if arg is None or str(arg) == "":
        return default_data_dir()
    return Path(arg).expanduser().absolute()


def database_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def ensure_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` (and missing parents) if needed; the folder itself 0700.

    An existing folder keeps its mode: the user may have chosen it on purpose.
    Raises ``OSError`` (the caller turns it into a ``StoreError``).
    """
    if data_dir.is_dir():
        return
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        data_dir.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not data_dir.is_dir():
            raise
        return
    # mkdir's mode is filtered by the umask; set it exactly.
    data_dir.chmod(DIR_MODE)


def ensure_private_file(path: Path) -> None:
    """Create an empty ``path`` with mode 0600 unless it exists.

    Creating the file ourselves, before SQLite does, is what fixes its mode:
    SQLite would create it 0644 (umask permitting).
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
    path.chmod(FILE_MODE)
