"""The chat list's model: every chat with its streaming / unread / muted state,
and the filter that shows one scope of it (all chats, a folder, the archive)
by title.

The model holds every chat (a :class:`~desktop.core.models.Session`), archived
ones too, in the store's order: pinned first, then newest activity, then newest
id. It also keeps the per-chat state the window feeds it: streaming now, a
reply that finished unseen (unread), notifications muted; and how many chats
each scope lists. Views ask it for the Session object (``SessionRole``), never
parse display strings.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from desktop.core.models import Session
from desktop.core.states import InterruptReason, MessageStatus
from desktop.ui.chat_scope import ALL_CHATS, ChatScope, ScopeCounts, folder_counts

log = logging.getLogger("sidestream.ui")

_USER: Final = int(Qt.ItemDataRole.UserRole)
SessionRole: Final = _USER + 1
"""The :class:`Session` of the row (the model's own copy: do not mutate it)."""
IdRole: Final = _USER + 2
StreamingRole: Final = _USER + 3
UnreadRole: Final = _USER + 4
MutedRole: Final = _USER + 5
UpdatedRole: Final = _USER + 6
PinnedRole: Final = _USER + 7
ArchivedRole: Final = _USER + 8
FolderRole: Final = _USER + 9
ReplyEndRole: Final = _USER + 10
"""How the chat's last reply ended when that needs a word (:class:`ReplyEnd`), else None."""

UNTITLED = "Untitled chat"

ModelIndex = QModelIndex | QPersistentModelIndex


class ReplyEnd(enum.Enum):
    """A last reply cut short or failed: each has its own mark in the list,
    apart from the "New reply" of one that finished."""

    EVICTED = "evicted"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The row's detail line says this."""
        return _END_LABELS[self]

    @property
    def description(self) -> str:
        """The tooltip and the accessible text say this."""
        return _END_DESCRIPTIONS[self]


_END_LABELS = {
    ReplyEnd.EVICTED: "Stopped to make room",
    ReplyEnd.INTERRUPTED: "Interrupted",
    ReplyEnd.STOPPED: "Stopped",
    ReplyEnd.FAILED: "Failed",
}
_END_DESCRIPTIONS = {
    ReplyEnd.EVICTED: "Stopped to make room — Continue in the chat",
    ReplyEnd.INTERRUPTED: "Interrupted — Continue in the chat",
    ReplyEnd.STOPPED: "Stopped — Continue in the chat",
    ReplyEnd.FAILED: "Failed — Retry in the chat",
}


def reply_end(status: MessageStatus, reason: str | None) -> ReplyEnd | None:
    """The mark of a reply that ended so; None for a complete one (or a live one)."""
    if status is MessageStatus.FAILED:
        return ReplyEnd.FAILED
    if status is MessageStatus.STOPPED:
        return ReplyEnd.STOPPED
    if status is MessageStatus.INTERRUPTED:
        return ReplyEnd.EVICTED if reason == InterruptReason.EVICTED else ReplyEnd.INTERRUPTED
    return None


def _sort_key(session: Session) -> tuple[bool, datetime, int]:
    # The store's chat list order, descending: pinned first, then newest
    # activity, then newest id.
    return (session.pinned, session.updated_at, session.id)


def relative_time(when: datetime, now: datetime) -> str:
    """How long ago ``when`` was, for the chat list ("just now", "5 min ago", "12 Mar")."""
    if when.tzinfo is not None and now.tzinfo is None:
        when = when.astimezone().replace(tzinfo=None)
    elif when.tzinfo is None and now.tzinfo is not None:
        now = now.astimezone().replace(tzinfo=None)
    delta = now - when
    if delta < timedelta(seconds=45):
        return "just now"  # also a clock that went backwards
    if delta < timedelta(hours=1):
        return f"{max(1, round(delta.total_seconds() / 60))} min ago"
    days = (now.date() - when.date()).days
    if days == 0:
        return f"{int(delta.total_seconds() // 3600)} h ago"
    if days == 1:
        return "Yesterday"
    if days < 7:
        return when.strftime("%A")
    if when.year == now.year:
        return f"{when.day} {when.strftime('%b')}"
    return f"{when.day} {when.strftime('%b')} {when.year}"


class ChatListModel(QAbstractListModel):
    """Every chat (archived ones too), pinned first, then newest activity, with
    its streaming / unread / muted state.

    The window feeds it: :meth:`set_chats` at start, :meth:`upsert` when a chat
    is created, renamed, pinned, archived, moved to a folder or touched,
    :meth:`set_streaming` / :meth:`set_unread` / :meth:`set_muted` as those
    states change. Unread and streaming are the model's own state:
    :meth:`upsert` of a known chat keeps its unread mark (use
    :meth:`set_unread`), and a streaming mark set before the chat's row exists
    shows as soon as the row is added.
    """

    streaming_changed = Signal()
    """The set of streaming chats with a row changed (the view starts/stops its spinner)."""
    counts_changed = Signal()
    """How many chats a scope lists, or which folders there are, changed (:meth:`counts`)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sessions: list[Session] = []
        self._rows: dict[int, int] = {}
        self._streaming: set[int] = set()
        self._ends: dict[int, ReplyEnd] = {}
        # Chats listed (not archived) by folder ("" none); archived by folder.
        self._listed: Counter[str] = Counter()
        self._archived: Counter[str] = Counter()

    # ----------------------------------------------------------- Qt interface
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._sessions)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.column() != 0 or index.parent().isValid():
            return None
        row = index.row()
        if not 0 <= row < len(self._sessions):
            return None
        session = self._sessions[row]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return session.title or UNTITLED
        if role == SessionRole:
            return session
        if role == IdRole:
            return session.id
        if role == StreamingRole:
            return session.id in self._streaming
        if role == UnreadRole:
            return session.unread
        if role == MutedRole:
            return session.muted
        if role == UpdatedRole:
            return session.updated_at
        if role == PinnedRole:
            return session.pinned
        if role == ArchivedRole:
            return session.archived
        if role == FolderRole:
            return session.folder
        if role == ReplyEndRole:
            return self._ends.get(session.id)
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._describe(session)
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        for role, name in (
            (SessionRole, b"session"),
            (IdRole, b"sessionId"),
            (StreamingRole, b"streaming"),
            (UnreadRole, b"unread"),
            (MutedRole, b"muted"),
            (UpdatedRole, b"updatedAt"),
            (PinnedRole, b"pinned"),
            (ArchivedRole, b"archived"),
            (FolderRole, b"folder"),
            (ReplyEndRole, b"replyEnd"),
        ):
            names[role] = QByteArray(name)
        return names

    def _describe(self, session: Session) -> str:
        parts = [session.title or UNTITLED]
        if session.pinned:
            parts.append("Pinned")
        if session.archived:
            parts.append("Archived")
        if session.folder:
            parts.append(f"in folder {session.folder}")
        end = self._ends.get(session.id)
        if session.id in self._streaming:
            parts.append("replying now")
        elif end is not None:
            parts.append(end.description)
        elif session.unread:
            parts.append("new reply")
        if session.muted:
            parts.append("notifications muted")
        return " — ".join(parts)

    # ---------------------------------------------------------------- queries
    def session_at(self, row: int) -> Session | None:
        return self._sessions[row] if 0 <= row < len(self._sessions) else None

    def row_of(self, session_id: int) -> int | None:
        return self._rows.get(session_id)

    def index_of(self, session_id: int) -> QModelIndex:
        row = self._rows.get(session_id)
        return QModelIndex() if row is None else self.index(row, 0)

    def sessions(self) -> list[Session]:
        return list(self._sessions)

    def is_streaming(self, session_id: int) -> bool:
        return session_id in self._streaming

    def streaming_rows(self) -> list[int]:
        """Rows of the chats that stream now (those with a row)."""
        return sorted(self._rows[s] for s in self._streaming if s in self._rows)

    def has_streaming(self) -> bool:
        return any(s in self._rows for s in self._streaming)

    def folders(self) -> list[str]:
        """The folders the chats are in (archived ones too), by name, any case."""
        names = set(self._listed) | set(self._archived)
        names.discard("")
        return sorted(names, key=lambda name: (name.casefold(), name))

    def folder_size(self, name: str) -> int:
        """How many chats are in folder ``name``, archived ones too."""
        return self._listed[name] + self._archived[name] if name else 0

    def counts(self) -> ScopeCounts:
        """How many chats each scope lists; a folder whose chats are all
        archived is there with 0."""
        folders = [(name, self._listed[name]) for name in self.folders()]
        return ScopeCounts(
            listed=sum(self._listed.values()),
            folders=folder_counts(folders),
            archived=sum(self._archived.values()),
        )

    # -------------------------------------------------------------- mutations
    def set_chats(self, sessions: Sequence[Session]) -> None:
        """Replace every row (a model reset); streaming marks are kept."""
        unique = {s.id: dataclasses.replace(s) for s in sessions}
        self.beginResetModel()
        self._sessions = sorted(unique.values(), key=_sort_key, reverse=True)
        self._reindex()
        self._listed.clear()
        self._archived.clear()
        for session in self._sessions:
            self._count(session, 1)
        self.endResetModel()
        self.streaming_changed.emit()
        self.counts_changed.emit()

    def upsert(self, session: Session) -> None:
        """Add a chat, or update it and move it to its place by last activity."""
        row = self._rows.get(session.id)
        if row is None:
            new = dataclasses.replace(session)
            target = self._position_for(new, skip=None)
            self.beginInsertRows(QModelIndex(), target, target)
            self._sessions.insert(target, new)
            self._reindex()
            self._count(new, 1)
            self.endInsertRows()
            if new.id in self._streaming:
                self.streaming_changed.emit()
            self.counts_changed.emit()
            return
        old = self._sessions[row]
        new = dataclasses.replace(session, unread=old.unread)
        recounted = (old.folder, old.archived) != (new.folder, new.archived)
        if recounted:
            self._count(old, -1)
            self._count(new, 1)
        target = self._position_for(new, skip=row)
        if target != row:
            # beginMoveRows counts the destination before the row is taken out.
            destination = target + 1 if target > row else target
            if not self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), destination):
                log.error("Chat list: refused move of row %d to %d", row, destination)
                return
            del self._sessions[row]
            self._sessions.insert(target, new)
            self._reindex()
            self.endMoveRows()
        else:
            self._sessions[row] = new
        index = self.index(target, 0)
        self.dataChanged.emit(index, index, [])
        if recounted:
            self.counts_changed.emit()

    def remove(self, session_id: int) -> None:
        row = self._rows.get(session_id)
        was_streaming = session_id in self._streaming
        self._streaming.discard(session_id)
        self._ends.pop(session_id, None)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        self._count(self._sessions[row], -1)
        del self._sessions[row]
        self._reindex()
        self.endRemoveRows()
        if was_streaming:
            self.streaming_changed.emit()
        self.counts_changed.emit()

    def set_streaming(self, session_id: int, streaming: bool) -> None:
        if streaming == (session_id in self._streaming):
            return
        if streaming:
            self._streaming.add(session_id)
        else:
            self._streaming.discard(session_id)
        row = self._rows.get(session_id)
        if row is not None:
            self._changed(row, StreamingRole)
            self.streaming_changed.emit()

    def reply_end(self, session_id: int) -> ReplyEnd | None:
        return self._ends.get(session_id)

    def set_reply_end(self, session_id: int, end: ReplyEnd | None) -> None:
        """How the chat's last reply ended (None: it completed, or a new one began)."""
        if self._ends.get(session_id) == end:
            return
        if end is None:
            del self._ends[session_id]
        else:
            self._ends[session_id] = end
        row = self._rows.get(session_id)
        if row is not None:
            self._changed(row, ReplyEndRole)

    def set_unread(self, session_id: int, unread: bool) -> None:
        row = self._rows.get(session_id)
        if row is None or self._sessions[row].unread == unread:
            return
        self._sessions[row] = dataclasses.replace(self._sessions[row], unread=unread)
        self._changed(row, UnreadRole)

    def set_muted(self, session_id: int, muted: bool) -> None:
        row = self._rows.get(session_id)
        if row is None or self._sessions[row].muted == muted:
            return
        self._sessions[row] = dataclasses.replace(self._sessions[row], muted=muted)
        self._changed(row, MutedRole)

    def rename_folder(self, old: str, new: str) -> None:
        """Every chat of folder ``old`` is now in ``new`` ("" in none), as the
        store did it in one write; the rows stay where they are."""
        changed = [row for row, s in enumerate(self._sessions) if s.folder == old]
        for row in changed:
            session = self._sessions[row]
            self._count(session, -1)
            self._sessions[row] = dataclasses.replace(session, folder=new)
            self._count(self._sessions[row], 1)
        if changed:
            # One signal over the span: views and the filter re-read it once.
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], 0), [])
            self.counts_changed.emit()

    # -------------------------------------------------------------- internals
    def _count(self, session: Session, step: int) -> None:
        counter = self._archived if session.archived else self._listed
        counter[session.folder] += step
        if counter[session.folder] <= 0:
            del counter[session.folder]

    def _changed(self, row: int, role: int) -> None:
        index = self.index(row, 0)
        roles = [role, int(Qt.ItemDataRole.ToolTipRole), int(Qt.ItemDataRole.AccessibleTextRole)]
        self.dataChanged.emit(index, index, roles)

    def _position_for(self, session: Session, skip: int | None) -> int:
        key = _sort_key(session)
        position = 0
        for row, other in enumerate(self._sessions):
            if row == skip:
                continue
            if _sort_key(other) > key:
                position += 1
            else:
                break
        return position

    def _reindex(self) -> None:
        self._rows = {s.id: row for row, s in enumerate(self._sessions)}


