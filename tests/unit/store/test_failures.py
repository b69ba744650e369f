"""Known failures become StoreError values; a damaged file is kept aside, not lost."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee
import pytest

from desktop.core.states import MessageStatus, Role
from desktop.store import Store, StoreError, StoreErrorKind, StreamFlush

NOBODY = 65534


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def backups(data: Path) -> list[Path]:
    return sorted(p for p in data.iterdir() if ".corrupt-" in p.name)


# -- corruption ---------------------------------------------------------------


def test_not_a_database_is_moved_aside_and_a_fresh_store_opens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    garbage = b"this is not an SQLite file\n" * 200
    (data / "sidestream.db").write_bytes(garbage)
    with Store.open(data) as store:
        backup = store.recovered_from_corruption
        assert backup is not None
        assert backup.parent == data and backup.name.startswith("sidestream.db.corrupt-")
        assert backup.read_bytes() == garbage, "the damaged file is kept as it was"
        assert backups(data) == [backup]
        assert store.integrity_check() == "ok"
        assert store.count_sessions() == 0
        store.create_session("a new beginning")
    with Store.open(data) as again:
        assert again.recovered_from_corruption is None
        assert again.count_sessions() == 1


def test_damaged_pages_are_detected_on_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        s = store.create_session("chat")
        for i in range(200):
            store.add_message(s.id, Role.USER, f"message {i} " + "y" * 300)
    path = data / "sidestream.db"
    page_size = 4096
    raw = bytearray(path.read_bytes())
    assert len(raw) > 10 * page_size
    # Keep page 1 (header and schema) so SQLite still opens the file; the
    # table pages are garbage, which only a check notices before a read does.
    raw[page_size:] = b"\xa5" * (len(raw) - page_size)
    path.write_bytes(bytes(raw))
    with Store.open(data) as store:
        assert store.recovered_from_corruption is not None
        assert store.recovered_from_corruption.read_bytes() == bytes(raw)
        assert store.count_sessions() == 0
        assert store.integrity_check() == "ok"


def _damage_message_pages(path: Path, marker: bytes, page_size: int = 4096) -> bytearray:
    """Overwrite every page holding ``marker`` (message text) and nothing else."""
    raw = bytearray(path.read_bytes())
    hit = 0
    for start in range(page_size, len(raw), page_size):
        if marker in raw[start : start + page_size]:
            raw[start : start + page_size] = b"\xa5" * page_size
            hit += 1
    assert hit > 5
    path.write_bytes(bytes(raw))
    return raw


def test_damage_a_start_does_not_read_is_found_after_it_and_handled_at_the_next(
    tmp_path: Path,
) -> None:
    """After a clean close only the tables a start reads are checked at open (the
    whole file costs 0.2 s at 10,000 chats); Store.verify checks the rest after
    the window shows, and the damage it finds is set aside at the next start."""
    data = tmp_path / "data"
    with Store.open(data) as store:
        s = store.create_session("kept title")
        for i in range(200):
            store.add_message(s.id, Role.USER, f"message {i} " + "q" * 300)
    path = data / "sidestream.db"
    raw = _damage_message_pages(path, b"q" * 100)
    with Store.open(data) as store:
        assert store.recovered_from_corruption is None  # opened fast, as it was
        assert [c.title for c in store.list_sessions()] == ["kept title"]
        problems = store.verify()
        assert problems and (data / "sidestream.db.check-failed").exists()
    with Store.open(data) as store:
        assert store.recovered_from_corruption is not None
        assert store.recovered_from_corruption.read_bytes() == bytes(raw)
        assert not (data / "sidestream.db.check-failed").exists()
        assert store.count_sessions() == 0 and store.verify() == []


def test_after_a_crash_the_whole_file_is_checked_at_open(tmp_path: Path) -> None:
    """A -wal left beside the file means the last run did not close: check it all."""
    data = tmp_path / "data"
    with Store.open(data) as store:
        s = store.create_session("chat")
        for i in range(200):
            store.add_message(s.id, Role.USER, f"message {i} " + "q" * 300)
    path = data / "sidestream.db"
    _damage_message_pages(path, b"q" * 100)
    (data / "sidestream.db-wal").write_bytes(b"\0" * 64)  # what a kill -9 leaves, roughly
    with Store.open(data) as store:
        assert store.recovered_from_corruption is not None


def test_stale_wal_and_shm_never_pair_with_the_fresh_database(tmp_path: Path) -> None:
    """A leftover -wal next to the fresh file would be replayed into it: move it along."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sidestream.db").write_bytes(b"garbage" * 1000)
    (data / "sidestream.db-wal").write_bytes(b"wal bytes" * 100)
    (data / "sidestream.db-shm").write_bytes(b"shm bytes" * 100)
    with Store.open(data) as store:
        backup = store.recovered_from_corruption
        assert backup is not None
        for suffix in ("-wal", "-shm"):
            current = data / f"sidestream.db{suffix}"
            assert not (current.exists() and b"bytes" in current.read_bytes()), suffix
            # SQLite may have dropped a sidecar it found unusable while we
            # probed; whatever survived sits next to the backup, unchanged.
            moved = Path(f"{backup}{suffix}")
            if moved.exists():
                assert moved.read_bytes().startswith(b"wal bytes" if suffix == "-wal" else b"shm")
        store.create_session("fresh")
        assert store.integrity_check() == "ok"
    with Store.open(data) as again:
        assert again.count_sessions() == 1


