"""The chat list at the side of the main window: its model, search filter, delegate and widget.

The model holds every chat (a :class:`~desktop.core.models.Session`), newest
activity first, plus the per-chat state the window feeds it: streaming now,
a reply that finished unseen (unread), notifications muted. Views ask it for
the Session object (``SessionRole``), never parse display strings.

One QTimer in :class:`ChatListView` drives the streaming spinners; it runs only
while some chat streams and the list is visible, and each tick repaints only
the spinners (the delegate paints just the spinner when that is all exposed).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QElapsedTimer,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QHideEvent,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QRegion,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models import Session
from desktop.ui import icons, style

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

_ModelIndex = QModelIndex | QPersistentModelIndex


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
    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._sessions)

    def flags(self, index: _ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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


class ChatListDelegate(QStyledItemDelegate):
    """Paints a chat row: title, when, and the streaming / unread / muted marks.

    ``phase`` (0..1) is the spinner's angle; the view advances it.
    """

    PADDING = 8
    LINE_GAP = 2

    def __init__(
        self, parent: QObject | None = None, *, clock: Callable[[], datetime] = datetime.now
    ) -> None:
        super().__init__(parent)
        self.phase = 0.0
        self.exposed: QRegion | None = None
        """The area the view repaints now (set by the view around each paint)."""
        self._clock = clock

    @staticmethod
    def _small_font(font: QFont) -> QFont:
        small = QFont(font)
        if font.pointSizeF() > 0:
            small.setPointSizeF(max(6.0, font.pointSizeF() * 0.88))
        elif font.pixelSize() > 0:
            small.setPixelSize(max(8, round(font.pixelSize() * 0.88)))
        return small

    def sizeHint(self, option: QStyleOptionViewItem, index: _ModelIndex) -> QSize:
        title = QFontMetrics(option.font)
        small = QFontMetrics(self._small_font(option.font))
        height = 2 * self.PADDING + title.height() + self.LINE_GAP + small.height()
        return QSize(160, height)

    def mark_rect(self, rect: QRect, font: QFont) -> QRectF:
        """Where a row at ``rect`` paints its spinner or unread dot."""
        title_height = QFontMetrics(font).height()
        side = max(10, min(title_height, 16))
        right = rect.right() - self.PADDING - 2
        centre_y = rect.top() + self.PADDING + (title_height - 1) // 2
        return QRectF(right - side + 1, centre_y - side / 2 + 1, side, side)

    def _paint_spinner_only(
        self, painter: QPainter, option: QStyleOptionViewItem, index: _ModelIndex
    ) -> bool:
        """A spinner tick exposes only the spinner: paint that, not the row.

        (A row's full paint asks the model for a dozen roles and lays out two
        lines of text; five live chats ticking at 12 fps made that a few ms
        of every 80.)
        """
        exposed = self.exposed
        if exposed is None:
            return False
        rect: QRect = option.rect
        mark_rect = self.mark_rect(rect, option.font)
        if not mark_rect.contains(QRectF(exposed.intersected(rect).boundingRect())):
            return False
        if not index.data(StreamingRole):
            return False
        widget = option.widget
        qstyle = widget.style() if widget is not None else QApplication.style()
        qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            group = (
                QPalette.ColorGroup.Normal
                if option.state & QStyle.StateFlag.State_Enabled
                else QPalette.ColorGroup.Disabled
            )
            color = palette.color(group, QPalette.ColorRole.HighlightedText)
        else:
            color = style.live_color(palette)
        icons.paint_spinner_frame(painter, mark_rect.adjusted(1, 1, -1, -1), self.phase, color)
        return True

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _ModelIndex) -> None:
        if self._paint_spinner_only(painter, option, index):
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        qstyle = widget.style() if widget is not None else QApplication.style()
        state = opt.state
        palette: QPalette = opt.palette
        rect: QRect = opt.rect
        font: QFont = opt.font

        # Background (selection, hover) as the style draws it, without the text.
        opt.text = ""
        qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)

        session = index.data(SessionRole)
        if not isinstance(session, Session):
            return
        streaming = bool(index.data(StreamingRole))
        group = (
            QPalette.ColorGroup.Normal
            if state & QStyle.StateFlag.State_Enabled
            else QPalette.ColorGroup.Disabled
        )
        selected = bool(state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = palette.color(group, text_role)
        live = text_color if selected else style.live_color(palette)
        mark_rect = self.mark_rect(rect, font)
        background = palette.color(
            group, QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base
        )
        dim = style.blend(text_color, background, 0.42)
        mark = text_color if selected else style.accent(palette)

        painter.save()
        inner = rect.adjusted(self.PADDING + 2, self.PADDING, -self.PADDING - 2, -self.PADDING)
        title_font = QFont(font)
        if session.unread:
            title_font.setBold(True)
        small_font = self._small_font(font)
        title_fm = QFontMetrics(title_font)
        small_fm = QFontMetrics(small_font)
        title_rect = QRect(inner.left(), inner.top(), inner.width(), title_fm.height())
        detail_rect = QRect(
            inner.left(), title_rect.bottom() + 1 + self.LINE_GAP, inner.width(), small_fm.height()
        )

        # Right-hand marks: live spinner or unread dot on the title line,
        # the muted bell on the detail line.
        mark_side = round(mark_rect.width())
        if streaming or session.unread:
            if streaming:
                spinner = mark_rect.adjusted(1, 1, -1, -1)
                icons.paint_spinner_frame(painter, spinner, self.phase, live)
            else:
                icons.paint_dot(painter, mark_rect.center(), mark_side * 0.3, mark)
            title_rect.setRight(title_rect.right() - mark_side - 6)
        if session.muted:
            bell_side = max(9, min(small_fm.height(), 14))
            bell_rect = QRectF(
                detail_rect.right() - bell_side + 1,
                detail_rect.center().y() - bell_side / 2 + 1,
                bell_side,
                bell_side,
            )
            icons.paint_bell(painter, bell_rect, dim, slashed=True)
            detail_rect.setRight(detail_rect.right() - bell_side - 6)

        painter.setFont(title_font)
        painter.setPen(text_color)
        title = title_fm.elidedText(
            session.title or UNTITLED, Qt.TextElideMode.ElideRight, title_rect.width()
        )
        painter.drawText(
            title_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), title
        )

        when = relative_time(session.updated_at, self._clock())
        if streaming:
            detail, detail_color = "Replying…", live
        elif session.unread:
            detail, detail_color = f"New reply · {when}", mark
        else:
            detail, detail_color = when, dim
        painter.setFont(small_font)
        painter.setPen(detail_color)
        painter.drawText(
            detail_rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            small_fm.elidedText(detail, Qt.TextElideMode.ElideRight, detail_rect.width()),
        )
        painter.restore()

        if state & QStyle.StateFlag.State_HasFocus:
            focus = QStyleOptionViewItem(opt)
            focus.rect = rect
            qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, focus, painter, widget)


class ChatListView(QListView):
    """The list of chats; owns the one spinner timer and says which chat was chosen."""

    chat_activated = Signal(int)
    """A chat was clicked or Enter was pressed on it (the session id)."""
    context_menu_requested = Signal(int, QPoint)
    """Right click or the menu key on a chat: (session id, global position)."""
    rename_key_pressed = Signal(int)
    delete_key_pressed = Signal(int)

    FRAME_MS = 80
    SPIN_PERIOD_MS = 1100
    CLOCK_REFRESH_MS = 60_000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source: ChatListModel | None = None
        self._proxy: QSortFilterProxyModel | None = None
        self.empty_text = "No chats yet"
        self.chat_delegate = ChatListDelegate(self)
        self.setItemDelegate(self.chat_delegate)
        self.setUniformItemSizes(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.spinner_timer = QTimer(self)
        self.spinner_timer.setInterval(self.FRAME_MS)
        self.spinner_timer.timeout.connect(self._on_spinner_timer_timeout)
        self._spin_clock = QElapsedTimer()
        self._spin_clock.start()
        # "5 min ago" goes stale; a cheap repaint once a minute keeps it honest.
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(self.CLOCK_REFRESH_MS)
        self._clock_timer.timeout.connect(self.viewport().update)
        self.clicked.connect(self._on_clicked)

    def bind(self, source: ChatListModel, proxy: QSortFilterProxyModel | None = None) -> None:
        """Show ``source`` (through ``proxy`` if given)."""
        self._source = source
        self._proxy = proxy
        self.setModel(proxy if proxy is not None else source)
        source.streaming_changed.connect(self._update_spinner)
        self._update_spinner()

    def session_id_at(self, index: QModelIndex | QPersistentModelIndex) -> int | None:
        value = index.data(IdRole) if index.isValid() else None
        return value if isinstance(value, int) else None

    def spinner_running(self) -> bool:
        return self.spinner_timer.isActive()

    # ---------------------------------------------------------------- spinner
    def _update_spinner(self) -> None:
        should_run = self._source is not None and self._source.has_streaming() and self.isVisible()
        if should_run and not self.spinner_timer.isActive():
            self.spinner_timer.start()
        elif not should_run and self.spinner_timer.isActive():
            self.spinner_timer.stop()

    def _on_spinner_timer_timeout(self) -> None:
        source = self._source
        if source is None:
            return
        elapsed = self._spin_clock.elapsed()
        self.chat_delegate.phase = (elapsed % self.SPIN_PERIOD_MS) / self.SPIN_PERIOD_MS
        for row in source.streaming_rows():
            index = source.index(row, 0)
            if self._proxy is not None:
                index = self._proxy.mapFromSource(index)
            if index.isValid():
                rect = self.chat_delegate.mark_rect(self.visualRect(index), self.font())
                self.viewport().update(rect.toAlignedRect())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._clock_timer.start()
        self._update_spinner()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._clock_timer.stop()
        self._update_spinner()

    # ------------------------------------------------------------------ input
    def _on_clicked(self, index: QModelIndex) -> None:
        session_id = self.session_id_at(index)
        if session_id is not None:
            self.chat_activated.emit(session_id)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        session_id = self.session_id_at(self.currentIndex())
        key = event.key()
        if session_id is not None and event.modifiers() in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.chat_activated.emit(session_id)
                event.accept()
                return
            if key == Qt.Key.Key_F2:
                self.rename_key_pressed.emit(session_id)
                event.accept()
                return
            if key == Qt.Key.Key_Delete:
                self.delete_key_pressed.emit(session_id)
                event.accept()
                return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if event.reason() == QContextMenuEvent.Reason.Keyboard:
            index = self.currentIndex()
            pos = self.visualRect(index).center() if index.isValid() else QPoint(0, 0)
        else:
            pos = event.pos()
            index = self.indexAt(pos)
        session_id = self.session_id_at(index)
        if session_id is None:
            event.ignore()
            return
        event.accept()
        self.context_menu_requested.emit(session_id, self.viewport().mapToGlobal(pos))

    # ---------------------------------------------------------------- painting
    def paintEvent(self, event: QPaintEvent) -> None:
        self.chat_delegate.exposed = event.region()
        try:
            super().paintEvent(event)
        finally:
            self.chat_delegate.exposed = None
        model = self.model()
        if model is not None and model.rowCount() == 0 and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(style.secondary_text(self.palette()))
            area = self.viewport().rect().adjusted(12, 24, -12, -12)
            painter.drawText(
                area,
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                | int(Qt.TextFlag.TextWordWrap),
                self.empty_text,
            )
            painter.end()


class Sidebar(QWidget):
    """Search field, "New chat" button and the chat list; emits what the user asks for.

    Rename and delete confirmations, and muting itself, are the window's job:
    the sidebar only says which chat the user meant.
    """

    chat_activated = Signal(int)
    new_chat_requested = Signal()
    rename_requested = Signal(int)
    delete_requested = Signal(int)
    mute_toggled = Signal(int, bool)
    """(session id, muted): the user asked to mute (True) or unmute (False) a chat."""

    def __init__(
        self, parent: QWidget | None = None, *, model: ChatListModel | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.model = model if model is not None else ChatListModel(self)
        self.proxy = ChatFilterModel(self)
        self.proxy.setSourceModel(self.model)

        self.search = QLineEdit(self)
        self.search.setObjectName("chatSearch")
        self.search.setPlaceholderText("Search chats")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search chats")
        self.search.installEventFilter(self)

        self.new_button = QPushButton(icons.new_chat_icon(), "New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.setToolTip("Start a new chat (Ctrl+N)")

        self.view = ChatListView(self)
        self.view.setObjectName("chatList")
        self.view.setAccessibleName("Chats")
        self.view.bind(self.model, self.proxy)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(6)
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.setMinimumWidth(180)
        self._menu: QMenu | None = None

        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.new_button.clicked.connect(self.new_chat_requested)
        self.view.chat_activated.connect(self.chat_activated)
        self.view.context_menu_requested.connect(self._on_view_context_menu_requested)
        self.view.rename_key_pressed.connect(self.rename_requested)
        self.view.delete_key_pressed.connect(self.delete_requested)
        self.model.modelReset.connect(self._update_empty_text)
        self._update_empty_text()

    # ------------------------------------------------------------------ API
    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def select_chat(self, session_id: int | None) -> None:
        """Highlight the chat on screen (no signal); None clears the highlight."""
        index = QModelIndex()
        if session_id is not None:
            index = self.proxy.mapFromSource(self.model.index_of(session_id))
        selection = self.view.selectionModel()
        if not index.isValid():
            selection.clearSelection()
            return
        selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)

    def context_menu(self, session_id: int) -> QMenu | None:
        """The menu for one chat (Open, Rename…, Mute/Unmute, Delete…); None if unknown."""
        row = self.model.row_of(session_id)
        session = self.model.session_at(row) if row is not None else None
        if session is None:
            return None
        menu = QMenu(self)
        menu.setObjectName("chatContextMenu")
        open_action = menu.addAction("Open")
        open_action.setObjectName("openChat")
        open_action.triggered.connect(lambda: self.chat_activated.emit(session_id))
        menu.setDefaultAction(open_action)
        rename = menu.addAction("Rename…")
        rename.setObjectName("renameChat")
        rename.triggered.connect(lambda: self.rename_requested.emit(session_id))
        mute: QAction
        if session.muted:
            mute = menu.addAction(icons.bell_icon(), "Unmute notifications")
        else:
            mute = menu.addAction(icons.muted_icon(), "Mute notifications")
        mute.setObjectName("toggleMute")
        muted_now = session.muted
        mute.triggered.connect(lambda: self.mute_toggled.emit(session_id, not muted_now))
        menu.addSeparator()
        delete = menu.addAction("Delete…")
        delete.setObjectName("deleteChat")
        delete.triggered.connect(lambda: self.delete_requested.emit(session_id))
        return menu

    # ---------------------------------------------------------------- slots
    def _on_view_context_menu_requested(self, session_id: int, global_pos: QPoint) -> None:
        if self._menu is not None:
            self._menu.deleteLater()
        self._menu = self.context_menu(session_id)
        if self._menu is not None:
            # popup(), not exec(): no nested event loop under qasync.
            self._menu.popup(global_pos)

    def _on_search_text_changed(self, text: str) -> None:
        self.proxy.set_query(text)
        self._update_empty_text()

    def _on_search_return_pressed(self) -> None:
        index = self.view.currentIndex()
        if not index.isValid():
            index = self.proxy.index(0, 0)
        session_id = self.view.session_id_at(index)
        if session_id is not None:
            self.chat_activated.emit(session_id)

    def _update_empty_text(self) -> None:
        query = self.search.text().strip()
        if query:
            self.view.empty_text = f"No chats match “{query}”"
        else:
            self.view.empty_text = "No chats yet.\nStart one with New chat."
        self.view.viewport().update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Down and self.proxy.rowCount() > 0:
                self.view.setFocus(Qt.FocusReason.TabFocusReason)
                if not self.view.currentIndex().isValid():
                    self.view.setCurrentIndex(self.proxy.index(0, 0))
                return True
            if event.key() == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
        return super().eventFilter(watched, event)


__all__ = [
    "ChatFilterModel",
    "ChatListDelegate",
    "ChatListModel",
    "ChatListView",
    "IdRole",
    "MutedRole",
    "SessionRole",
    "Sidebar",
    "StreamingRole",
    "UnreadRole",
    "UpdatedRole",
    "relative_time",
]
