"""Schema versions and the forward migration runner.

Every schema change is a new step at the end of :data:`STEPS`; a released step
is never edited, because databases in the wild were built by it.  Steps are
plain SQL frozen at the time they were written (not generated from today's
peewee models), so replaying them always gives the schema that release had.

Version 1 (release one): providers, sessions, messages.
Version 2: ``message_chunks`` (append-only text of a streaming reply),
``sessions.unread`` and ``settings``.
Version 3: ``sessions.id`` and ``messages.id`` are ``AUTOINCREMENT``: an id is
never handed out again after its row was deleted (a Retry of the newest
reply got its deleted predecessor's id, and a view took one for the other).
Version 4: a reply's reasoning apart from its text (``messages.reasoning``,
its signed blocks as JSON in ``messages.reasoning_blocks``, and how long it
reasoned in ``messages.reasoning_seconds``), why the model ended it
(``messages.finish``), and ``message_chunks.kind`` (0: text, 1: reasoning)
so that a streaming reply's reasoning is appended like its text.
Version 5: the message tree (``messages.parent_id``; ``sessions.active_leaf_id``,
the end of the path a chat shows), a chat's system prompt and parameters
(``sessions.system_prompt``, ``sessions.params`` as JSON, ``sessions.preset_id``),
and ``presets``.
Version 6: full-text search. ``messages_fts`` indexes ``messages.content`` and
``sessions_fts`` ``sessions.title`` (FTS5, external content, kept by triggers;
words any case, with or without diacritics, prefixes of 1 to 4 letters
indexed for typing); the step builds both indexes for the rows already there.
Version 7: files attached to messages (``attachments``: one row per file of a
message, in order; the bytes are stored once per SHA-256 under ``attachments/`` in
the data folder) and order in a long history (``sessions.pinned``,
``sessions.archived``, ``sessions.folder``, and an index in the chat list's
order).

Each step runs in its own ``BEGIN IMMEDIATE`` transaction together with the
row recording its version, so a crash mid-migration leaves the previous
version intact and two processes cannot both run the same step.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from desktop.store.database import SidestreamDatabase, StoreError, StoreErrorKind, human_message

log = logging.getLogger("sidestream.store")

VERSION_TABLE = "schema_version"

_V1 = (
    """
    CREATE TABLE providers (
        id INTEGER NOT NULL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        base_url TEXT NOT NULL,
        default_model TEXT NOT NULL DEFAULT '',
        created_at DATETIME NOT NULL
    )
    """,
    """
    CREATE TABLE sessions (
        id INTEGER NOT NULL PRIMARY KEY,
        title TEXT NOT NULL,
        provider_id INTEGER REFERENCES providers (id) ON DELETE SET NULL,
        model TEXT NOT NULL DEFAULT '',
        muted INTEGER NOT NULL DEFAULT 0,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL
    )
    """,
    "CREATE INDEX sessions_updated_at ON sessions (updated_at)",
    # Without it, deleting a provider scans every session for ON DELETE SET NULL.
    "CREATE INDEX sessions_provider_id ON sessions (provider_id)",
    """
    CREATE TABLE messages (
        id INTEGER NOT NULL PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        error TEXT,
        reason TEXT,
        cursor TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        model TEXT,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL
    )
    """,
    "CREATE INDEX messages_session_id_id ON messages (session_id, id)",
    "CREATE INDEX messages_status ON messages (status)",
)

_V2 = (
    "ALTER TABLE sessions ADD COLUMN unread INTEGER NOT NULL DEFAULT 0",
    # AUTOINCREMENT: chunk ids only ever grow, so "ORDER BY id" is the order
    # the text arrived in even after rows were deleted.
    """
    CREATE TABLE message_chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        text TEXT NOT NULL
    )
    """,
    "CREATE INDEX message_chunks_message_id_id ON message_chunks (message_id, id)",
    """
    CREATE TABLE settings (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)