def test_two_recoveries_keep_both_backups(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for n in range(2):
        (data / "sidestream.db").write_bytes(b"bad %d" % n * 500)
        Store.open(data).close()
    found = backups(data)
    assert len(found) == 2
    assert {p.read_bytes()[:5] for p in found} == {b"bad 0", b"bad 1"}


# -- read-only ----------------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="sidestream-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(path)


def open_without_write_access(data: Path, *, new_chat: bool = False) -> str:
    """Open the store as a user who may not write ``data``; the outcome as text.

    Root ignores file modes, so when the tests run as root the open happens in
    a forked child that has switched to the "nobody" user: the kernel then
    really refuses the writes, and the store's real error path runs. With
    ``new_chat`` the child also starts a chat, as the app does next.
    """
    if not hasattr(os, "fork"):
        pytest.skip("needs fork()")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            try:
                with Store.open(data) as store:
                    if new_chat:
                        store.create_session("a new chat")
                outcome = "opened"
            except StoreError as exc:
                outcome = f"{exc.kind.value}|{exc.message}"
            except BaseException as exc:
                outcome = f"crash|{exc!r}"
            os.write(write_end, outcome.encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, outcome
    return outcome


def make_read_only(*paths: Path) -> None:
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)


def give_to_opener(*paths: Path) -> None:
    """Make ``paths`` the opening user's own (under root that user is "nobody")."""
    if os.geteuid() == 0:
        for path in paths:
            os.chown(path, NOBODY, NOBODY)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_folder_without_a_database(shared_dir: Path) -> None:
    data = shared_dir / "data"
    data.mkdir()
    give_to_opener(data)
    make_read_only(data)
    outcome = open_without_write_access(data)
    kind, _, message = outcome.partition("|")
    assert kind == StoreErrorKind.READ_ONLY.value, outcome
    assert "read-only" in message and str(data) in message
    assert "belongs to" not in message, "the user's own folder: no owner to blame"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_folder_with_an_existing_database(shared_dir: Path) -> None:
    data = shared_dir / "data"
    with Store.open(data) as store:
        store.create_session("can be read, not written")
    give_to_opener(data / "sidestream.db", data)
    make_read_only(data / "sidestream.db", data)
    outcome = open_without_write_access(data)
    kind, _, message = outcome.partition("|")
    assert kind == StoreErrorKind.READ_ONLY.value, outcome
    assert "read-only" in message and "belongs to" not in message, message
    # Nothing was "recovered": a read-only file is not a damaged one.
    assert backups(data) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_database_in_a_writable_folder_says_the_file_is_read_only(
    shared_dir: Path,
) -> None:
    data = shared_dir / "data"
    with Store.open(data) as store:
        store.create_session("can be read, not written")
    give_to_opener(data / "sidestream.db", data)
    make_read_only(data / "sidestream.db")
    outcome = open_without_write_access(data, new_chat=True)
    kind, _, message = outcome.partition("|")
    assert kind == StoreErrorKind.READ_ONLY.value, outcome
    assert f"{data / 'sidestream.db'} is read-only" in message, message
    assert "data folder" not in message, "the folder is writable: do not blame it"


# -- another user's files ---------------------------------------------------------

needs_root = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0,
    reason="making files of another user needs root (chown)",
)


