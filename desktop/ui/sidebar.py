"""The chat list at the side of the main window: the list view and the sidebar around it.

The model is in :mod:`desktop.ui.chat_list`, the row painting in
:mod:`desktop.ui.chat_list_delegate`. One QTimer in :class:`ChatListView`
drives the streaming spinners; it runs only while some chat streams and the
list is visible, and each tick repaints only the spinners (the delegate paints
just the spinner when that is all exposed).

Above the list, a :class:`~desktop.ui.chat_scope.ScopeSelector` chooses which
chats it shows: all of them (pinned first), one folder's, or the archived
ones. While words are typed in the search field the list shows the chats of
that scope whose title matches, and below it the messages found in every
chat, archived ones too (:mod:`desktop.ui.search_results`): the sidebar asks
with ``search_requested`` and the window answers with :meth:`Sidebar.show_hits`.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QElapsedTimer,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QHideEvent,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.search import SearchHit
from desktop.ui import icons, style
from desktop.ui.chat_list import ChatFilterModel, ChatListModel, IdRole
from desktop.ui.chat_list_delegate import ChatListDelegate
from desktop.ui.chat_scope import ALL_CHATS, ChatScope, ScopeKind, ScopeSelector, is_menu_key
from desktop.ui.search_results import SearchResultsView


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
        if session_id is not None and is_menu_key(event):
            # Not every platform turns these keys into a context menu event.
            self._request_menu_at_current()
            event.accept()
            return
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

    def _request_menu_at_current(self) -> None:
        index = self.currentIndex()
        session_id = self.session_id_at(index)
        if session_id is not None:
            self.scrollTo(index)
            pos = self.visualRect(index).center()
            self.context_menu_requested.emit(session_id, self.viewport().mapToGlobal(pos))

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
    """Search field, "New chat" button, the scope selector and the chat list;
    emits what the user asks for.

    Rename and delete confirmations, folder names, and muting, pinning,
    archiving themselves are the window's job: the sidebar only says which
    chat (or folder) the user meant.
    """

    chat_activated = Signal(int)
    new_chat_requested = Signal()
    rename_requested = Signal(int)
    delete_requested = Signal(int)
    mute_toggled = Signal(int, bool)
    """(session id, muted): the user asked to mute (True) or unmute (False) a chat."""
    search_requested = Signal(str)
    """The words typed in the search field changed (non-empty): find messages."""
    hit_activated = Signal(int, int, str)
    """(session id, message id, the words): open the chat at that message."""
    pin_toggled = Signal(int, bool)
    """(session id, pinned): pin the chat to the top (True) or unpin it."""
    archive_toggled = Signal(int, bool)
    """(session id, archived): archive the chat (True) or bring it back."""
    folder_chosen = Signal(int, str)
    """(session id, folder): move the chat into that folder ("" out of any)."""
    new_folder_requested = Signal(int)
    """Move the chat into a new folder (the window asks its name)."""
    rename_folder_requested = Signal(str)
    dissolve_folder_requested = Signal(str)
    scope_changed = Signal(object)
    """The list shows another :class:`ChatScope` (chosen by the user or set)."""

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

        self.selector = ScopeSelector(self)
        self.selector.setObjectName("chatScopeSelector")
        self.selector.set_counts(self.model.counts())

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
        layout.addWidget(self.selector)
        layout.addWidget(self.view, 1)
        self.results_label = QLabel("Messages", self)
        self.results_label.setObjectName("searchResultsLabel")
        self.results = SearchResultsView(self)
        layout.addWidget(self.results_label)
        layout.addWidget(self.results, 2)
        self.results_label.hide()
        self.results.hide()
        self.results.installEventFilter(self)
        self.setMinimumWidth(180)
        self._menu: QMenu | None = None

        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.new_button.clicked.connect(self.new_chat_requested)
        self.view.chat_activated.connect(self.chat_activated)
        self.view.context_menu_requested.connect(self._on_view_context_menu_requested)
        self.view.rename_key_pressed.connect(self.rename_requested)
        self.view.delete_key_pressed.connect(self.delete_requested)
        self.results.hit_activated.connect(self._on_results_hit_activated)
        self.model.modelReset.connect(self._update_empty_text)
        self.model.counts_changed.connect(self._on_model_counts_changed)
        self.selector.scope_chosen.connect(self._on_selector_scope_chosen)
        self.selector.rename_folder_requested.connect(self.rename_folder_requested)
        self.selector.dissolve_folder_requested.connect(self.dissolve_folder_requested)
        self._update_empty_text()

    # ------------------------------------------------------------------ API
    @property
    def scope(self) -> ChatScope:
        """Which chats the list shows."""
        return self.proxy.scope()

    def set_scope(self, scope: ChatScope) -> None:
        """Show the chats of ``scope`` (``scope_changed`` says so)."""
        self.selector.set_scope(scope)
        self._apply_scope(scope)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def show_hits(self, query: str, hits: list[SearchHit]) -> None:
        """Show the messages found for ``query`` (ignored if the field moved on)."""
        if query != self.search.text():
            return
        message_hits = [hit for hit in hits if hit.message_id is not None]
        self.results.model_.set_hits(message_hits)
        count = len(message_hits)
        if count:
            self.results_label.setText("Messages" if count < 2 else f"Messages ({count})")
        else:
            self.results_label.setText(f"No messages match “{query.strip()}”")
        self._show_results(True)

    def show_search_error(self, query: str, text: str) -> None:
        """Say why the messages could not be searched."""
        if query != self.search.text():
            return
        self.results.model_.set_hits([])
        self.results_label.setText(f"Could not search messages: {text}")
        self._show_results(True)

    def _show_results(self, shown: bool) -> None:
        self.results_label.setVisible(shown)
        self.results.setVisible(shown)

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
        """The menu for one chat (Open, Rename…, Pin/Unpin, Mute/Unmute, Move
        to folder ▸, Archive/Unarchive, Delete…); None if unknown."""
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
        pinned_now = session.pinned
        pin = menu.addAction("Unpin" if pinned_now else "Pin")
        pin.setObjectName("togglePin")
        pin.triggered.connect(lambda: self.pin_toggled.emit(session_id, not pinned_now))
        mute: QAction
        if session.muted:
            mute = menu.addAction(icons.bell_icon(), "Unmute notifications")
        else:
            mute = menu.addAction(icons.muted_icon(), "Mute notifications")
        mute.setObjectName("toggleMute")
        muted_now = session.muted
        mute.triggered.connect(lambda: self.mute_toggled.emit(session_id, not muted_now))
        folders = QMenu("Move to &folder", menu)
        folders.setObjectName("moveToFolderMenu")
        self.fill_folder_menu(folders, session_id, session.folder)
        menu.addMenu(folders)
        archived_now = session.archived
        archive = menu.addAction("Unarchive" if archived_now else "Archive")
        archive.setObjectName("toggleArchive")
        archive.setToolTip(
            "Back to the list" if archived_now else "Out of the list; still found by search"
        )
        archive.triggered.connect(lambda: self.archive_toggled.emit(session_id, not archived_now))
        menu.addSeparator()
        delete = menu.addAction("Delete…")
        delete.setObjectName("deleteChat")
        delete.triggered.connect(lambda: self.delete_requested.emit(session_id))
        return menu

    def fill_folder_menu(self, menu: QMenu, session_id: int, current: str) -> None:
        """Move to folder ▸ for a chat in folder ``current`` ("" none): the
        folders there are, New folder…, Remove from folder."""
        menu.clear()
        for name in self.model.folders():
            action = menu.addAction(name.replace("&", "&&"))
            action.setCheckable(True)
            action.setChecked(name == current)
            action.setEnabled(name != current)
            action.setData(name)
            action.triggered.connect(
                lambda _checked=False, folder=name: self.folder_chosen.emit(session_id, folder)
            )
        if not menu.isEmpty():
            menu.addSeparator()
        new = menu.addAction("&New folder…")
        new.setObjectName("newFolder")
        new.triggered.connect(lambda: self.new_folder_requested.emit(session_id))
        remove = menu.addAction("&Remove from folder")
        remove.setObjectName("removeFromFolder")
        remove.setEnabled(bool(current))
        remove.triggered.connect(lambda: self.folder_chosen.emit(session_id, ""))

    # ---------------------------------------------------------------- slots
    def _on_selector_scope_chosen(self, scope: ChatScope) -> None:
        self._apply_scope(scope)

    def _on_model_counts_changed(self) -> None:
        self.selector.set_counts(self.model.counts())
        self._update_empty_text()

    def _apply_scope(self, scope: ChatScope) -> None:
        if scope == self.proxy.scope():
            return
        self.proxy.set_scope(scope)
        # In one folder's list, naming the folder on every row says nothing.
        self.view.chat_delegate.show_folders = not scope.is_folder
        self._update_empty_text()
        self.scope_changed.emit(scope)

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
        if text.strip():
            self.search_requested.emit(text)
        else:
            self.results.model_.set_hits([])
            self._show_results(False)

    def _on_search_return_pressed(self) -> None:
        index = self.view.currentIndex()
        if not index.isValid():
            index = self.proxy.index(0, 0)
        session_id = self.view.session_id_at(index)
        if session_id is not None:
            self.chat_activated.emit(session_id)
            return
        first = self.results.model_.hit_at(0)
        if first is not None:
            self._on_results_hit_activated(first)

    def _on_results_hit_activated(self, hit: SearchHit) -> None:
        if hit.message_id is not None:
            self.hit_activated.emit(hit.session_id, hit.message_id, self.search.text())

    def _update_empty_text(self) -> None:
        query = self.search.text().strip()
        scope = self.proxy.scope()
        if query:
            where = "" if scope == ALL_CHATS else f" in {_scope_place(scope)}"
            self.view.empty_text = f"No chats{where} match “{query}”"
        elif scope.kind is ScopeKind.ARCHIVED:
            self.view.empty_text = "No archived chats.\nArchive one from its menu."
        elif scope.is_folder:
            self.view.empty_text = (
                f"No chats in “{scope.folder}”.\nMove one here from its menu (Move to folder)."
            )
        elif self.model.rowCount() > 0:
            self.view.empty_text = "Every chat is archived.\nStart one with New chat."
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
            if event.key() == Qt.Key.Key_Down and self.results.model_.rowCount() > 0:
                self._focus_results()
                return True
            if event.key() == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
        if watched is self.results and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Up and self.results.currentIndex().row() <= 0:
                self.search.setFocus(Qt.FocusReason.OtherFocusReason)
                return True
        return super().eventFilter(watched, event)

    def _focus_results(self) -> None:
        self.results.setFocus(Qt.FocusReason.TabFocusReason)
        if not self.results.currentIndex().isValid():
            self.results.setCurrentIndex(self.results.model_.index(0, 0))


def _scope_place(scope: ChatScope) -> str:
    return f"“{scope.folder}”" if scope.is_folder else "the archive"


__all__ = ["ChatListView", "Sidebar"]