# SQLite cannot add AUTOINCREMENT to a table: each is rebuilt (its "12 steps"),
# with foreign keys off (dropping the old table would cascade to its
# children) and checked before the step commits.
_V3 = (
    """
    CREATE TABLE sessions_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        provider_id INTEGER REFERENCES providers (id) ON DELETE SET NULL,
        model TEXT NOT NULL DEFAULT '',
        muted INTEGER NOT NULL DEFAULT 0,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL,
        unread INTEGER NOT NULL DEFAULT 0
    )
    """,
    "INSERT INTO sessions_v3 (id, title, provider_id, model, muted, created_at, updated_at,"
    " unread) SELECT id, title, provider_id, model, muted, created_at, updated_at, unread"
    " FROM sessions",
    "DROP TABLE sessions",
    "ALTER TABLE sessions_v3 RENAME TO sessions",
    "CREATE INDEX sessions_updated_at ON sessions (updated_at)",
    "CREATE INDEX sessions_provider_id ON sessions (provider_id)",
    """
    CREATE TABLE messages_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        error TEXT,
        reason TEXT,
        cursor TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        model TEXT,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL
    )
    """,
    "INSERT INTO messages_v3 SELECT id, session_id, role, content, status, error, reason,"
    " cursor, input_tokens, output_tokens, model, created_at, updated_at FROM messages",
    "DROP TABLE messages",
    "ALTER TABLE messages_v3 RENAME TO messages",
    "CREATE INDEX messages_session_id_id ON messages (session_id, id)",
    "CREATE INDEX messages_status ON messages (status)",
)


_V4 = (
    "ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN reasoning_blocks TEXT",
    "ALTER TABLE messages ADD COLUMN finish TEXT",
    "ALTER TABLE messages ADD COLUMN reasoning_seconds REAL",
    "ALTER TABLE message_chunks ADD COLUMN kind INTEGER NOT NULL DEFAULT 0",
)


# A chat is a tree: each message has a parent (NULL for the first one), and
# the chat shows the path from its first message to its active leaf. Every
# existing chat becomes one path, unchanged: each message's parent is the one
# before it. A chat also gets a system prompt and parameters of its own, or
# takes them from a preset.
_V5 = (
    "ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages (id) ON DELETE CASCADE",
    "CREATE INDEX messages_parent_id ON messages (parent_id)",
    """
    UPDATE messages SET parent_id = (
        SELECT MAX(p.id) FROM messages p
        WHERE p.session_id = messages.session_id AND p.id < messages.id
    )
    """,
    "ALTER TABLE sessions ADD COLUMN active_leaf_id INTEGER",
    """
    UPDATE sessions SET active_leaf_id = (
        SELECT MAX(m.id) FROM messages m WHERE m.session_id = sessions.id
    )
    """,
    "ALTER TABLE sessions ADD COLUMN system_prompt TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE sessions ADD COLUMN params TEXT",
    """
    CREATE TABLE presets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        system_prompt TEXT NOT NULL DEFAULT '',
        provider_id INTEGER REFERENCES providers (id) ON DELETE SET NULL,
        model TEXT NOT NULL DEFAULT '',
        params TEXT,
        created_at DATETIME NOT NULL
    )
    """,
    "ALTER TABLE sessions ADD COLUMN preset_id INTEGER REFERENCES presets (id) ON DELETE SET NULL",
)