@needs_root
def test_a_database_of_another_user_names_its_owner(shared_dir: Path) -> None:
    """Root's 0644 database in nobody's own folder: SQLite would open it read-only.

    Before, the store opened, and the first new chat said "the data folder is
    read-only": the wrong cause, and the wrong fix. Now the open says whose
    file it is.
    """
    data = shared_dir / "data"
    with Store.open(data) as store:
        store.create_session("root's chat")
    (data / "sidestream.db").chmod(0o644)
    give_to_opener(data)  # the folder is nobody's, 0700; the file stays root's
    outcome = open_without_write_access(data, new_chat=True)
    kind, _, message = outcome.partition("|")
    assert kind == StoreErrorKind.READ_ONLY.value, outcome
    assert "belongs to user root, not to you (nobody)" in message, message
    assert "is read-only" not in message, message
    assert f"sudo chown -R nobody {data}" in message, message
    with Store.open(data) as store:  # nothing changed for its owner
        assert [s.title for s in store.list_sessions()] == ["root's chat"]


@needs_root
def test_a_data_folder_of_another_user_names_its_owner(shared_dir: Path) -> None:
    data = shared_dir / "data"
    with Store.open(data) as store:
        store.create_session("root's chat")
    data.chmod(0o755)
    give_to_opener(data / "sidestream.db")  # nobody's file in root's folder
    outcome = open_without_write_access(data, new_chat=True)
    kind, _, message = outcome.partition("|")
    assert kind == StoreErrorKind.READ_ONLY.value, outcome
    assert f"the data folder {data} belongs to user root, not to you (nobody)" in message
    assert "is read-only" not in message, message


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_data_folder_cannot_be_created(shared_dir: Path) -> None:
    parent = shared_dir / "parent"
    parent.mkdir()
    make_read_only(parent)
    outcome = open_without_write_access(parent / "data")
    assert outcome.partition("|")[0] == StoreErrorKind.READ_ONLY.value, outcome


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("I am a file")
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path / "data")
    assert info.value.kind is StoreErrorKind.OTHER
    assert str(tmp_path / "data") in info.value.message


# -- full disk ----------------------------------------------------------------


def fill_disk(store: Store) -> None:
    """Let the database grow by at most one page on this thread's connection."""
    pages = store._db.execute_sql("PRAGMA page_count").fetchone()[0]
    store._db.execute_sql(f"PRAGMA max_page_count = {pages + 1}")


def free_disk(store: Store) -> None:
    store._db.execute_sql("PRAGMA max_page_count = 1073741823")


def streaming_pair(store: Store) -> tuple[int, int]:
    s = store.create_session("chat")
    a = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    b = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming(
        [StreamFlush(a.id, "saved A ", cursor="1"), StreamFlush(b.id, "saved B ")]
    )
    return a.id, b.id


def test_full_disk_during_flush_is_disk_full_and_loses_nothing(store: Store) -> None:
    a, b = streaming_pair(store)
    fill_disk(store)
    big = "z" * 200_000
    with pytest.raises(StoreError) as info:
        store.flush_streaming([StreamFlush(a, "more A", cursor="2"), StreamFlush(b, big)])
    assert info.value.kind is StoreErrorKind.DISK_FULL
    assert "disk is full" in info.value.message and str(store.path) in info.value.message
    # The batch is all or nothing, and what was saved before is intact.
    got_a, got_b = store.get_message(a), store.get_message(b)
    assert got_a is not None and got_b is not None
    assert (got_a.content, got_a.cursor, got_b.content) == ("saved A ", "1", "saved B ")
    assert store.integrity_check() == "ok"
    # Once there is room again the same batch goes through.
    free_disk(store)
    store.flush_streaming([StreamFlush(a, "more A", cursor="2"), StreamFlush(b, big)])
    got_b = store.get_message(b)
    assert got_b is not None and got_b.content == "saved B " + big


