"""Where Sidestream keeps its data, and keeping that place private.

The data folder holds chat history, so the folder is owner-only (0700) and
the database file 0600; SQLite gives its ``-wal``/``-shm`` files the mode of
the database file, so those follow. A folder or file that already exists
with a looser mode (an older version, a copy, a restored backup) is tightened
when it belongs to the user. The folder may be a symbolic link (kept on
another disk); the database and its side files may not: SQLite would follow
one and write the chats wherever it leads.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

log = logging.getLogger("sidestream.store")

APP_NAME = "Sidestream"
DB_FILENAME = "sidestream.db"
DIR_MODE = 0o700
FILE_MODE = 0o600
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
# Folders Sidestream itself keeps in the data folder (attachments, backups).
OWN_FOLDERS = frozenset({"attachments", "backups"})

# Paths whose mode could not be tightened: said once per process, not per open.
_untightenable: set[Path] = set()


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


def side_paths(db_path: Path) -> list[Path]:
    """The files SQLite keeps beside the database: ``-wal``, ``-shm``, ``-journal``."""
    return [db_path.with_name(db_path.name + suffix) for suffix in SIDE_SUFFIXES]


@dataclass(frozen=True, slots=True)
class Tightened:
    """A mode this module made private."""

    path: Path
    old_mode: int
    new_mode: int

    def __str__(self) -> str:
        return f"{self.path} {self.old_mode:04o} -> {self.new_mode:04o}"


def ensure_data_dir(data_dir: Path) -> list[Tightened]:
    """Create ``data_dir`` (and missing parents) 0700, or tighten an existing one.

    Returns what was tightened. Raises ``OSError`` (the caller turns it into
    a ``StoreError``).
    """
    if data_dir.is_dir():
        return _tighten_folder(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        data_dir.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not data_dir.is_dir():
            raise
        return _tighten_folder(data_dir)
    # mkdir's mode is filtered by the umask; set it exactly.
    data_dir.chmod(DIR_MODE)
    return []


def _is_ours(name: str) -> bool:
    return name.startswith((DB_FILENAME, "sidestream.")) or name in OWN_FOLDERS


def _tighten_folder(data_dir: Path) -> list[Tightened]:
    """Tighten the data folder when it holds only Sidestream's files.

    A folder that also holds other things (``--data-dir ~/Documents``) was
    chosen by the user with its mode on purpose: it is left as it is, and a
    warning says once that others may list it; the files are private anyway.
    """
    try:
        foreign = [entry.name for entry in data_dir.iterdir() if not _is_ours(entry.name)]
    except OSError:
        foreign = []
    if not foreign:
        return _tighten(data_dir, DIR_MODE, follow=True)
    if os.name == "posix" and data_dir not in _untightenable:
        mode = stat.S_IMODE(data_dir.stat().st_mode)
        if mode & 0o077:
            _untightenable.add(data_dir)
            log.warning(
                "The data folder %s (mode %04o) holds other files too, so its mode is left as "
                "it is; Sidestream's own files in it are private (0600)",
                data_dir,
                mode,
            )
    return []


def ensure_private_file(path: Path) -> list[Tightened]:
    """Create an empty ``path`` 0600, or tighten the existing one and its side files.

    Creating the file ourselves, before SQLite does, is what fixes its mode:
    SQLite would create it 0644 (umask permitting), and creates ``-wal`` and
    ``-shm`` with the database's mode. ``O_EXCL`` also refuses a symbolic
    link, dangling or not. Returns what was tightened.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        tightened = _tighten(path, FILE_MODE)
    else:
        os.close(fd)
        path.chmod(FILE_MODE)
        tightened = []
    for side in side_paths(path):
        tightened += _tighten(side, FILE_MODE)
    return tightened


def _tighten(path: Path, mode: int, *, follow: bool = False) -> list[Tightened]:
    """Drop the bits of ``path``'s mode beyond ``mode``, if the user owns it.

    Only the data folder itself is followed when it is a link (a folder kept
    on another disk); a linked file is refused elsewhere, never changed.
    """
    if os.name != "posix":
        return []  # no POSIX modes to tighten (Windows: ACLs of the user's profile)
    try:
        st = path.stat() if follow else path.lstat()
    except FileNotFoundError:
        return []
    if stat.S_ISLNK(st.st_mode) or not owned_by_me(st):
        return []  # only the owner may chmod
    old = stat.S_IMODE(st.st_mode)
    if old & ~mode == 0:
        return []
    new = old & mode
    try:
        path.chmod(new)
    except OSError as exc:
        if path not in _untightenable:
            _untightenable.add(path)
            log.warning("Could not make %s private (mode %04o): %s", path, old, exc)
        return []
    return [Tightened(path, old, new)]


def owned_by_me(st: os.stat_result) -> bool:
    return not hasattr(os, "geteuid") or st.st_uid == os.geteuid()


def linked_entry(db_path: Path) -> tuple[Path, Path] | None:
    """The database or a side file that is a symbolic link, with where it leads."""
    for path in [db_path, *side_paths(db_path)]:
        if path.is_symlink():
            return path, Path(os.path.realpath(path))
    return None


def leads_out_of(folder: Path, target: Path) -> bool:
    """Whether ``target`` (resolved) is not directly in ``folder``."""
    return target.parent != Path(os.path.realpath(folder))


def user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def foreign_owner(path: Path) -> tuple[str, str] | None:
    """``(owner, me)`` when ``path`` exists, belongs to someone else and we may not write it.

    Root may write anything, so for root nothing is foreign.
    """
    if not hasattr(os, "geteuid"):
        return None
    try:
        st = path.lstat()
    except OSError:
        return None
    if owned_by_me(st) or os.access(path, os.W_OK):
        return None
    return user_name(st.st_uid), user_name(os.geteuid())
