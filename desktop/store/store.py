"""The ``Store`` facade: every read and write of chats, messages, providers, settings.

All methods are synchronous and return core records, never peewee rows. Any
thread may call them; each thread gets its own SQLite connection (peewee's
thread-local connections), so the UI thread can read while the stream writer
thread writes (WAL).

Streaming replies are persisted without rewriting them: each flush appends the
new text as one ``message_chunks`` row (and the new reasoning as another, of
kind reasoning), and ``finish_message`` folds the whole text into
``messages.content`` (the reasoning into ``messages.reasoning``) and drops the
chunks. Readers always see ``content + chunks``, so a reader (or the next
start after a crash) has all text and reasoning flushed so far.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import peewee

from desktop.core.imported import ChatImportResult, ImportedChat
from desktop.core.models import (
    Attachment,
    GenerationParams,
    Message,
    Preset,
    ProviderKind,
    ReasoningBlock,
    Session,
    StoredProvider,
    blocks_to_json,
)
from desktop.core.search import SearchHit
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.store import merge, migrations, paths
from desktop.store import search as fulltext
from desktop.store.database import (
    SidestreamDatabase,
    StoreError,
    StoreErrorKind,
    closed_on_failure,
    connect,
    human_message,
    os_error,
    translate,
    wal_missing,
)
from desktop.store.files import FILES_DIR, FileStore
from desktop.store.lock import held_by_another_process
from desktop.store.models import (
    CHUNK_REASONING,
    CHUNK_TEXT,
    SESSION_COLUMNS,
    Models,
    attachment_record,
    build_models,
    message_columns,
    message_record,
    preset_record,
    provider_record,
    session_from_row,
    session_record,
    to_local,
    utc_now,
)

log = logging.getLogger("sidestream.store")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translating(fn: Callable[Concatenate[Store, _P], _R]) -> Callable[Concatenate[Store, _P], _R]:
    """Turn known SQLite/OS failures of a store method into :class:`StoreError`."""

    @functools.wraps(fn)
    def wrapper(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if self._closed:
            raise RuntimeError("the store is closed")
        try:
            return fn(self, *args, **kwargs)
        except (peewee.PeeweeException, sqlite3.Error, OSError) as exc:
            error = translate(exc, self._path)
            if error is None:
                raise
            raise error from exc

    return wrapper


_SESSION_COLUMNS = ", ".join(SESSION_COLUMNS)

# The ids up from a message to its chat's first one (a recursive CTE named up).
_PATH_UP = (
    "WITH RECURSIVE up(id) AS (SELECT ? UNION ALL"
    " SELECT m.parent_id FROM messages m JOIN up ON m.id = up.id"
    " WHERE m.parent_id IS NOT NULL)"
)


class _Unset:
    """The default of an argument that was not given (None is a value there)."""


_UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class StreamFlush:
    """What one flush of a streaming reply writes.

    ``append_text`` and ``append_reasoning`` are only the text and reasoning
    that arrived since the previous flush. ``None`` in ``cursor``/
    ``input_tokens``/``output_tokens``/``model`` leaves the stored value as it
    is (a flush without a new cursor must not erase the last one).
    """

    message_id: int
    append_text: str = ""
    status: MessageStatus = MessageStatus.STREAMING
    cursor: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    append_reasoning: str = ""


def _unchanged_unless_given(m: Any, **values: object) -> dict[Any, object]:
    return {getattr(m, name): value for name, value in values.items() if value is not None}


class Store:
    """One open ``sidestream.db``. Build it with :meth:`Store.open`."""

    def __init__(
        self, db: SidestreamDatabase, path: Path, recovered_from_corruption: Path | None
    ) -> None:
        self._db = db
        self._path = path
        self._m: Models = build_models(db)
        self.files = FileStore(path.parent / FILES_DIR)
        """The attached files, stored once per content beside the database."""
        self._closed = False
        self.recovered_from_corruption = recovered_from_corruption
        """Where the damaged database was moved to, when open() had to start afresh."""

    # -- life cycle ---------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path, *, replace_damaged: bool = True) -> Store:
        """Open (creating, migrating or recovering as needed) the store in ``data_dir``.

        Raises :class:`StoreError` for a read-only folder, a full disk, a
        database from a newer Sidestream, or a lock held by another program.
        A damaged database is moved aside and replaced by a fresh one (see
        :attr:`recovered_from_corruption`), unless ``replace_damaged`` is
        False (a command that only reads): then it raises ``CORRUPT`` and
        leaves the file alone.
        """
        data_dir = Path(data_dir)
        path = paths.database_path(data_dir)
        try:
            return cls(_open_checked(data_dir, path), path, None)
        except StoreError as error:
            if error.kind is not StoreErrorKind.CORRUPT or not replace_damaged:
                raise
        backup = _move_aside(path)
        _check_marker(path).unlink(missing_ok=True)
        log.error("The database %s was damaged; moved it to %s and started afresh", path, backup)
        return cls(_open_checked(data_dir, path), path, backup)

    def close(self) -> None:
        """Close every thread's connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._db.close_all()

    def close_thread_connection(self) -> None:
        """Close the calling thread's connection (e.g. when the writer thread ends)."""
        if not self._closed:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    @_translating
    def integrity_check(self) -> str:
        """SQLite's full integrity check: ``"ok"``, or the problems found."""
        rows = self._db.execute_sql("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    def verify(self) -> list[str]:
        """SQLite's quick check of the whole file, on a connection of its own (a
        worker thread, after the window shows); the problems found, [] if none.

        Damage found marks the file, so that the next open checks it in full
        and keeps it aside as a backup before starting afresh (see :meth:`open`).
        """
        uri = f"{self._path.as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=5)
            try:
                rows = conn.execute("PRAGMA quick_check").fetchall()
            finally:
                conn.close()
            problems = [str(row[0]) for row in rows if row[0] != "ok"]
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _DAMAGED:
                log.info("could not check %s: %s", self._path, exc)  # busy, unreadable
                return []
            problems = [str(exc)]  # "database disk image is malformed"
        if problems:
            log.warning("Integrity check of %s failed: %s", self._path, "; ".join(problems[:5]))
            with contextlib.suppress(OSError):
                _check_marker(self._path).write_text("\n".join(problems[:20]) + "\n")
        return problems

    @_translating
    def schema_version(self) -> int:
        return migrations.schema_version(self._db)

    def _write(self) -> Any:
        # IMMEDIATE: take the write lock at BEGIN, where busy_timeout applies,
        # rather than failing on a lock upgrade half-way through. Every write
        # is one such transaction, whichever thread runs it (desktop.services
        # says which thread writes what).
        return self._db.atomic("IMMEDIATE")

    def _read(self) -> Any:
        # A read transaction is one WAL snapshot: the messages and their
        # chunks come from the same instant even while the writer commits.
        return self._db.atomic("DEFERRED")

    # -- sessions -------------------------------------------------------------

    @_translating
    def create_session(
        self,
        title: str,
        provider_id: int | None = None,
        model: str = "",
        *,
        system_prompt: str = "",
        params: GenerationParams | None = None,
        preset_id: int | None = None,
    ) -> Session:
        now = utc_now()
        with self._write():
            row = self._m.session.create(
                title=title,
                provider=provider_id,
                model=model,
                created_at=now,
                updated_at=now,
                system_prompt=system_prompt,
                params=(params or GenerationParams()).to_json(),
                preset=preset_id,
            )
        return session_record(row)

    @_translating
    def get_session(self, session_id: int) -> Session | None:
        row = self._m.session.get_or_none(self._m.session.id == session_id)
        return None if row is None else session_record(row)

    @_translating
    def list_sessions(
        self,
        search: str | None = None,
        limit: int | None = None,
        *,
        archived: bool | None = False,
        folder: str | None = None,
    ) -> list[Session]:
        """Chats in the chat list's order: pinned first, then most recently
        updated first; ``search`` matches titles, any case.

        ``archived``: False (the default) leaves archived chats out, True
        lists only them, None lists both. ``folder``: only the chats in that
        folder ("" those in none); None any.
        """
        # Plain SQL and tuples: at start this lists every chat (10,000 of them
        # took 0.2 s through peewee's row objects, 30 ms this way).
        where: list[str] = []
        params: list[object] = []
        if archived is not None:
            where.append("archived = ?")
            params.append(int(archived))
        if folder is not None:
            where.append("folder = ?")
            params.append(folder)
        if search:
            where.append("instr(sidestream_casefold(title), ?) > 0")
            params.append(search.casefold())
        sql = f"SELECT {_SESSION_COLUMNS} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY pinned DESC, updated_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._db.execute_sql(sql, tuple(params)).fetchall()
        return [session_from_row(row) for row in rows]

    @_translating
    def folders(self) -> list[str]:
        """The folders chats are in, by name (any case)."""
        rows = self._db.execute_sql(
            "SELECT DISTINCT folder FROM sessions WHERE folder != '' ORDER BY folder COLLATE NOCASE"
        )
        return [row[0] for row in rows]

    @_translating
    def set_pinned(self, session_id: int, pinned: bool) -> None:
        self._update_session(session_id, pinned=pinned)

    @_translating
    def set_archived(self, session_id: int, archived: bool) -> None:
        self._update_session(session_id, archived=archived)

    @_translating
    def set_folder(self, session_id: int, folder: str) -> None:
        """Put a chat in ``folder`` ("" takes it out of any)."""
        self._update_session(session_id, folder=folder)

    @_translating
    def rename_folder(self, old: str, new: str) -> int:
        """Move every chat of folder ``old`` into ``new`` ("" ungroups them);
        returns how many moved."""
        s = self._m.session
        with self._write():
            return int(s.update({s.folder: new}).where(s.folder == old).execute())

    @_translating
    def count_sessions(self) -> int:
        return int(self._m.session.select().count())

    def _update_session(self, session_id: int, **values: object) -> None:
        s = self._m.session
        fields = {getattr(s, name): value for name, value in values.items()}
        with self._write():
            s.update(fields).where(s.id == session_id).execute()

    # Only new messages and touch_session() count as activity (updated_at,
    # the sidebar order): renaming or muting a chat must not make it jump.

    @_translating
    def rename_session(self, session_id: int, title: str) -> None:
        self._update_session(session_id, title=title)

    @_translating
    def set_session_model(self, session_id: int, provider_id: int | None, model: str) -> None:
        self._update_session(session_id, provider=provider_id, model=model)

    @_translating
    def set_session_settings(
        self, session_id: int, system_prompt: str, params: GenerationParams
    ) -> None:
        """A chat's own system prompt and parameters."""
        self._update_session(session_id, system_prompt=system_prompt, params=params.to_json())

    # -- presets ----------------------------------------------------------------

    @_translating
    def list_presets(self) -> list[Preset]:
        p = self._m.preset
        return [preset_record(row) for row in p.select().order_by(p.name)]

    @_translating
    def get_preset(self, preset_id: int) -> Preset | None:
        row = self._m.preset.get_or_none(self._m.preset.id == preset_id)
        return None if row is None else preset_record(row)

    @_translating
    def add_preset(
        self,
        name: str,
        system_prompt: str = "",
        provider_id: int | None = None,
        model: str = "",
        params: GenerationParams | None = None,
    ) -> Preset:
        with self._write():
            row = self._m.preset.create(
                name=name,
                system_prompt=system_prompt,
                provider=provider_id,
                model=model,
                params=(params or GenerationParams()).to_json(),
                created_at=utc_now(),
            )
        return preset_record(row)

    @_translating
    def update_preset(self, preset: Preset) -> None:
        p = self._m.preset
        with self._write():
            p.update(
                {
                    p.name: preset.name,
                    p.system_prompt: preset.system_prompt,
                    p.provider: preset.provider_id,
                    p.model: preset.model,
                    p.params: preset.params.to_json(),
                }
            ).where(p.id == preset.id).execute()

    @_translating
    def delete_preset(self, preset_id: int) -> None:
        p = self._m.preset
        with self._write():
            p.delete().where(p.id == preset_id).execute()

    @_translating
    def set_muted(self, session_id: int, muted: bool) -> None:
        self._update_session(session_id, muted=muted)

    @_translating
    def set_unread(self, session_id: int, unread: bool) -> None:
        self._update_session(session_id, unread=unread)

    @_translating
    def is_unread(self, session_id: int) -> bool:
        s = self._m.session
        return bool(s.select(s.id).where((s.id == session_id) & s.unread).exists())

    @_translating
    def unread_session_ids(self) -> set[int]:
        s = self._m.session
        return {row[0] for row in s.select(s.id).where(s.unread).tuples()}

    @_translating
    def touch_session(self, session_id: int) -> None:
        self._update_session(session_id, updated_at=utc_now())

    @_translating
    def delete_session(self, session_id: int) -> None:
        """Delete a chat with its messages and their chunks (foreign-key cascade),
        and the attached files no other chat uses."""
        s = self._m.session
        with self._write():
            hashes = self._files_of("session_id = ?", (session_id,))
            s.delete().where(s.id == session_id).execute()
            unused = self._unused(hashes)
        # After the commit: a crash in between leaves a file the next sweep removes.
        self.files.remove(unused)

    # -- messages -------------------------------------------------------------

    @_translating
    def add_message(
        self,
        session_id: int,
        role: Role,
        content: str = "",
        status: MessageStatus = MessageStatus.COMPLETE,
        model: str | None = None,
        *,
        parent_id: int | _Unset | None = _UNSET,
        attachments: Sequence[Attachment] = (),
    ) -> Message:
        """Add a message to a chat's tree, make it the chat's active leaf, and
        mark the chat updated.

        ``parent_id`` is the message it follows (None: it starts the chat);
        by default the chat's active leaf, so that messages added one after
        another form one path. Raises ``LookupError`` when the chat (or the
        parent in it) does not exist (any more), or when an attached file is
        not in :attr:`files` (attach stores it first).
        """
        now = utc_now()
        s, m = self._m.session, self._m.message
        with self._write():
            row = s.get_or_none(s.id == session_id)
            if row is None:
                raise LookupError(f"no chat with id {session_id}")
            parent = row.active_leaf_id if isinstance(parent_id, _Unset) else parent_id
            if parent is not None and not (
                m.select().where((m.id == parent) & (m.session == session_id)).exists()
            ):
                raise LookupError(f"no message {parent} in chat {session_id}")
            message_id = m.insert(
                session=session_id,
                role=role.value,
                content=content,
                status=status.value,
                model=model,
                created_at=now,
                updated_at=now,
                parent=parent,
            ).execute()
            if attachments:
                self._insert_attachments(message_id, attachments)
            s.update({s.updated_at: now, s.active_leaf_id: message_id}).where(
                s.id == session_id
            ).execute()
        return Message(
            id=message_id,
            session_id=session_id,
            role=role,
            content=content,
            status=status,
            model=model,
            created_at=to_local(now),
            updated_at=to_local(now),
            parent_id=parent,
            attachments=tuple(attachments),
        )

    def _insert_attachments(self, message_id: int, attachments: Sequence[Attachment]) -> None:
        missing = [a.name for a in attachments if not self.files.has(a.sha256)]
        if missing:
            raise LookupError(f"attached files not stored: {', '.join(missing)}")
        self._m.attachment.insert_many(
            [
                {
                    "message": message_id,
                    "position": position,
                    "sha256": a.sha256,
                    "name": a.name,
                    "mime": a.mime,
                    "kind": a.kind.value,
                    "size": a.size,
                    "text": a.text,
                }
                for position, a in enumerate(attachments)
            ]
        ).execute()

    # -- attached files ---------------------------------------------------------

    def _files_of(self, where_messages: str, params: tuple[object, ...]) -> set[str]:
        rows = self._db.execute_sql(
            "SELECT DISTINCT sha256 FROM attachments WHERE message_id IN"
            f" (SELECT id FROM messages WHERE {where_messages})",
            params,
        )
        return {row[0] for row in rows}

    def _unused(self, hashes: set[str]) -> set[str]:
        """Those of ``hashes`` no message uses (any more)."""
        if not hashes:
            return set()
        marks = ", ".join("?" * len(hashes))
        rows = self._db.execute_sql(
            f"SELECT DISTINCT sha256 FROM attachments WHERE sha256 IN ({marks})", tuple(hashes)
        )
        return hashes - {row[0] for row in rows}

    @_translating
    def used_files(self) -> set[str]:
        """The SHA-256 of every file a message uses."""
        rows = self._db.execute_sql("SELECT DISTINCT sha256 FROM attachments")
        return {row[0] for row in rows}

    @_translating
    def sweep_files(self) -> int:
        """Remove stored files no message uses that were attached over a day
        ago and never sent; returns how many went."""
        return self.files.sweep(self.used_files())

    # -- the tree ---------------------------------------------------------------

    def _path_ids(self, leaf_id: int) -> list[int]:
        """The ids from the first message down to ``leaf_id`` (ids grow down a path)."""
        rows = self._db.execute_sql(_PATH_UP + " SELECT id FROM up", (leaf_id,)).fetchall()
        return sorted(int(row[0]) for row in rows)

    def _on_path(self, leaf_id: int) -> Any:
        """A condition on messages: on the path down to ``leaf_id``. One subquery,
        whatever the path's length (a list of 1,000 ids costs more to build)."""
        return self._m.message.id.in_(peewee.SQL(f"({_PATH_UP} SELECT id FROM up)", (leaf_id,)))

    @_translating
    def active_path(self, session_id: int) -> list[Message]:
        """The messages a chat shows: the path from its first message to its active leaf."""
        with self._read():
            row = self._m.session.get_or_none(self._m.session.id == session_id)
            if row is None or row.active_leaf_id is None:
                return []
            return self._messages_with_chunks(self._on_path(row.active_leaf_id))

    @_translating
    def active_path_ids(self, session_id: int) -> list[int]:
        """The ids of :meth:`active_path` (cheap: no text is read)."""
        with self._read():
            row = self._m.session.get_or_none(self._m.session.id == session_id)
            if row is None or row.active_leaf_id is None:
                return []
            return self._path_ids(row.active_leaf_id)

    @_translating
    def path_to(self, message_id: int) -> list[Message]:
        """The path from a chat's first message down to ``message_id``, included."""
        with self._read():
            return self._messages_with_chunks(self._on_path(message_id))

    @_translating
    def branches(self, session_id: int) -> dict[int | None, list[int]]:
        """Each message's children (None: the chat's first messages), oldest first."""
        children: dict[int | None, list[int]] = {}
        # Plain SQL: a chat of thousands of messages is read at every branch switch.
        query = "SELECT id, parent_id FROM messages WHERE session_id = ? ORDER BY id"
        for message_id, parent_id in self._db.execute_sql(query, (session_id,)):
            children.setdefault(parent_id, []).append(message_id)
        return children

    @_translating
    def newest_leaf_under(self, message_id: int) -> int:
        """The leaf reached from ``message_id`` by always taking the newest child."""
        row = self._db.execute_sql(
            "WITH RECURSIVE down(id) AS (SELECT ? UNION ALL"
            " SELECT (SELECT MAX(c.id) FROM messages c WHERE c.parent_id = down.id)"
            " FROM down WHERE EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = down.id))"
            " SELECT MAX(id) FROM down",
            (message_id,),
        ).fetchone()
        return int(row[0])

    @_translating
    def show_branch(self, session_id: int, message_id: int) -> int:
        """Show the newest path through ``message_id`` in the chat (one write);
        returns the leaf it ends at."""
        with self._write():
            leaf = self.newest_leaf_under(message_id)
            self.set_active_leaf(session_id, leaf)
        return leaf

    @_translating
    def set_active_leaf(self, session_id: int, leaf_id: int | None) -> None:
        """Show the path to ``leaf_id`` in the chat (a message of it, or None)."""
        s, m = self._m.session, self._m.message
        with self._write():
            if leaf_id is not None and not (
                m.select().where((m.id == leaf_id) & (m.session == session_id)).exists()
            ):
                raise LookupError(f"no message {leaf_id} in chat {session_id}")
            s.update({s.active_leaf_id: leaf_id}).where(s.id == session_id).execute()

    def _chunks_by_message(
        self, message_ids: Any
    ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        """The text chunks and the reasoning chunks of the messages, by message id."""
        c = self._m.chunk
        query = (
            c.select(c.message, c.text, c.kind)
            .where(c.message.in_(message_ids))
            .order_by(c.id)
            .tuples()
        )
        chunks: dict[int, list[str]] = {}
        reasoning: dict[int, list[str]] = {}
        for message_id, text, kind in query:
            into = reasoning if kind == CHUNK_REASONING else chunks
            into.setdefault(message_id, []).append(text)
        return chunks, reasoning

    def _select_messages(self, where: Any) -> Any:
        m = self._m.message
        return m.select(*message_columns(m)).where(where).order_by(m.id)

    def _messages_with_chunks(self, where: Any) -> list[Message]:
        """Messages matching ``where``, with their chunks: one query each, one snapshot."""
        m = self._m.message
        with self._read():
            rows = list(self._select_messages(where).tuples())
            if not rows:
                return []
            # The subquery re-selects the same messages, so the chunk query
            # stays one statement however many messages there are.
            chunks, reasoning = self._chunks_by_message(m.select(m.id).where(where))
            files = self._attachments_by_message(m.select(m.id).where(where))
        messages = [message_record(row, chunks.get(row[0]), reasoning.get(row[0])) for row in rows]
        if files:
            for message in messages:
                message.attachments = files.get(message.id, ())
        return messages

    def _attachments_by_message(self, message_ids: Any) -> dict[int, tuple[Attachment, ...]]:
        a = self._m.attachment
        query = (
            a.select(a.message, a.sha256, a.name, a.mime, a.kind, a.size, a.text)
            .where(a.message.in_(message_ids))
            .order_by(a.message, a.position)
            .tuples()
        )
        found: dict[int, list[Attachment]] = {}
        for row in query:
            found.setdefault(row[0], []).append(attachment_record(row[1:]))
        return {message_id: tuple(files) for message_id, files in found.items()}

    @_translating
    def get_message(self, message_id: int) -> Message | None:
        found = self._messages_with_chunks(self._m.message.id == message_id)
        return found[0] if found else None

    @_translating
    def get_messages(self, message_ids: Sequence[int]) -> list[Message]:
        """Those messages, by id (any that do not exist are left out)."""
        return self._messages_with_chunks(self._m.message.id.in_(list(message_ids)))

    @_translating
    def list_messages(self, session_id: int) -> list[Message]:
        """Every message of a chat, of every branch, by id; streaming ones
        include all text flushed so far (:meth:`active_path` is what it shows)."""
        return self._messages_with_chunks(self._m.message.session == session_id)

    @_translating
    def messages_with_status(self, statuses: Iterable[MessageStatus]) -> list[Message]:
        """Messages of any chat in one of ``statuses`` (start-up recovery), by id."""
        wanted = [MessageStatus(status).value for status in statuses]
        if not wanted:
            return []
        return self._messages_with_chunks(self._m.message.status.in_(wanted))

    @_translating
    def delete_message(self, message_id: int) -> None:
        """Delete a message and everything below it in its chat's tree.

        A chat whose active leaf went with it shows its parent's newest branch,
        and the attached files no message uses any more are removed.
        """
        with self._write():
            row = self._m.message.get_or_none(self._m.message.id == message_id)
            if row is None:
                return
            hashes = self._files_of("session_id = ?", (row.session_id,))
            self._delete_subtree(row)
            unused = self._unused(hashes)
        self.files.remove(unused)

    def _delete_subtree(self, row: Any) -> None:
        m, s = self._m.message, self._m.session
        m.delete().where(m.id == row.id).execute()
        session = s.get_or_none(s.id == row.session_id)
        if session is None or session.active_leaf_id is None:
            return
        if m.get_or_none(m.id == session.active_leaf_id) is not None:
            return
        leaf = None if row.parent_id is None else self.newest_leaf_under(row.parent_id)
        if leaf is None:
            newest = m.select(m.id).where(m.session == row.session_id).order_by(m.id.desc())
            first = newest.first()
            leaf = None if first is None else self.newest_leaf_under(first.id)
        s.update({s.active_leaf_id: leaf}).where(s.id == row.session_id).execute()

    @_translating
    def update_message_status(
        self,
        message_id: int,
        status: MessageStatus,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        m = self._m.message
        with self._write():
            m.update(
                {m.status: status.value, m.error: error, m.reason: reason, m.updated_at: utc_now()}
            ).where(m.id == message_id).execute()

    @_translating
    def flush_streaming(self, items: Sequence[StreamFlush]) -> frozenset[int]:
        """Persist one batch of streaming progress in one transaction.

        Appends each item's new text as a chunk, and its new reasoning as a
        reasoning chunk (nothing for empty ones), and updates status, cursor,
        usage and model. Returns the ids of messages
        that no longer exist (their chat was deleted mid-stream); their items
        are skipped. Raises :class:`StoreError` (e.g. ``DISK_FULL``), in which
        case nothing of the batch was written.
        """
        if not items:
            return frozenset()
        m, c = self._m.message, self._m.chunk
        now = utc_now()
        missing: set[int] = set()
        chunk_rows: list[dict[str, object]] = []
        with self._write():
            for item in items:
                fields = _unchanged_unless_given(
                    m,
                    cursor=item.cursor,
                    input_tokens=item.input_tokens,
                    output_tokens=item.output_tokens,
                    model=item.model,
                )
                fields.update({m.status: item.status.value, m.updated_at: now})
                if not m.update(fields).where(m.id == item.message_id).execute():
                    missing.add(item.message_id)
                else:
                    if item.append_reasoning:
                        chunk_rows.append(
                            {
                                "message": item.message_id,
                                "text": item.append_reasoning,
                                "kind": CHUNK_REASONING,
                            }
                        )
                    if item.append_text:
                        chunk_rows.append(
                            {
                                "message": item.message_id,
                                "text": item.append_text,
                                "kind": CHUNK_TEXT,
                            }
                        )
            if chunk_rows:
                # Rows of one multi-row INSERT get increasing ids in list order.
                c.insert_many(chunk_rows).execute()
        if missing:
            log.debug("Flush skipped deleted messages %s", sorted(missing))
        return frozenset(missing)

    @_translating
    def finish_message(
        self,
        message_id: int,
        content: str,
        status: MessageStatus,
        error: str | None = None,
        reason: str | None = None,
        cursor: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        model: str | None = None,
        *,
        reasoning: str | None = None,
        reasoning_blocks: Sequence[ReasoningBlock] | None = None,
        finish: FinishReason | None = None,
        reasoning_seconds: float | None = None,
    ) -> bool:
        """Write a reply's full text and final state, and drop its chunks.

        ``content`` is the complete text, replacing stored content and chunks;
        ``reasoning`` likewise the complete reasoning (None: the stored one,
        its chunks folded in). ``finish`` is written as given (a reply that did
        not complete has none). ``None`` for cursor, usage, model, reasoning
        blocks or reasoning seconds leaves the stored value. Returns False when
        the message no longer exists.
        """
        m, c = self._m.message, self._m.chunk
        fields = _unchanged_unless_given(
            m,
            cursor=cursor,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model=model,
            reasoning_seconds=reasoning_seconds,
        )
        if reasoning_blocks is not None:
            fields[m.reasoning_blocks] = blocks_to_json(reasoning_blocks)
        fields.update(
            {
                m.content: content,
                m.status: status.value,
                m.error: error,
                m.reason: reason,
                m.finish: None if finish is None else finish.value,
                m.updated_at: utc_now(),
            }
        )
        with self._write():
            if reasoning is None:
                fields[m.reasoning] = m.reasoning.concat(self._reasoning_chunks(message_id))
            else:
                fields[m.reasoning] = reasoning
            found = bool(m.update(fields).where(m.id == message_id).execute())
            c.delete().where(c.message == message_id).execute()
        return found

    def _reasoning_chunks(self, message_id: int) -> str:
        c = self._m.chunk
        query = (
            c.select(c.text)
            .where((c.message == message_id) & (c.kind == CHUNK_REASONING))
            .order_by(c.id)
            .tuples()
        )
        return "".join(text for (text,) in query)

    # -- full-text search -----------------------------------------------------

    @_translating
    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Chats whose title matches ``query`` (newest first), then messages
        whose text does (newest first), at most ``limit`` of each. A streaming
        reply is found once it has ended (its text is then in the index)."""
        with self._read():
            return fulltext.search(self._db, query, limit)

    @_translating
    def search_chat(self, session_id: int, query: str) -> list[int]:
        """The ids of a chat's messages, of every branch, that match ``query``, in order."""
        return fulltext.search_chat(self._db, session_id, query)

    # -- imports --------------------------------------------------------------

    @_translating
    def import_chats(self, chats: Sequence[ImportedChat]) -> list[ChatImportResult]:
        """Add chats read from an export file, all in one transaction (all or nothing).

        A chat the store has already (imported before, or exported from here)
        gets only the messages it lacks; see :mod:`desktop.store.merge` for
        what counts as the same chat. Times, statuses and the tree are kept.
        Attached files are stored first (once each; a failed import leaves
        them for the sweep).
        """
        for chat in chats:
            for message in chat.messages:
                for f in message.attachments:
                    if not self.files.has(f.sha256):
                        self.files.add_bytes(f.data)
        with self._write():
            merger = merge.ChatMerger(self._db)
            return [merger.import_chat(chat) for chat in chats]

    # -- providers ------------------------------------------------------------

    @_translating
    def add_provider(
        self, name: str, kind: ProviderKind, base_url: str, default_model: str = ""
    ) -> StoredProvider:
        """Add a provider; its API key goes to :class:`~desktop.store.secrets.KeyStore`.

        Raises ``ValueError`` when a provider of that name exists (the name is
        the key's keyring entry, so it must be unique).
        """
        try:
            with self._write():
                row = self._m.provider.create(
                    name=name, kind=kind.value, base_url=base_url, default_model=default_model
                )
        except peewee.IntegrityError as exc:
            raise ValueError(f"a provider named {name!r} exists already") from exc
        return provider_record(row)

    @_translating
    def get_provider(self, provider_id: int) -> StoredProvider | None:
        p = self._m.provider
        row = p.get_or_none(p.id == provider_id)
        return None if row is None else provider_record(row)

    @_translating
    def list_providers(self) -> list[StoredProvider]:
        p = self._m.provider
        return [provider_record(row) for row in p.select().order_by(p.id)]

    @_translating
    def update_provider(
        self,
        provider_id: int,
        name: str | None = None,
        kind: ProviderKind | None = None,
        base_url: str | None = None,
        default_model: str | None = None,
    ) -> StoredProvider | None:
        """Change the given fields; returns the updated provider, None if unknown.

        Renaming does not move the API key: the caller re-files it under the
        new name in the KeyStore.
        """
        p = self._m.provider
        fields = _unchanged_unless_given(
            p,
            name=name,
            kind=None if kind is None else kind.value,
            base_url=base_url,
            default_model=default_model,
        )
        try:
            with self._write():
                if fields:
                    p.update(fields).where(p.id == provider_id).execute()
                row = p.get_or_none(p.id == provider_id)
        except peewee.IntegrityError as exc:
            raise ValueError(f"a provider named {name!r} exists already") from exc
        return None if row is None else provider_record(row)

    @_translating
    def delete_provider(self, provider_id: int) -> None:
        """Delete a provider; its chats stay, without a provider (ON DELETE SET NULL)."""
        p = self._m.provider
        with self._write():
            p.delete().where(p.id == provider_id).execute()

    # -- settings -------------------------------------------------------------

    @_translating
    def get_setting(self, key: str, default: Any = None) -> Any:
        st = self._m.setting
        row = st.get_or_none(st.key == key)
        return default if row is None else json.loads(row.value)

    @_translating
    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value (``TypeError`` otherwise)."""
        encoded = json.dumps(value)
        st = self._m.setting
        with self._write():
            st.insert(key=key, value=encoded).on_conflict_replace().execute()


# The tables a start reads before its window shows: checked at every open.
# The whole file is checked at open only after a crash (a -wal was left) or
# when a check found damage before; otherwise after the window shows, by
# Store.verify (quick_check is linear in the file size: 0.2 s for 10,000
# chats, most of it their messages, which a start does not read).
_START_TABLES = ("schema_version", "settings", "providers", "presets", "sessions")
CHECK_FAILED_SUFFIX = ".check-failed"
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _open_checked(data_dir: Path, path: Path) -> SidestreamDatabase:
    """Create (or make private) the folder and file, connect, check, migrate."""
    _prepare_files(data_dir, path)
    full = _needs_full_check(path)
    db = connect(path)
    with closed_on_failure(db, path):
        # quick_check finds damaged pages in time linear in what it reads but
        # skips the slower index-versus-table cross check of integrity_check.
        problems = _quick_check(db, None if full else _START_TABLES)
        if problems:
            log.warning("Integrity check of %s failed: %s", path, "; ".join(problems[:5]))
            kind = StoreErrorKind.CORRUPT
            raise StoreError(kind, human_message(kind, path), path)
        if full:
            _check_marker(path).unlink(missing_ok=True)
        migrations.migrate(db, path)
    return db


def _needs_full_check(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    try:
        crashed = wal.stat().st_size > 0  # SQLite removes it on a clean close
    except OSError:
        crashed = False
    return crashed or _check_marker(path).exists()


def _check_marker(path: Path) -> Path:
    return path.with_name(path.name + CHECK_FAILED_SUFFIX)


def _quick_check(db: SidestreamDatabase, tables: Sequence[str] | None) -> list[str]:
    """quick_check of the whole file (None) or of these tables and their indexes."""
    if tables is None:
        rows = db.execute_sql("PRAGMA quick_check").fetchall()
    else:
        present = {
            row[0] for row in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        rows = []
        for table in tables:
            if table in present:
                rows += db.execute_sql(f"PRAGMA quick_check({table})").fetchall()
    return [str(row[0]) for row in rows if row[0] != "ok"]


def _prepare_files(data_dir: Path, path: Path) -> None:
    """Everything that must hold before SQLite touches a file; raises StoreError.

    A symbolic link among the database's files is refused before anything is
    written (SQLite would follow it and put the chats, and its -wal, where it
    leads); so is a file or folder SQLite could only open read-only, naming
    its owner; so is opening beside a running Sidestream whose -wal was
    deleted (the open would fail with "disk I/O error", or read old data).
    """
    try:
        tightened = paths.ensure_data_dir(data_dir)
        link = paths.linked_entry(path)
        if link is not None:
            entry, target = link
            kind = StoreErrorKind.SYMLINK
            raise StoreError(kind, human_message(kind, entry, str(target)), entry)
        for candidate in (data_dir, path, *paths.side_paths(path)):
            if candidate.exists() and not os.access(candidate, os.W_OK):
                kind = StoreErrorKind.READ_ONLY
                raise StoreError(kind, human_message(kind, path), path)
        tightened += paths.ensure_private_file(path)
    except OSError as exc:
        raise os_error(exc, path) from exc
    if tightened:
        log.warning(
            "Made Sidestream's data private (it holds your chats; only you may read it): %s",
            "; ".join(str(t) for t in tightened),
        )
    if wal_missing(path) and held_by_another_process(data_dir):
        kind = StoreErrorKind.WAL_LOST
        log.info("The -wal file of %s was deleted while another Sidestream runs", path)
        raise StoreError(kind, human_message(kind, path), path)


def _move_aside(path: Path) -> Path:
    """Rename a damaged database (and its -wal/-shm) to ``<name>.corrupt-<timestamp>``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        path.replace(backup)
        # Keep the pair names SQLite expects (<db>-wal), so the backup opens
        # with its uncheckpointed pages. (Closing our probing connection may
        # already have folded a valid WAL into the file, or dropped one SQLite
        # could not use; either way nothing stale is left beside the new file.)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.replace(backup.with_name(backup.name + suffix))
    except OSError as exc:
        raise os_error(exc, path) from exc
    return backup
