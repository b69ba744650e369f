"""Schema versions: a release-one database migrates forward and keeps its data."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from desktop.core.models import ProviderKind
from desktop.core.states import MessageStatus, Role
from desktop.store import CURRENT_VERSION, Store, StoreError, StoreErrorKind, StreamFlush
from desktop.store.database import connect
from desktop.store.migrations import STEPS, migrate, schema_version
from desktop.store.models import build_models

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "store" / "v1.sql"


def schema(path: Path) -> list[tuple[str, str, str]]:
    """Tables and indexes with their SQL, whitespace-normalised."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        conn.close()
    return [(kind, name, normalise(sql)) for kind, name, sql in rows]


def normalise(sql: str | None) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\(\s+", "(", sql or "")).strip()


def v1_database(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    path = data_dir / "sidestream.db"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    finally:
        conn.close()
    return path


def local(text: str) -> datetime:
    stored = datetime.fromisoformat(text)
    return stored.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


def test_current_version_is_7_with_ordered_steps() -> None:
    assert CURRENT_VERSION == 7
    versions = [v for v, _ in STEPS]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))


def test_fixture_is_exactly_what_the_v1_step_builds(tmp_path: Path) -> None:
    fixture = v1_database(tmp_path / "fixture")
    built = tmp_path / "built" / "sidestream.db"
    built.parent.mkdir()
    db = connect(built)
    try:
        assert migrate(db, built, target=1) == 1
    finally:
        db.close_all()
    assert schema(fixture) == schema(built)
    assert "message_chunks" not in {name for _, name, _ in schema(built)}


def test_v1_fixture_migrates_and_keeps_its_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v1_database(data)
    with Store.open(data) as store:
        assert store.recovered_from_corruption is None
        assert store.schema_version() == 7
        assert store.integrity_check() == "ok"

        assert [
            (p.id, p.name, p.kind, p.base_url, p.default_model) for p in store.list_providers()
        ] == [
            (1, "OpenAI", ProviderKind.OPENAI_RESPONSES, "https://api.openai.com/v1", "gpt-4.1"),
            (2, "Local llama", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:8080/v1", "llama-3"),
        ]
        sessions = store.list_sessions()
        assert [(s.id, s.title, s.provider_id, s.model, s.muted, s.unread) for s in sessions] == [
            (2, "Muted llama chat", 2, "llama-3", True, False),
            (1, "Trip to Köln", 1, "gpt-4.1", False, False),
            (3, "Orphaned", None, "claude", False, False),
        ]
        assert sessions[1].created_at == local("2025-01-02 10:00:00")
        assert sessions[1].updated_at == local("2025-01-02 10:05:00")

        trip = store.list_messages(1)
        assert [(m.role, m.content, m.status) for m in trip] == [
            (Role.USER, "Plan a day in Köln 🚆", MessageStatus.COMPLETE),
            (Role.ASSISTANT, "Start at the Dom, then…", MessageStatus.COMPLETE),
        ]
        assert (trip[1].cursor, trip[1].input_tokens, trip[1].output_tokens, trip[1].model) == (
            "resp_1:42",
            12,
            345,
            "gpt-4.1",
        )
        [live] = store.messages_with_status([MessageStatus.STREAMING])
        assert (live.id, live.content, live.model) == (4, "Hi! Half an answ", "llama-3")
        failed, cut = store.list_messages(3)
        assert failed.error == "The provider rejected the API key (HTTP 401)"
        assert (cut.reason, cut.status) == ("evicted", MessageStatus.INTERRUPTED)

        # The v2 features work on the migrated file.
        store.flush_streaming([StreamFlush(4, "er, now complete")])
        got = store.get_message(4)
        assert got is not None and got.content == "Hi! Half an answer, now complete"
        store.set_unread(1, True)
        assert store.unread_session_ids() == {1}
        store.set_setting("k", 1)
        assert store.get_setting("k") == 1
        # Foreign keys of the old tables still cascade.
        store.delete_session(1)
        assert store.list_messages(1) == []


def test_a_database_built_by_the_v1_step_migrates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / "sidestream.db"
    db = connect(path)
    try:
        migrate(db, path, target=1)
        now = "2025-05-05 05:05:05.000000"
        db.execute_sql(
            "INSERT INTO sessions (title, model, muted, created_at, updated_at)"
            " VALUES ('v1 chat', 'm', 0, ?, ?)",
            (now, now),
        )
        db.execute_sql(
            "INSERT INTO messages (session_id, role, content, status, created_at, updated_at)"
            " VALUES (1, 'user', 'from release one', 'complete', ?, ?)",
            (now, now),
        )
    finally:
        db.close_all()
    with Store.open(data) as store:
        assert store.schema_version() == CURRENT_VERSION
        [session] = store.list_sessions()
        assert session.title == "v1 chat" and session.unread is False
        [message] = store.list_messages(session.id)
        assert message.content == "from release one"


def table_columns(path: Path) -> dict[str, dict[str, tuple[bool, bool]]]:
    """table -> column -> (nullable, primary key), from SQLite itself."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: {r[1]: (not r[3], bool(r[5])) for r in conn.execute(f"PRAGMA table_info({t})")}
            for t in tables
            if not t.startswith("sqlite_")
        }
    finally:
        conn.close()


def test_migrated_schema_equals_fresh_schema_and_models(tmp_path: Path) -> None:
    migrated = tmp_path / "old"
    v1_database(migrated)
    Store.open(migrated).close()
    fresh = tmp_path / "new"
    Store.open(fresh).close()
    columns = table_columns(migrated / "sidestream.db")
    assert columns == table_columns(fresh / "sidestream.db")

    # The peewee models describe the same tables, columns and nullability.
    db = connect(fresh / "sidestream.db")
    try:
        models = build_models(db).all
    finally:
        db.close_all()
    described = {
        model._meta.table_name: {
            f.column_name: (bool(f.null), bool(f.primary_key)) for f in model._meta.sorted_fields
        }
        for model in models
    }
    described["schema_version"] = columns["schema_version"]  # the runner's own table
    # A primary key is never null, whether or not the DDL says NOT NULL.
    columns = {
        t: {c: (n and not pk, pk) for c, (n, pk) in cols.items()} for t, cols in columns.items()
    }
    # The full-text indexes (version 6) and FTS5's shadow tables are no models.
    described.update({t: cols for t, cols in columns.items() if "_fts" in t})
    assert described == columns


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    Store.open(tmp_path / "data").close()
    with Store.open(tmp_path / "data") as store:
        rows = store._db.execute_sql("SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in rows.fetchall()] == [1, 2, 3, 4, 5, 6, 7]


def test_newer_database_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        store.create_session("from the future")
        store._db.execute_sql(
            "INSERT INTO schema_version (version, applied_at) VALUES (99, '2030-01-01 00:00:00')"
        )
    before = (data / "sidestream.db").read_bytes()
    with pytest.raises(StoreError) as info:
        Store.open(data)
    assert info.value.kind is StoreErrorKind.TOO_NEW
    assert str(data / "sidestream.db") in info.value.message
    assert "newer version of Sidestream" in info.value.message and "99" in info.value.message
    # Refused, not "recovered": the file is left exactly as it was.
    assert (data / "sidestream.db").read_bytes() == before
    assert [p.name for p in data.iterdir() if "corrupt" in p.name] == []


def test_a_foreign_sqlite_file_is_not_taken_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "sidestream.db")
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as info:
        Store.open(data)
    assert info.value.kind is StoreErrorKind.OTHER
    assert "not a Sidestream database" in info.value.message


def test_schema_version_of_an_empty_file_is_0(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    db = connect(path)
    try:
        assert schema_version(db) == 0
    finally:
        db.close_all()


def test_v2_chats_with_streaming_chunks_survive_the_v3_rebuild(tmp_path: Path) -> None:
    """v3 rebuilds sessions and messages (AUTOINCREMENT): every row, the chunks of
    a reply left streaming, and the cascades survive it."""
    data = tmp_path / "data"
    data.mkdir()
    path = data / "sidestream.db"
    db = connect(path)
    try:
        migrate(db, path, target=2)
        now = "2025-05-05 05:05:05.000000"
        for title in ("kept", "deleted"):
            db.execute_sql(
                "INSERT INTO sessions (title, model, muted, created_at, updated_at, unread)"
                " VALUES (?, 'm', 1, ?, ?, 1)",
                (title, now, now),
            )
        for session_id, content in ((1, "hello"), (1, "Half"), (2, "gone")):
            db.execute_sql(
                "INSERT INTO messages (session_id, role, content, status, cursor, created_at,"
                " updated_at) VALUES (?, 'assistant', ?, 'streaming', 'c', ?, ?)",
                (session_id, content, now, now),
            )
        db.execute_sql("INSERT INTO message_chunks (message_id, text) VALUES (2, ' an ans')")
        db.execute_sql("INSERT INTO message_chunks (message_id, text) VALUES (2, 'wer')")
        assert migrate(db, path) == CURRENT_VERSION
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close_all()
    with Store.open(data) as store:
        assert store.integrity_check() == "ok"
        [kept, deleted] = sorted(store.list_sessions(), key=lambda s: s.id)
        assert (kept.title, kept.muted, kept.unread) == ("kept", True, True)
        assert [m.content for m in store.list_messages(1)] == ["hello", "Half an answer"]
        assert [m.content for m in store.list_messages(2)] == ["gone"]
        new = store.add_message(1, Role.USER, "after the migration")
        assert new.id == 4
        store.delete_message(new.id)
        assert store.add_message(1, Role.USER, "again").id == 5
        store.delete_session(deleted.id)
        assert store.create_session("new").id == 3
        assert store.list_messages(2) == []  # the cascade of the rebuilt tables
        store.delete_session(1)
        assert store.list_messages(1) == []
        assert store._db.execute_sql("SELECT COUNT(*) FROM message_chunks").fetchone()[0] == 0


def test_ids_of_deleted_messages_and_chats_are_never_handed_out_again(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as store:
        session = store.create_session("s")
        first = store.add_message(session.id, Role.ASSISTANT, "old reply")
        store.delete_message(first.id)  # Retry of the newest reply deleted it
        assert store.add_message(session.id, Role.ASSISTANT, "new reply").id != first.id
        store.delete_session(session.id)
        assert store.create_session("t").id != session.id
