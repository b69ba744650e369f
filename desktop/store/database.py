"""The SQLite connection layer: pragmas on every connection, and errors as values.

Known trouble (read-only folder, full disk, damaged file, lock held too long)
becomes a :class:`StoreError` with a message the user can act on; anything
else from SQLite (constraint violations, SQL mistakes) is a bug and propagates
unchanged so that it is logged with its traceback (qutebrowser's
``misc/sql.py`` makes the same split).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import shlex
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import peewee

from desktop.store.paths import foreign_owner, leads_out_of, side_paths

log = logging.getLogger("sidestream.store")

BUSY_TIMEOUT_MS = 5000

# busy_timeout comes first so that switching to WAL waits for a lock held by
# another connection instead of failing at once.  Peewee runs these on every
# new connection, and it opens one connection per thread.
PRAGMAS: tuple[tuple[str, object], ...] = (
    ("busy_timeout", BUSY_TIMEOUT_MS),
    ("journal_mode", "wal"),
    ("synchronous", "normal"),
    ("foreign_keys", 1),
)


class StoreErrorKind(enum.StrEnum):
    READ_ONLY = "read_only"
    DISK_FULL = "disk_full"
    CORRUPT = "corrupt"
    LOCKED = "locked"
    TOO_NEW = "too_new"
    SYMLINK = "symlink"  # the database or a side file is a symbolic link: not followed
    WAL_LOST = "wal_lost"  # the -wal file was deleted under a running Sidestream
    OTHER = "other"


class StoreError(Exception):
    """A known failure of the store, with a message meant for the user."""

    def __init__(self, kind: StoreErrorKind, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.path = path

    def __repr__(self) -> str:
        return f"StoreError({self.kind.value!r}, {self.message!r})"


def human_message(kind: StoreErrorKind, path: Path, detail: str = "") -> str:
    folder = path.parent
    if kind is StoreErrorKind.READ_ONLY:
        return f"Sidestream cannot write to {path}: {read_only_cause(path)}."
    if kind is StoreErrorKind.DISK_FULL:
        return f"Sidestream cannot write to {path}: the disk is full."
    if kind is StoreErrorKind.CORRUPT:
        return f"The database file {path} is damaged."
    if kind is StoreErrorKind.LOCKED:
        return (
            f"The database file {path} is locked by another program"
            " (is another Sidestream running on the same data folder?)."
        )
    if kind is StoreErrorKind.TOO_NEW:
        return f"The database file {path} was written by a newer version of Sidestream. {detail}"
    if kind is StoreErrorKind.SYMLINK:
        # ``path`` is the link here, ``detail`` where it leads.
        refusal = (
            "Sidestream will not follow it out of its data folder"
            if leads_out_of(folder, Path(detail))
            else "Sidestream keeps only regular files in its data folder"
        )
        return (
            f"{path} is a symbolic link to {detail}; {refusal} {folder}. Nothing was read"
            " or written through it. Move the file itself into the folder (or start with"
            " --data-dir where the file is)."
        )
    if kind is StoreErrorKind.WAL_LOST:
        wal = path.with_name(path.name + "-wal")
        return (
            f"The database's write-ahead log {wal} was removed while Sidestream was running;"
            f" the latest changes to {path} are only in the running Sidestream now."
            " Nothing was read or changed. Quit that Sidestream normally (it still holds"
            " the log and writes those changes into the database as it closes), then try"
            f" again. Never delete files in {folder} while Sidestream runs."
        )
    return f"Sidestream could not use the database file {path}: {detail or 'unknown error'}."


def read_only_cause(path: Path) -> str:
    """Why Sidestream may not write ``path`` (the database) or beside it, as a clause.

    A file or folder of another user (Sidestream once run with sudo, a copy
    from another account) is named with its owner: "read-only" would send
    the user looking for the wrong fix.
    """
    folder = path.parent
    for candidate in (path, *side_paths(path), folder):
        owner = foreign_owner(candidate)
        if owner is None:
            continue
        who, me = owner
        if candidate == path:
            what = "the file"
        elif candidate == folder:
            what = f"the data folder {folder}"
        else:
            what = str(candidate)
        return (
            f"{what} belongs to user {who}, not to you ({me}); to make it yours"
            f" again: sudo chown -R {shlex.quote(me)} {shlex.quote(str(folder))}"
        )
    if not folder.exists():
        ancestor = next((p for p in folder.parents if p.exists()), folder.anchor)
        return f"the data folder {folder} cannot be created: {ancestor} is read-only"
    if folder_writable(folder):
        for candidate in (path, *side_paths(path)):
            if candidate.exists() and not os.access(candidate, os.W_OK):
                return f"{candidate} is read-only"
    return f"the data folder {folder} is read-only"


def folder_writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


# Primary SQLite result codes (the low byte of an extended code).
_SQLITE_KINDS = {
    3: StoreErrorKind.READ_ONLY,  # SQLITE_PERM
    5: StoreErrorKind.LOCKED,  # SQLITE_BUSY
    6: StoreErrorKind.LOCKED,  # SQLITE_LOCKED
    8: StoreErrorKind.READ_ONLY,  # SQLITE_READONLY
    11: StoreErrorKind.CORRUPT,  # SQLITE_CORRUPT
    13: StoreErrorKind.DISK_FULL,  # SQLITE_FULL
    26: StoreErrorKind.CORRUPT,  # SQLITE_NOTADB
}
_SQLITE_CANTOPEN = 14
_SQLITE_IOERR = 10

# For exceptions that carry no result code; the texts are SQLite's own.
_MESSAGE_KINDS = (
    ("readonly database", StoreErrorKind.READ_ONLY),
    ("disk is full", StoreErrorKind.DISK_FULL),
    ("malformed", StoreErrorKind.CORRUPT),
    ("not a database", StoreErrorKind.CORRUPT),
    ("database is locked", StoreErrorKind.LOCKED),
    ("database table is locked", StoreErrorKind.LOCKED),
)

_OS_KINDS = {
    errno.EROFS: StoreErrorKind.READ_ONLY,
    errno.EACCES: StoreErrorKind.READ_ONLY,
    errno.EPERM: StoreErrorKind.READ_ONLY,
    errno.ENOSPC: StoreErrorKind.DISK_FULL,
    errno.EDQUOT: StoreErrorKind.DISK_FULL,
}

# Exceptions that mean the code is wrong, not the environment.
_BUG_TYPES: tuple[type[BaseException], ...] = (
    peewee.IntegrityError,
    peewee.ProgrammingError,
    peewee.InterfaceError,
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
)


def _sqlite_error(exc: BaseException) -> BaseException:
    """The driver's exception behind a peewee wrapper (peewee keeps it as ``orig``)."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def classify(exc: BaseException, path: Path) -> StoreErrorKind | None:
    """The kind of a known failure, or ``None`` when ``exc`` is a bug."""
    if isinstance(exc, StoreError):
        return exc.kind
    if isinstance(exc, OSError):
        return _OS_KINDS.get(exc.errno or 0, StoreErrorKind.OTHER)
    if isinstance(exc, _BUG_TYPES) or isinstance(_sqlite_error(exc), _BUG_TYPES):
        return None
    if not isinstance(exc, peewee.DatabaseError | sqlite3.Error):
        return None
    code = getattr(_sqlite_error(exc), "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        if primary in _SQLITE_KINDS:
            return _SQLITE_KINDS[primary]
        if primary == _SQLITE_CANTOPEN:
            # SQLite says "unable to open" both for a folder it may not write
            # and for other trouble; tell them apart by asking the OS.
            writable = folder_writable(path.parent)
            return StoreErrorKind.OTHER if writable else StoreErrorKind.READ_ONLY
        if primary == _SQLITE_IOERR and wal_missing(path, or_empty=True):
            return StoreErrorKind.WAL_LOST
    text = str(exc).lower()
    for needle, kind in _MESSAGE_KINDS:
        if needle in text:
            return kind
    return StoreErrorKind.OTHER


def wal_missing(path: Path, *, or_empty: bool = False) -> bool:
    """Whether the database's ``-shm`` index is there but its ``-wal`` log is gone.

    SQLite keeps both while a connection is open and removes both on the last
    close, so an index without its log means the log was deleted under a
    running program (or after a crash, when it does no harm: the first
    connection then rebuilds the index). ``or_empty`` also counts a log of
    zero bytes, which a failed open may have just created in its place. Only
    ``stat`` is used: opening and closing the ``-shm`` file would drop this
    process's own SQLite locks on it (POSIX locks belong to the process).
    """
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    try:
        if shm.stat().st_size == 0:
            return False
    except OSError:
        return False
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return or_empty and size == 0


def translate(exc: BaseException, path: Path) -> StoreError | None:
    """``exc`` as a :class:`StoreError`, or ``None`` when it is a bug to re-raise."""
    if isinstance(exc, StoreError):
        return exc
    kind = classify(exc, path)
    if kind is None:
        return None
    detail = str(_sqlite_error(exc)) or type(exc).__name__
    error = StoreError(kind, human_message(kind, path, detail), path)
    # Known failures reach the user as values; the caller decides how loud to log.
    log.info("Store error (%s) on %s: %s", kind.value, path, detail)
    return error


def os_error(exc: OSError, path: Path) -> StoreError:
    """An ``OSError`` from creating the folder or file, as a :class:`StoreError`."""
    kind = _OS_KINDS.get(exc.errno or 0, StoreErrorKind.OTHER)
    log.info("Store error (%s) on %s: %s", kind.value, path, exc)
    return StoreError(kind, human_message(kind, path, str(exc)), path)


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None


class SidestreamDatabase(peewee.SqliteDatabase):
    """Peewee's SQLite database with our pragmas, and a registry of connections.

    Peewee gives every thread its own connection (the UI thread reads, the
    stream writer thread writes). The registry exists so that :meth:`close_all`
    can close every thread's connection at shutdown: the last close checkpoints
    the WAL, and a file can only be moved aside once nothing holds it open.
    """

    CASEFOLD_FUNCTION = "sidestream_casefold"

    def __init__(self, path: Path) -> None:
        self._registry_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        super().__init__(
            str(path),
            pragmas=list(PRAGMAS),
            timeout=BUSY_TIMEOUT_MS / 1000,
            # Connections stay per thread (peewee's thread-local state); this
            # only lets close_all() close them from the closing thread.
            check_same_thread=False,
        )
        # SQLite's lower()/LIKE fold ASCII only; chat titles are not ASCII-only.
        self.register_function(_casefold, self.CASEFOLD_FUNCTION, 1, deterministic=True)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._connect()  # type: ignore[misc]
        with self._registry_lock:
            self._connections.append(conn)
        return conn

    def _close(self, conn: sqlite3.Connection) -> None:
        with self._registry_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def rollback(self) -> None:
        # After SQLITE_FULL or an I/O error SQLite may already have rolled the
        # transaction back; peewee's ROLLBACK would then fail with "no
        # transaction is active" and hide the real error.
        conn = self._state.conn  # type: ignore[attr-defined]
        if conn is not None and not conn.in_transaction:
            return
        super().rollback()

    def execute_sql(self, sql: str, params: Sequence[object] | None = None) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = super().execute_sql(sql, params)  # type: ignore[no-untyped-call]
        return cursor

    def connection_count(self) -> int:
        with self._registry_lock:
            return len(self._connections)

    def close_all(self) -> None:
        """Close every thread's connection; the store is unusable afterwards."""
        with self._registry_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                log.debug("Closing a connection failed", exc_info=True)
        self._state.reset()  # type: ignore[attr-defined]


def connect(path: Path) -> SidestreamDatabase:
    """A database on ``path`` with a live connection for the calling thread."""
    db = SidestreamDatabase(path)
    with closed_on_failure(db, path):
        db.connect()
    return db


@contextlib.contextmanager
def closed_on_failure(db: SidestreamDatabase, path: Path) -> Iterator[None]:
    """Close every connection of ``db`` if the block fails; a known failure
    comes out as a :class:`StoreError`, anything else as it was."""
    try:
        yield
    except BaseException as exc:
        db.close_all()
        error = translate(exc, path)
        if error is None:
            raise
        raise error from exc


def pragma_values(db: SidestreamDatabase) -> dict[str, Any]:
    """The pragmas in effect on the calling thread's connection (diagnostics, tests)."""
    return {
        name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    }