def test_full_disk_during_finish_keeps_the_chunks(store: Store) -> None:
    a, _ = streaming_pair(store)
    fill_disk(store)
    with pytest.raises(StoreError) as info:
        store.finish_message(a, "saved A " + "w" * 200_000, MessageStatus.COMPLETE)
    assert info.value.kind is StoreErrorKind.DISK_FULL
    got = store.get_message(a)
    assert got is not None
    assert (got.content, got.status) == ("saved A ", MessageStatus.STREAMING)


# -- lock held by someone else --------------------------------------------------


def test_write_lock_held_elsewhere_is_locked(store: Store) -> None:
    a, _ = streaming_pair(store)
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        # Shorter than the real 5 s so the test stays fast; same error path.
        store._db.execute_sql("PRAGMA busy_timeout = 50")
        with pytest.raises(StoreError) as info:
            store.flush_streaming([StreamFlush(a, "blocked")])
        assert info.value.kind is StoreErrorKind.LOCKED
        # Reads still work under WAL while another connection writes.
        got = store.get_message(a)
        assert got is not None and got.content == "saved A "
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.flush_streaming([StreamFlush(a, "unblocked")])


def test_public_methods_translate_known_errors_and_pass_bugs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails_with(exc: Exception) -> Callable[..., object]:
        def execute_sql(*args: object, **kwargs: object) -> object:
            raise exc

        return execute_sql

    driver_error = sqlite3.OperationalError("database disk image is malformed")
    driver_error.sqlite_errorcode = 11  # type: ignore[attr-defined]
    monkeypatch.setattr(store._db, "execute_sql", fails_with(peewee.DatabaseError(driver_error)))
    with pytest.raises(StoreError) as info:
        store.integrity_check()
    assert info.value.kind is StoreErrorKind.CORRUPT
    # A mistake in our SQL is a bug: it keeps its type and traceback.
    monkeypatch.setattr(store._db, "execute_sql", fails_with(peewee.ProgrammingError("syntax")))
    with pytest.raises(peewee.ProgrammingError):
        store.integrity_check()
    monkeypatch.undo()
    with pytest.raises(LookupError):
        store.add_message(12345, Role.USER, "no such chat")


# -- a -wal deleted under a running Sidestream -----------------------------------

HOLDER = (
    "import sys; from pathlib import Path; from desktop.store import Store;"
    "from desktop.store.lock import DataDirLock;"
    "data = Path(sys.argv[1]); lock = DataDirLock(data); lock.acquire();"
    "store = Store.open(data); [store.create_session(f'chat {i}') for i in range(5)];"
    "print('ready', flush=True); sys.stdin.read(); store.close()"
)


def test_opening_beside_a_running_sidestream_whose_wal_was_deleted_is_refused(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        (data / "sidestream.db-wal").unlink()
        before = sorted(p.name for p in data.iterdir())
        with pytest.raises(StoreError) as info:
            Store.open(data)
        assert info.value.kind is StoreErrorKind.WAL_LOST
        assert "was removed while Sidestream was running" in info.value.message
        assert sorted(p.name for p in data.iterdir()) == before, "no new -wal, nothing moved"
        assert backups(data) == [], "a lost log is not a damaged file"
    finally:
        holder.stdin.close()
        assert holder.wait(30) == 0
    with Store.open(data) as store:  # the holder wrote its log into the file as it closed
        assert store.integrity_check() == "ok"
        assert store.count_sessions() == 5


def test_a_crash_left_index_without_its_wal_still_opens(tmp_path: Path) -> None:
    """Nobody runs: SQLite rebuilds the index, so there is nothing to refuse."""
    source = tmp_path / "source"
    data = tmp_path / "data"
    with Store.open(source) as store:
        store.create_session("in the file")
        store._db.execute_sql("PRAGMA wal_checkpoint(FULL)")
        store.create_session("only in the log, which is then lost")
        data.mkdir()
        for name in ("sidestream.db", "sidestream.db-shm"):
            shutil.copyfile(source / name, data / name)
    with Store.open(data) as store:
        assert store.integrity_check() == "ok"
        assert [s.title for s in store.list_sessions()] == ["in the file"]