# Full-text search (issue 17). External-content FTS5 tables hold only the
# index: the text stays in messages.content and sessions.title, and triggers
# keep the index in step with every write, the importer's raw inserts and
# cascade deletes included. A streaming reply's text lives in message_chunks
# (content is empty until finish_message writes it whole), so a reply is
# indexed when it finishes, fails, stops or is interrupted, not token by token.
# unicode61 with remove_diacritics 2 matches "cafe" and "café" alike; queries
# are words by prefix ("stre" finds "streaming"). prefix='1 2 3 4' indexes the
# short prefixes a person types first: without it FTS5 merges the lists of
# every word that starts so (0.2 s for "stre" on 200,000 messages; 20 ms
# with it, for a bigger index). trigram would find any substring, but it knows no
# diacritics folding in SQLite 3.40, needs 3 characters before it uses the
# index and makes a much larger index.
_FTS_OPTIONS = "tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4'"
_V6 = (
    f"""
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content = 'messages', content_rowid = 'id', {_FTS_OPTIONS}
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    END
    """,
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
    END
    """,
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
    f"""
    CREATE VIRTUAL TABLE sessions_fts USING fts5(
        title, content = 'sessions', content_rowid = 'id', {_FTS_OPTIONS}
    )
    """,
    """
    CREATE TRIGGER sessions_fts_insert AFTER INSERT ON sessions BEGIN
        INSERT INTO sessions_fts (rowid, title) VALUES (new.id, new.title);
    END
    """,
    """
    CREATE TRIGGER sessions_fts_delete AFTER DELETE ON sessions BEGIN
        INSERT INTO sessions_fts (sessions_fts, rowid, title) VALUES ('delete', old.id, old.title);
    END
    """,
    """
    CREATE TRIGGER sessions_fts_update AFTER UPDATE OF title ON sessions BEGIN
        INSERT INTO sessions_fts (sessions_fts, rowid, title) VALUES ('delete', old.id, old.title);
        INSERT INTO sessions_fts (rowid, title) VALUES (new.id, new.title);
    END
    """,
    "INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild')",
)


_V7 = (
    """
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        mime TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        text TEXT
    )
    """,
    "CREATE INDEX attachments_message ON attachments (message_id, position)",
    # Deleting a chat asks which of its files no other message uses.
    "CREATE INDEX attachments_sha256 ON attachments (sha256)",
    "ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN archived INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN folder TEXT NOT NULL DEFAULT ''",
    # The chat list: not archived, pinned first, newest activity first.
    """
    CREATE INDEX sessions_listing
    ON sessions (archived, pinned DESC, updated_at DESC, id DESC)
    """,
)


def _rebuild(statements: tuple[str, ...]) -> Callable[[SidestreamDatabase], None]:
    def step(db: SidestreamDatabase) -> None:
        for sql in statements:
            db.execute_sql(sql)
        broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")

    step.foreign_keys_off = True  # type: ignore[attr-defined]
    return step


def _run(statements: tuple[str, ...]) -> Callable[[SidestreamDatabase], None]:
    def step(db: SidestreamDatabase) -> None:
        for sql in statements:
            db.execute_sql(sql)

    return step


Step = tuple[int, Callable[[SidestreamDatabase], None]]

STEPS: tuple[Step, ...] = (
    (1, _run(_V1)),
    (2, _run(_V2)),
    (3, _rebuild(_V3)),
    (4, _run(_V4)),
    (5, _run(_V5)),
    (6, _run(_V6)),
    (7, _run(_V7)),
)
CURRENT_VERSION = STEPS[-1][0]


def _has_version_table(db: SidestreamDatabase) -> bool:
    row = db.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
    ).fetchone()
    return row is not None


def schema_version(db: SidestreamDatabase) -> int:
    """The schema version of the database; 0 for an empty one."""
    if not _has_version_table(db):
        return 0
    row = db.execute_sql(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
    return int(row[0] or 0)


def _check_is_ours(db: SidestreamDatabase, path: Path) -> None:
    if _has_version_table(db):
        return
    row = db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1"
    ).fetchone()
    if row is not None:
        detail = f"it has tables ({row[0]}, ...) but no schema version: not a Sidestream database"
        raise StoreError(StoreErrorKind.OTHER, human_message(StoreErrorKind.OTHER, path, detail))


def check_not_too_new(version: int, path: Path) -> None:
    if version > CURRENT_VERSION:
        detail = (
            f"Its schema version is {version}; this version of Sidestream knows up to "
            f"{CURRENT_VERSION}. Update Sidestream, or start it with another --data-dir."
        )
        raise StoreError(
            StoreErrorKind.TOO_NEW, human_message(StoreErrorKind.TOO_NEW, path, detail), path
        )


@contextlib.contextmanager
def _foreign_keys_off(db: SidestreamDatabase, off: bool) -> Iterator[None]:
    """Foreign keys off around a step that rebuilds tables (a no-op inside a
    transaction, so it wraps the step's transaction)."""
    if not off:
        yield
        return
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")


def migrate(db: SidestreamDatabase, path: Path, target: int = CURRENT_VERSION) -> int:
    """Bring the database up to ``target``; returns the version it ends at.

    Raises :class:`StoreError` (``TOO_NEW``) for a database from a newer
    Sidestream. SQLite errors propagate to the caller, which translates them.
    """
    check_not_too_new(schema_version(db), path)
    _check_is_ours(db, path)
    # IMMEDIATE takes the write lock up front, which also proves on every
    # start-up (even with nothing to migrate) that the file is writable.
    with db.atomic("IMMEDIATE"):
        db.execute_sql(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
            " version INTEGER NOT NULL PRIMARY KEY,"
            " applied_at DATETIME NOT NULL)"
        )
    for version, step in STEPS:
        if version > target:
            break
        with (
            _foreign_keys_off(db, getattr(step, "foreign_keys_off", False)),
            db.atomic("IMMEDIATE"),
        ):
            # Read again under the write lock: another process may have
            # migrated since we looked.
            current = schema_version(db)
            check_not_too_new(current, path)
            if current >= version:
                continue
            log.info("Migrating %s to schema version %d", path, version)
            step(db)
            db.execute_sql(
                f"INSERT INTO {VERSION_TABLE} (version, applied_at) VALUES (?, ?)",
                (version, datetime.now(UTC).replace(tzinfo=None).isoformat(" ")),
            )
    return schema_version(db)
