"""Adding an imported chat to the store: a new chat, or only what a copy lacks.

A chat read from a file may be here already: imported before, or exported
from this very store. It is the same chat when a chat here was created at
the same instant (to the microsecond; imports keep a chat's creation time)
and its tree holds the file's first message. Then the file's messages are
matched down the tree, each to a message here with the same parent, role
and text; only those without a match are added, as new branches where they
differ. So importing a file twice adds nothing, and importing a newer export
of a conversation that went on adds only what is new. A chat renamed, or
continued here, is still recognised: neither the title nor what was added
here is compared. A file without a chat's creation time falls back to its
title. Attached files are not compared either: a message matched by its
text keeps the files it has here.

:class:`ChatMerger` runs inside the caller's write transaction. Its SQL is
written out rather than built by peewee for each row: building an INSERT
cost ~0.5 ms, which made 50,000 messages take half a minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from desktop.core.imported import ChatImportResult, ImportedChat, ImportedMessage
from desktop.store.database import SidestreamDatabase
from desktop.store.models import CHUNK_TEXT, UtcDateTimeField

_INSERT_SESSION = (
    "INSERT INTO sessions (title, provider_id, model, muted, unread, created_at, updated_at,"
    " active_leaf_id, system_prompt, params, preset_id, pinned, archived, folder)"
    " VALUES (?, NULL, ?, ?, 0, ?, ?, NULL, ?, ?, NULL, ?, ?, ?)"
)
_INSERT_ATTACHMENT = (
    "INSERT INTO attachments (message_id, position, sha256, name, mime, kind, size, text)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages (session_id, role, content, status, error, reason, input_tokens,"
    " output_tokens, model, created_at, updated_at, reasoning, finish, reasoning_seconds,"
    " parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MESSAGES = "SELECT id, parent_id, role, content FROM messages WHERE session_id = ? ORDER BY id"
# A reply still streaming has part of its text in chunks: compare all of it.
_CHUNKS = (
    "SELECT c.message_id, c.text FROM message_chunks c JOIN messages m ON m.id = c.message_id"
    f" WHERE m.session_id = ? AND c.kind = {CHUNK_TEXT} ORDER BY c.id"
)
_stamp = UtcDateTimeField().db_value


@dataclass
class _Chat:
    """A chat here, as far as matching needs it."""

    id: int
    updated_at: datetime
    active_leaf_id: int | None


@dataclass
class _Tree:
    """A chat's messages here: who follows whom, and each one's role and text."""

    parent_of: dict[int, int | None] = field(default_factory=dict)
    children: dict[int | None, list[tuple[int, str, str]]] = field(default_factory=dict)

    def on_path(self, message_id: int, leaf_id: int) -> bool:
        """Whether ``message_id`` is ``leaf_id`` or above it."""
        current: int | None = leaf_id
        while current is not None:
            if current == message_id:
                return True
            current = self.parent_of.get(current)
        return False


class ChatMerger:
    """Imports chats one by one into the store of ``db`` (within one transaction)."""

    def __init__(self, db: SidestreamDatabase) -> None:
        self._db = db
        # Every chat's creation time and title, read once: looking each imported
        # chat up by a query would scan the sessions table once per chat.
        self._by_time: dict[datetime, list[int]] = {}
        self._by_title: dict[str, list[int]] = {}
        rows = db.execute_sql("SELECT id, created_at, title FROM sessions ORDER BY id")
        for session_id, created_at, title in rows.fetchall():
            self._remember(session_id, _when(created_at), title)

    def import_chat(self, chat: ImportedChat) -> ChatImportResult:
        found = self._copy_of(chat)
        if found is None:
            return self._add_new(chat)
        here, tree, matched = found
        return self._add_missing(chat, here, tree, matched)

    def _remember(self, session_id: int, created_at: datetime | None, title: str) -> None:
        if created_at is not None:
            self._by_time.setdefault(created_at, []).append(session_id)
        self._by_title.setdefault(title, []).append(session_id)

    def _copy_of(self, chat: ImportedChat) -> tuple[_Chat, _Tree, list[int | None]] | None:
        """The chat here that this one is a copy of (the one holding most of it), if any."""
        if chat.same_as:
            ids = sorted({i for instant in chat.same_as for i in self._by_time.get(instant, ())})
        else:
            ids = self._by_title.get(chat.title, [])
        best: tuple[_Chat, _Tree, list[int | None]] | None = None
        best_count = -1
        for session_id in ids:
            tree = self._tree(session_id)
            matched = _match(tree, chat.messages)
            count = sum(1 for message_id in matched if message_id is not None)
            if (count or not chat.messages) and count > best_count:
                best, best_count = (self._chat(session_id), tree, matched), count
        return best

    def _chat(self, session_id: int) -> _Chat:
        row = self._db.execute_sql(
            "SELECT updated_at, active_leaf_id FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return _Chat(session_id, _when(row[0]) or datetime.min, row[1])

    def _tree(self, session_id: int) -> _Tree:
        chunks: dict[int, list[str]] = {}
        for message_id, text in self._db.execute_sql(_CHUNKS, (session_id,)).fetchall():
            chunks.setdefault(message_id, []).append(text)
        tree = _Tree()
        for message_id, parent_id, role, content in self._db.execute_sql(
            _MESSAGES, (session_id,)
        ).fetchall():
            text = content + "".join(chunks.get(message_id, ()))
            tree.parent_of[message_id] = parent_id
            tree.children.setdefault(parent_id, []).append((message_id, role, text))
        return tree

    def _add_new(self, chat: ImportedChat) -> ChatImportResult:
        session_id = self._db.execute_sql(
            _INSERT_SESSION,
            (
                chat.title,
                chat.model,
                int(chat.muted),
                _stamp(chat.created_at),
                _stamp(chat.updated_at),
                chat.system_prompt,
                chat.params.to_json(),
                int(chat.pinned),
                int(chat.archived),
                chat.folder,
            ),
        ).lastrowid
        assert session_id is not None
        self._remember(session_id, chat.created_at, chat.title)
        ids: list[int] = []
        for message in chat.messages:
            parent = None if message.parent is None else ids[message.parent]
            ids.append(self._insert_message(session_id, message, parent))
        if chat.active is not None:
            self._db.execute_sql(
                "UPDATE sessions SET active_leaf_id = ? WHERE id = ?",
                (ids[chat.active], session_id),
            )
        return ChatImportResult(session_id, created=True, messages_added=len(ids))

    def _add_missing(
        self, chat: ImportedChat, here: _Chat, tree: _Tree, matched: list[int | None]
    ) -> ChatImportResult:
        ids: list[int] = []
        added = 0
        for index, message in enumerate(chat.messages):
            found = matched[index]
            if found is None:
                parent = None if message.parent is None else ids[message.parent]
                found = self._insert_message(here.id, message, parent)
                tree.parent_of[found] = parent
                added += 1
            ids.append(found)
        if not added:
            return ChatImportResult(here.id, created=False, messages_added=0)
        leaf = here.active_leaf_id
        # The chat moves on to the file's end of the conversation only when it
        # showed a path that leads there (the user had not gone elsewhere).
        if chat.active is not None:
            target = ids[chat.active]
            if leaf is None or tree.on_path(leaf, target):
                leaf = target
        self._db.execute_sql(
            "UPDATE sessions SET updated_at = ?, active_leaf_id = ? WHERE id = ?",
            (_stamp(max(here.updated_at, chat.updated_at)), leaf, here.id),
        )
        return ChatImportResult(here.id, created=False, messages_added=added)

    def _insert_message(self, session_id: int, message: ImportedMessage, parent: int | None) -> int:
        message_id = self._db.execute_sql(
            _INSERT_MESSAGE,
            (
                session_id,
                message.role.value,
                message.content,
                message.status.value,
                message.error,
                message.reason,
                message.input_tokens,
                message.output_tokens,
                message.model,
                _stamp(message.created_at),
                _stamp(message.updated_at or message.created_at),
                message.reasoning,
                None if message.finish is None else message.finish.value,
                message.reasoning_seconds,
                parent,
            ),
        ).lastrowid
        assert message_id is not None
        for position, f in enumerate(message.attachments):
            self._db.execute_sql(
                _INSERT_ATTACHMENT,
                (message_id, position, f.sha256, f.name, f.mime, f.kind.value, len(f.data), f.text),
            )
        return message_id


def _match(tree: _Tree, messages: Sequence[ImportedMessage]) -> list[int | None]:
    """For each message of the file, the message here it is (None: it is new)."""
    matched: list[int | None] = []
    taken: set[int] = set()
    for message in messages:
        found = None
        parent_here = None if message.parent is None else matched[message.parent]
        if message.parent is None or parent_here is not None:
            for message_id, role, text in tree.children.get(parent_here, ()):
                same = role == message.role.value and text == message.content
                if same and message_id not in taken:
                    found = message_id
                    break
        if found is not None:
            taken.add(found)
        matched.append(found)
    return matched


def _when(stored: object) -> datetime | None:
    """A stored time (naive UTC text); None if it cannot be read (never raises)."""
    try:
        return datetime.fromisoformat(str(stored))
    except ValueError:
        return None