class ChatFilterModel(QSortFilterProxyModel):
    """The chats of one scope (all, a folder, the archive) whose title holds
    the query, any case; the source's order kept.

    The filter reads the source's sessions directly (no role lookups): it
    runs over every row at each key typed, on lists of 10,000 chats.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._query = ""
        self._folded = ""
        self._scope = ALL_CHATS

    def set_query(self, text: str) -> None:
        query = text.strip()
        if query == self._query:
            return
        self.beginFilterChange()
        self._query = query
        self._folded = query.casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def query(self) -> str:
        return self._query

    def set_scope(self, scope: ChatScope) -> None:
        if scope == self._scope:
            return
        self.beginFilterChange()
        self._scope = scope
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def scope(self) -> ChatScope:
        return self._scope

    def session_at(self, row: int) -> Session | None:
        value = self.index(row, 0).data(SessionRole)
        return value if isinstance(value, Session) else None

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        source = self.sourceModel()
        if isinstance(source, ChatListModel):
            session = source.session_at(source_row)
        else:
            value = source.index(source_row, 0, source_parent).data(SessionRole)
            session = value if isinstance(value, Session) else None
        if session is None or not self._scope.accepts(session):
            return False
        return not self._folded or self._folded in (session.title or UNTITLED).casefold()
