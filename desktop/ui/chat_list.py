"""The chat list's model: every chat with its streaming / unread / muted state, and a title filter.

The model holds every chat (a :class:`~desktop.core.models.Session`), newest
activity first, plus the per-chat state the window feeds it: streaming now,
a reply that finished unseen (unread), notifications muted. Views ask it for
the Session object (``SessionRole``), never parse display strings.
"""

from __future__ import annotations

import dataclasses
import logging
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

log = logging.getLogger("sidestream.ui")

_USER: Final = int(Qt.ItemDataRole.UserRole)
SessionRole: Final = _USER + 1
"""The :class:`Session` of the row (the model's own copy: do not mutate it)."""
IdRole: Final = _USER + 2
StreamingRole: Final = _USER + 3
UnreadRole: Final = _USER + 4
MutedRole: Final = _USER + 5
UpdatedRole: Final = _USER + 6

UNTITLED = "Untitled chat"

ModelIndex = QModelIndex | QPersistentModelIndex


def _sort_key(session: Session) -> tuple[datetime, int]:
    # Same order as the store's chat list: newest activity first, then newest id.
    return (session.updated_at, session.id)


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
    """Every chat, newest activity first, with its streaming / unread / muted state.

    The window feeds it: :meth:`set_chats` at start, :meth:`upsert` when a chat
    is created, renamed or touched, :meth:`set_streaming` / :meth:`set_unread`
    / :meth:`set_muted` as those states change. Unread and streaming are the
    model's own state: :meth:`upsert` of a known chat keeps its unread mark
    (use :meth:`set_unread`), and a streaming mark set before the chat's row
    exists shows as soon as the row is added.
    """

    streaming_changed = Signal()
    """The set of streaming chats with a row changed (the view starts/stops its spinner)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sessions: list[Session] = []
        self._rows: dict[int, int] = {}
        self._streaming: set[int] = set()

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
        ):
            names[role] = QByteArray(name)
        return names

    def _describe(self, session: Session) -> str:
        parts = [session.title or UNTITLED]
        if session.id in self._streaming:
            parts.append("replying now")
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

    # -------------------------------------------------------------- mutations
    def set_chats(self, sessions: Sequence[Session]) -> None:
        """Replace every row (a model reset); streaming marks are kept."""
        unique = {s.id: dataclasses.replace(s) for s in sessions}
        self.beginResetModel()
        self._sessions = sorted(unique.values(), key=_sort_key, reverse=True)
        self._reindex()
        self.endResetModel()
        self.streaming_changed.emit()

    def upsert(self, session: Session) -> None:
        """Add a chat, or update it and move it to its place by last activity."""
        row = self._rows.get(session.id)
        if row is None:
            new = dataclasses.replace(session)
            target = self._position_for(new, skip=None)
            self.beginInsertRows(QModelIndex(), target, target)
            self._sessions.insert(target, new)
            self._reindex()
            self.endInsertRows()
            if new.id in self._streaming:
                self.streaming_changed.emit()
            return
        new = dataclasses.replace(session, unread=self._sessions[row].unread)
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

    def remove(self, session_id: int) -> None:
        row = self._rows.get(session_id)
        was_streaming = session_id in self._streaming
        self._streaming.discard(session_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._sessions[row]
        self._reindex()
        self.endRemoveRows()
        if was_streaming:
            self.streaming_changed.emit()

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

    # -------------------------------------------------------------- internals
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
    """The chat list filtered by a case-insensitive substring of the title; source order kept."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterRole(Qt.ItemDataRole.DisplayRole)
        self._query = ""

    def set_query(self, text: str) -> None:
        self._query = text.strip()
        self.setFilterFixedString(self._query)

    def query(self) -> str:
        return self._query

    def session_at(self, row: int) -> Session | None:
        value = self.index(row, 0).data(SessionRole)
        return value if isinstance(value, Session) else None
