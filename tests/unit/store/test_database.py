"""Connections: pragmas on every thread's connection, closing, error classification."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest

from desktop.store import Store, StoreError, StoreErrorKind
from desktop.store.database import classify, pragma_values, translate


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


EXPECTED = {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 5000}


def run_in_thread(fn: Any) -> Any:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_pragmas_on_the_main_connection(store: Store) -> None:
    assert pragma_values(store._db) == EXPECTED


def test_pragmas_on_a_second_threads_connection(store: Store) -> None:
    main_conn = store._db.connection()

    def in_thread() -> tuple[dict[str, Any], bool]:
        return pragma_values(store._db), store._db.connection() is main_conn

    values, same = run_in_thread(in_thread)
    assert not same, "each thread must get its own connection"
    assert values == EXPECTED


def test_foreign_keys_enforced_from_a_writer_thread(store: Store) -> None:
    from desktop.core.states import Role

    session = store.create_session("chat")
    store.add_message(session.id, Role.USER, "hi")

    def in_thread() -> None:
        store.delete_session(session.id)  # cascade needs foreign_keys=ON here

    run_in_thread(in_thread)
    assert store.list_messages(session.id) == []
    count = store._db.execute_sql("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert count == 0


def test_close_closes_every_threads_connection(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    run_in_thread(lambda: store.count_sessions())
    assert store._db.connection_count() == 2
    store.close()
    assert store._db.connection_count() == 0
    # The last close checkpoints and removes the WAL.
    assert not (tmp_path / "data" / "sidestream.db-wal").exists()
    with pytest.raises(RuntimeError):
        store.count_sessions()
    store.close()  # idempotent


def test_close_thread_connection(store: Store) -> None:
    def in_thread() -> int:
        store.count_sessions()
        before = store._db.connection_count()
        store.close_thread_connection()
        return before - store._db.connection_count()

    assert run_in_thread(in_thread) == 1
    assert store.count_sessions() == 0  # the main connection is untouched


def sqlite_error(code: int, message: str) -> peewee.OperationalError:
    """A peewee-wrapped driver error carrying an SQLite result code, as peewee raises them."""
    orig = sqlite3.OperationalError(message)
    orig.sqlite_errorcode = code
    return peewee.OperationalError(orig, message)


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (8, "attempt to write a readonly database", StoreErrorKind.READ_ONLY),
        (8 | (6 << 8), "attempt to write a readonly database", StoreErrorKind.READ_ONLY),
        (13, "database or disk is full", StoreErrorKind.DISK_FULL),
        (11, "database disk image is malformed", StoreErrorKind.CORRUPT),
        (26, "file is not a database", StoreErrorKind.CORRUPT),
        (5, "database is locked", StoreErrorKind.LOCKED),
        (1, "no such table: x", StoreErrorKind.OTHER),
    ],
)
def test_classify_by_result_code(code: int, message: str, kind: StoreErrorKind) -> None:
    assert classify(sqlite_error(code, message), Path("/x/sidestream.db")) is kind


def test_classify_by_text_when_no_code() -> None:
    exc = peewee.OperationalError("database or disk is full")
    assert classify(exc, Path("/x/db")) is StoreErrorKind.DISK_FULL


def test_bugs_are_not_translated() -> None:
    path = Path("/x/db")
    assert translate(peewee.IntegrityError("UNIQUE constraint failed"), path) is None
    assert translate(peewee.ProgrammingError("bad sql"), path) is None
    assert translate(ValueError("nope"), path) is None


def test_os_errors() -> None:
    import errno

    path = Path("/x/data/sidestream.db")
    error = translate(OSError(errno.EROFS, "Read-only file system"), path)
    assert error is not None and error.kind is StoreErrorKind.READ_ONLY
    assert "read-only" in error.message and "/x/data" in error.message
    error = translate(OSError(errno.ENOSPC, "No space left"), path)
    assert error is not None and error.kind is StoreErrorKind.DISK_FULL


def test_messages_name_the_file() -> None:
    path = Path("/x/data/sidestream.db")
    for kind in StoreErrorKind:
        error = translate(StoreError(kind, "m"), path)
        assert error is not None and error.kind is kind
    corrupt = translate(sqlite_error(11, "database disk image is malformed"), path)
    assert corrupt is not None
    assert corrupt.message == f"The database file {path} is damaged."
    assert corrupt.path == path


def test_an_io_error_with_the_wal_gone_is_said_as_such(tmp_path: Path) -> None:
    """SQLITE_IOERR_SHORT_READ was "disk I/O error"; beside an index without its log, say why."""
    path = tmp_path / "sidestream.db"
    path.write_bytes(b"")
    short_read = sqlite_error(522, "disk I/O error")
    assert classify(short_read, path) is StoreErrorKind.OTHER, "no -shm: a plain I/O error"
    (tmp_path / "sidestream.db-shm").write_bytes(b"\0" * 32768)
    error = translate(short_read, path)
    assert error is not None and error.kind is StoreErrorKind.WAL_LOST
    assert f"write-ahead log {path}-wal was removed while Sidestream was running" in error.message
    (tmp_path / "sidestream.db-wal").write_bytes(b"")  # what a failed open leaves in its place
    assert classify(short_read, path) is StoreErrorKind.WAL_LOST
    (tmp_path / "sidestream.db-wal").write_bytes(b"\0" * 4096)
    assert classify(short_read, path) is StoreErrorKind.OTHER, "a log is there"
