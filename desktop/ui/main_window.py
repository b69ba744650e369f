"""The main window: sidebar of chats, tabs of open chats, shortcuts, the demo hint.

The window decides which chat is *visible* (current tab of a shown, active,
unminimised window); notifications and unread marks ask it.

Pinning, archiving and folders are the :class:`~desktop.ui.chat_order.ChatOrganizer`'s
(the sidebar's menus and the Chat and View menus ask it). The tabs left open,
their order and the current one are saved as they change and restored at the
next start; a restored tab not shown yet is a light placeholder until first
shown, so only the current one reads its transcript at start.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.core.models import Session
from desktop.core.tasks import TaskKeeper
from desktop.services.attachments import AttachmentService
from desktop.services.chat import ChatActionError, ChatService
from desktop.services.chat_presets import PresetService
from desktop.services.imports import ImportService
from desktop.services.search import SearchService
from desktop.services.settings import SavedTabs, SettingsService
from desktop.streaming.events import StreamEnded, StreamListener
from desktop.ui.chat_list import reply_end
from desktop.ui.chat_order import ChatOrganizer
from desktop.ui.chat_scope import ALL_CHATS, ChatScope, ScopeKind
from desktop.ui.chat_settings_dialog import ChatSettingsDialog
from desktop.ui.chat_tab import ChatTab
from desktop.ui.geometry import GEOMETRY_KEY, Rect, clamp_rect
from desktop.ui.icons import app_icon
from desktop.ui.import_dialog import ChatImporter
from desktop.ui.model_picker import ModelPickerDialog
from desktop.ui.plain import ask, plain_label
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.shortcuts_sheet import ShortcutsSheet, shortcut_for
from desktop.ui.sidebar import Sidebar
from desktop.ui.zoom_steps import ZOOM_KEY, valid_zoom, zoom_in, zoom_out

log = logging.getLogger("sidestream.ui")

UNREAD_MARK = "● "


class _LiveFlags(StreamListener):
    """Tells the window when a chat's reply starts or ends, and how it ended
    (the manager says so)."""

    def __init__(
        self, changed: Callable[[int, bool], None], ended: Callable[[StreamEnded], None]
    ) -> None:
        self._changed = changed
        self._ended = ended

    def on_live_changed(self, session_id: int, live: bool) -> None:
        self._changed(session_id, live)

    def on_stream_ended(self, ended: StreamEnded) -> None:
        self._ended(ended)


class _PendingTab(QWidget):
    """A tab restored at start and not shown yet: its chat's tab is built
    (its transcript read and laid out) when it is first shown."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session

    @property
    def session_id(self) -> int:
        return self.session.id


class MainWindow(QMainWindow):
    """Sidebar + tabs; the one window of the app."""

    quit_requested = Signal()
    close_requested = Signal()  # the window's close button: the app decides (tray or quit)
    visibility_changed = Signal()  # which chat is visible may have changed

    def __init__(
        self,
        chat: ChatService,
        settings: SettingsService,
        *,
        demo_only: bool = False,
        presets: PresetService | None = None,
        imports: ImportService | None = None,
        search: SearchService | None = None,
        attachments: AttachmentService | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._chat = chat
        self._attachments = attachments
        self._search = search
        self._settings = settings
        self._presets = presets
        self.importer = ChatImporter(imports, self) if imports is not None else None
        self._tabs_by_session: dict[int, ChatTab] = {}
        self._pending: dict[int, _PendingTab] = {}
        self._tasks = TaskKeeper(log)
        self._unread: set[int] = set()
        self.allow_close = False  # set by the app when it really quits
        # The open tabs are saved as they change; not while they are being
        # restored, nor once the window is closed for good.
        self._restoring = False
        self._closed = False
        self._saved_tabs: SavedTabs | None = None
        self._zoom = valid_zoom(settings.get(ZOOM_KEY, 1.0))
        self.shortcuts_sheet: ShortcutsSheet | None = None

        self.setWindowIcon(app_icon())
        self._restore_geometry()
        self.sidebar = Sidebar(self)
        self.organizer = ChatOrganizer(chat, settings, self.sidebar, self)
        self._live_flags = _LiveFlags(self._on_manager_live_changed, self._on_manager_stream_ended)
        self.tabs = QTabWidget(self)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self._empty = plain_label(
            "No chat open.\nPress Ctrl+N to start one, or pick a chat on the left.", self
        )
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setEnabled(False)

        self._hint = self._build_demo_hint() if demo_only else None
        self.store_problem, self._store_problem_label = self._build_store_problem()
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        right_layout.addWidget(self.store_problem)
        if self._hint is not None:
            right_layout.addWidget(self._hint)
        right_layout.addWidget(self.tabs, 1)
        right_layout.addWidget(self._empty, 1)

        splitter = QSplitter(self)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 920])
        self.setCentralWidget(splitter)
        self._build_menus()
        self._build_shortcuts()
        self._connect_signals()
        # Listed once (10,000 chats on a big store), archived ones too: the
        # archive is a scope of the list, and their tabs are restored.
        sessions = chat.chats(archived=None)
        self.sidebar.model.set_chats(sessions)
        for session_id in chat.manager.live_sessions():
            self.sidebar.model.set_streaming(session_id, True)
        self._unread.update(s.id for s in sessions if s.unread)
        self.organizer.restore_scope()
        self._restore_tabs(sessions)
        self._update_empty_state()
        self._update_title()

    # --------------------------------------------------------------- geometry
    def _restore_geometry(self) -> None:
        """The size and place of the last run (or the default), on a screen
        and fitting it."""
        value = self._settings.get(GEOMETRY_KEY)
        saved = Rect.from_setting(value)
        screen = None
        if saved is not None:
            centre = QPoint(saved.x + saved.width // 2, saved.y + saved.height // 2)
            screen = QGuiApplication.screenAt(centre)
        screen = screen or self.screen() or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        available = Rect(area.x(), area.y(), area.width(), area.height())
        rect = clamp_rect(saved, available)
        self.setGeometry(rect.x, rect.y, rect.width, rect.height)
        if saved is not None and isinstance(value, dict) and value.get("maximized") is True:
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def save_geometry(self) -> None:
        """Remember the window's size and place (its normal ones when maximised)."""
        maximized = self.isMaximized()
        area = self.normalGeometry() if maximized else self.geometry()
        if area.width() <= 0 or area.height() <= 0:
            return
        value: dict[str, object] = dict(
            Rect(area.x(), area.y(), area.width(), area.height()).to_setting()
        )
        value["maximized"] = maximized
        try:
            self._settings.set(GEOMETRY_KEY, value)
        except Exception as exc:  # a convenience: the window works all the same
            log.warning("could not save the window's size and place: %s", exc)

    # ------------------------------------------------------------------ build
    def _build_demo_hint(self) -> QWidget:
        hint = QWidget(self)
        hint.setObjectName("demoHint")
        layout = QHBoxLayout(hint)
        layout.setContentsMargins(12, 6, 12, 6)
        label = plain_label(
            "You are on the built-in demo provider: replies are scripted. "
            "Add OpenAI, Anthropic, Ollama or any OpenAI-compatible server "
            "to chat with a real model.",
            hint,
        )
        label.setWordWrap(True)
        button = QPushButton("Add a provider…", hint)
        button.clicked.connect(self.open_settings)
        layout.addWidget(label, 1)
        layout.addWidget(button)
        hint.setAutoFillBackground(True)
        hint.setStyleSheet("#demoHint { background: palette(alternate-base); }")
        return hint

    def _build_store_problem(self) -> tuple[QWidget, QLabel]:
        """A banner that stays until dismissed: saving failed, the text is safe in memory."""
        banner = QWidget(self)
        banner.setObjectName("storeProblem")
        layout = QHBoxLayout(banner)
        layout.setContentsMargins(12, 6, 12, 6)
        label = plain_label(parent=banner)
        label.setWordWrap(True)
        dismiss = QPushButton("Dismiss", banner)
        dismiss.clicked.connect(banner.hide)
        layout.addWidget(label, 1)
        layout.addWidget(dismiss)
        banner.setAutoFillBackground(True)
        banner.setStyleSheet("#storeProblem { background: #fde2e1; color: #5a1a16; }")
        banner.hide()
        return banner, label

    def show_store_problem(self, message: str) -> None:
        """Saving failed: say so plainly, and that nothing already saved is lost."""
        self._store_problem_label.setText(
            f"Sidestream could not save: {message} Replies keep streaming and their text "
            "is kept in memory; it is written as soon as saving works again."
        )
        self.store_problem.show()
        self.show_error(f"Could not save: {message}")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.action_new = self._action(file_menu, "&New chat", "new_chat", self.new_chat)
        self.action_import = self._action(file_menu, "&Import chats…", None, self._import)
        self.action_import.setEnabled(self.importer is not None)
        self._action(file_menu, "&Settings…", "settings", self.open_settings)
        file_menu.addSeparator()
        self.action_quit = self._action(file_menu, "&Quit", "quit", self.quit_requested.emit)
        chat_menu = bar.addMenu("&Chat")
        self._action(chat_menu, "&Stop reply", None, self.stop_current)
        self._action(chat_menu, "&Rename…", "rename", self._rename_current)
        self._action(chat_menu, "Change &model…", None, self._change_model_current)
        self.action_chat_settings = self._action(
            chat_menu, "Chat s&ettings…", "chat_settings", self._chat_settings_current
        )
        self.action_chat_settings.setEnabled(self._presets is not None)
        self.action_mute = self._action(chat_menu, "&Mute notifications", None, self._toggle_mute)
        self.action_mute.setCheckable(True)
        chat_menu.addSeparator()
        self.action_pin = self._action(chat_menu, "&Pin chat", None, self._toggle_pin)
        self.action_pin.setCheckable(True)
        self.folder_menu = QMenu("Move to &folder", self)
        self.folder_menu.setObjectName("chatFolderMenu")
        chat_menu.addMenu(self.folder_menu)
        self.action_archive = self._action(chat_menu, "&Archive chat", None, self._toggle_archive)
        self.action_archive.setCheckable(True)
        chat_menu.addSeparator()
        self._action(chat_menu, "&Close tab", "close_tab", self.close_current_tab)
        self._action(chat_menu, "&Delete chat…", None, self._delete_current)
        # View: which chats the list shows, and the folder shown's actions.
        self.view_menu = bar.addMenu("&View")
        self.view_menu.setObjectName("viewMenu")
        self.organizer.fill_view_menu(self.view_menu)
        help_menu = bar.addMenu("&Help")
        self.action_shortcuts = self._action(
            help_menu, "&Keyboard shortcuts", "shortcuts", self.open_shortcuts
        )

    def _action(self, menu: Any, text: str, command: str | None, slot: Any) -> QAction:
        """A menu's action; ``command`` names its keys in the shortcuts table."""
        action = QAction(text, self)
        if command:
            action.setShortcuts([QKeySequence(k) for k in shortcut_for(command).keys])
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_shortcuts(self) -> None:
        """The window's keys that no menu carries, bound from the shortcuts
        table (the sheet lists the same rows). Each key is bound once: Qt
        fires neither of two bindings of one key (X11 sends Shift+Tab as
        Backtab with Shift, which Qt matches to "Ctrl+Shift+Tab": a second
        "Ctrl+Backtab" made the key ambiguous)."""
        commands: dict[str, Callable[[], object]] = {
            "next_tab": lambda: self._cycle_tab(1),
            "previous_tab": lambda: self._cycle_tab(-1),
            "search": self.sidebar.focus_search,
            "find": self.find_in_chat,
            "find_next": lambda: self.find_step(1),
            "find_previous": lambda: self.find_step(-1),
            "stop": self.stop_current,
            "retry": self.retry_current,
            "zoom_in": self.zoom_in,
            "zoom_out": self.zoom_out,
            "zoom_reset": lambda: self.set_zoom(1.0),
        }
        for command, slot in commands.items():
            for keys in shortcut_for(command).keys:
                shortcut = QShortcut(QKeySequence(keys), self)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(slot)

    def open_shortcuts(self) -> ShortcutsSheet:
        """F1 / Ctrl+/: the sheet of every shortcut (Esc closes it)."""
        sheet = self.shortcuts_sheet
        if sheet is None:
            sheet = ShortcutsSheet(self)
            self.shortcuts_sheet = sheet
        sheet.show()
        sheet.raise_()
        sheet.activateWindow()
        return sheet

    # -------------------------------------------------------------------- zoom
    @property
    def zoom(self) -> float:
        return self._zoom

    def zoom_in(self) -> None:
        self.set_zoom(zoom_in(self._zoom))

    def zoom_out(self) -> None:
        self.set_zoom(zoom_out(self._zoom))

    def set_zoom(self, factor: float) -> None:
        """All chat text at ``factor`` (every open tab, and new ones); remembered."""
        factor = valid_zoom(factor)
        if factor != self._zoom:
            self._zoom = factor
            try:
                self._settings.set(ZOOM_KEY, factor)
            except Exception as exc:  # a convenience: the zoom works all the same
                log.warning("could not save the zoom: %s", exc)
            for tab in self.open_tabs():
                tab.set_zoom(factor)
        self.show_status(f"Zoom {round(factor * 100)}%")

    def _fill_folder_menu(self) -> None:
        tab = self.current_tab()
        session = self._chat.chat(tab.session_id) if tab else None
        if session is None:
            self.folder_menu.clear()
            none = self.folder_menu.addAction("Open a chat first")
            none.setEnabled(False)
            return
        self.sidebar.fill_folder_menu(self.folder_menu, session.id, session.folder)

    def _connect_signals(self) -> None:
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.tabs.tabBar().tabMoved.connect(self._on_tab_bar_tab_moved)
        self.view_menu.aboutToShow.connect(self._on_view_menu_about_to_show)
        self.folder_menu.aboutToShow.connect(self._fill_folder_menu)
        organizer = self.organizer
        organizer.chat_changed.connect(self.refresh_chat)
        organizer.folder_renamed.connect(self._on_organizer_folder_renamed)
        organizer.status.connect(self.show_status)
        organizer.error.connect(self.show_error)
        if self.importer is not None:
            self.importer.imported.connect(self._on_importer_imported)
        self.tabs.tabCloseRequested.connect(self._on_tabs_close_requested)
        self.sidebar.chat_activated.connect(self.open_chat)
        self.sidebar.new_chat_requested.connect(self.new_chat)
        self.sidebar.rename_requested.connect(self.rename_chat)
        self.sidebar.delete_requested.connect(self.delete_chat)
        self.sidebar.mute_toggled.connect(self.set_muted)
        self.sidebar.search_requested.connect(self._on_sidebar_search_requested)
        self.sidebar.hit_activated.connect(self.open_hit)
        self.sidebar.pin_toggled.connect(organizer.set_pinned)
        self.sidebar.archive_toggled.connect(organizer.set_archived)
        self.sidebar.folder_chosen.connect(organizer.set_folder)
        self.sidebar.new_folder_requested.connect(organizer.move_to_new_folder)
        self.sidebar.rename_folder_requested.connect(organizer.rename_folder)
        self.sidebar.dissolve_folder_requested.connect(organizer.dissolve_folder)
        self.sidebar.scope_changed.connect(organizer.save_scope)
        # The sidebar's spinners follow the manager, and nothing else.
        manager, listener = self._chat.manager, self._live_flags
        manager.attach(None, listener)
        self.destroyed.connect(lambda: manager.detach(None, listener))

    # ----------------------------------------------------------------- queries
    def current_tab(self) -> ChatTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, ChatTab) else None

    def tab_for(self, session_id: int) -> ChatTab | None:
        """The chat's tab, if it is open and has been shown (a tab restored at
        start and never shown yet has no view: None)."""
        return self._tabs_by_session.get(session_id)

    def open_tabs(self) -> list[ChatTab]:
        """The tabs built so far, in the tabs' order (restored tabs never shown are not)."""
        tabs = [self.tabs.widget(i) for i in range(self.tabs.count())]
        return [t for t in tabs if isinstance(t, ChatTab)]

    def tab_session_ids(self) -> list[int]:
        """The chats open in tabs, in the tabs' order (restored ones not shown yet too)."""
        return [page.session_id for page in self._pages()]

    def visible_session(self) -> int | None:
        """The chat the user is looking at now, or None if none is."""
        if not self.isVisible() or self.isMinimized() or not self.isActiveWindow():
            return None
        tab = self.current_tab()
        return tab.session_id if tab else None

    def shows_message(self, session_id: int, message_id: int) -> bool:
        """Whether the chat's tab shows that message (its branch is the one
        shown); a chat with no tab shows none."""
        tab = self.tab_for(session_id)
        return tab is not None and tab.shows(message_id)

    def is_unread(self, session_id: int) -> bool:
        return session_id in self._unread

    def unread_count(self) -> int:
        return len(self._unread)

    # ----------------------------------------------------------------- actions
    def new_chat(self) -> ChatTab | None:
        """A new chat, opened; made while a folder is shown, it goes in that folder."""
        try:
            session = self._chat.create_chat()
        except Exception as exc:
            self.show_error(f"Could not create a chat: {exc}")
            return None
        scope = self.sidebar.scope
        if scope.is_folder:
            try:
                self._chat.set_folder(session.id, scope.folder)
            except Exception as exc:
                self.show_error(f"The new chat could not go into “{scope.folder}”: {exc}")
            else:
                session = dataclasses.replace(session, folder=scope.folder)
        elif scope.kind is ScopeKind.ARCHIVED:
            self.sidebar.set_scope(ALL_CHATS)  # a new chat is not archived: show where it is
        self.sidebar.model.upsert(session)
        return self.open_chat(session.id)

    def open_chat(self, session_id: int) -> ChatTab | None:
        tab = self._tabs_by_session.get(session_id)
        if tab is None and session_id in self._pending:
            # Restored at start, shown now: showing it builds it.
            self.tabs.setCurrentWidget(self._pending[session_id])
            tab = self._tabs_by_session.get(session_id)
            if tab is None:
                return None  # its chat is gone; the window said so
        if tab is None:
            session = self._chat.chat(session_id)
            if session is None:
                self.show_error("This chat no longer exists.")
                return None
            tab = self._build_tab(session)
            index = self.tabs.addTab(tab, self._tab_text(session))
            self.tabs.setTabToolTip(index, session.title)
        self.tabs.setCurrentWidget(tab)
        self._update_empty_state()
        tab.composer.focus_input()
        self._save_tabs()
        return tab

    def show_scope(self, scope: ChatScope) -> None:
        """Have the chat list show ``scope`` (all chats, a folder's, the archived)."""
        self.sidebar.set_scope(scope)

    def open_hit(self, session_id: int, message_id: int, query: str) -> ChatTab | None:
        """Open a chat at a message found by search, its matches highlighted
        (F3 / Shift+F3 go through them; the find bar shows the words)."""
        tab = self.open_chat(session_id)
        if tab is None:
            return None
        if message_id not in tab.view.message_ids():
            self.show_error(
                "That message is on another version of the chat; its matches in the"
                " version shown are highlighted."
            )
        tab.view.highlight_matches(message_id, query)
        return tab

    def find_in_chat(self) -> None:
        """Ctrl+Shift+F: the find bar of the chat shown."""
        tab = self.current_tab()
        if tab is not None:
            tab.view.open_find_bar()

    def find_step(self, step: int) -> None:
        """F3 / Shift+F3: the next or previous match in the chat shown (the
        find bar opens when nothing is being found yet)."""
        tab = self.current_tab()
        if tab is None:
            return
        if tab.view.find_status[1] == 0 and not tab.view.find_bar.query().strip():
            tab.view.open_find_bar()
            return
        tab.view.find_step(step)

    def _on_sidebar_search_requested(self, query: str) -> None:
        if self._search is None:
            return
        try:
            hits = self._search.search(query)
        except Exception as exc:
            log.warning("search for %r failed: %s", query, exc)
            self.sidebar.show_search_error(query, str(exc))
            return
        self.sidebar.show_hits(query, hits)

    def close_current_tab(self) -> None:
        index = self.tabs.currentIndex()
        if index >= 0:
            self._on_tabs_close_requested(index)

    def stop_current(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.stop()

    def retry_current(self) -> None:
        """Regenerate the newest reply of the chat on screen."""
        tab = self.current_tab()
        if tab is not None:
            tab.retry_newest()

    def rename_chat(self, session_id: int) -> None:
        session = self._chat.chat(session_id)
        if session is None:
            return
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=session.title)
        if not ok:
            return
        try:
            self._chat.rename_chat(session_id, title)
        except ChatActionError as exc:
            self.show_error(str(exc))
            return
        self.refresh_chat(session_id)

    def delete_chat(self, session_id: int) -> None:
        session = self._chat.chat(session_id)
        if session is None:
            return
        live = self._chat.manager.is_live(session_id)
        text = f"Delete “{session.title}” and all its messages? This cannot be undone."
        if live:
            text += "\n\nIts reply is still streaming and will be stopped."
        answer = ask(self, "Delete chat", text)  # the title is the user's (or a model's) text
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._tasks.spawn(self._delete(session_id))

    async def _delete(self, session_id: int) -> None:
        page = self._page(session_id)
        if page is not None:
            self._remove_page(page)
        await self._chat.delete_chat(session_id)
        self._unread.discard(session_id)
        self.sidebar.model.remove(session_id)

    def set_muted(self, session_id: int, muted: bool) -> None:
        self._chat.set_muted(session_id, muted)
        self.sidebar.model.set_muted(session_id, muted)
        self._update_chat_actions()

    def change_model(self, session_id: int) -> None:
        session = self._chat.chat(session_id)
        if session is None:
            return
        dialog = ModelPickerDialog(self._settings, session, self)
        if dialog.exec():
            provider_id, model = dialog.choice()
            self._chat.set_chat_model(session_id, provider_id, model)
            self.refresh_chat(session_id)

    def _import(self) -> None:
        if self.importer is not None:
            self.importer.choose_and_import()

    def _on_importer_imported(self, session_ids: list[int]) -> None:
        """Chats came in from a file: the sidebar lists them, the first is opened."""
        self.sidebar.model.set_chats(self._chat.chats(archived=None))
        if session_ids:
            self.open_chat(session_ids[0])

    def open_chat_settings(self, session_id: int) -> None:
        """A chat's own system prompt and parameters (and presets to start from)."""
        if self._presets is None:
            return
        dialog = ChatSettingsDialog(self._chat, self._presets, session_id, self)
        dialog.settings_changed.connect(self.refresh_chat)
        dialog.exec()
        dialog.deleteLater()

    def _chat_settings_current(self) -> None:
        tab = self.current_tab()
        if tab is None:
            self.show_error("Open a chat first: its settings are its own.")
            return
        self.open_chat_settings(tab.session_id)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self._settings, self, presets=self._presets)
        dialog.providers_changed.connect(self._on_settings_providers_changed)
        dialog.exec()
        dialog.deleteLater()

    def _on_settings_providers_changed(self) -> None:
        for tab in self.open_tabs():
            tab.refresh_header()
        if self._hint is not None and not all(p.is_demo for p in self._settings.providers()):
            self._hint.hide()

    def refresh_chat(self, session_id: int) -> None:
        session = self._chat.chat(session_id)
        if session is None:
            return
        self.sidebar.model.upsert(session)
        page = self._page(session_id)
        if isinstance(page, ChatTab):
            page.set_session(session)
        elif page is not None:
            page.session = session
        if page is not None:
            index = self.tabs.indexOf(page)
            self.tabs.setTabText(index, self._tab_text(session))
            self.tabs.setTabToolTip(index, session.title)
        self._update_title()
        self._update_chat_actions()

    def mark_unread(self, session_id: int, unread: bool) -> None:
        """A reply finished unseen (True) or the chat was viewed (False)."""
        if unread == (session_id in self._unread):
            return
        if unread:
            self._unread.add(session_id)
        else:
            self._unread.discard(session_id)
        self._chat.set_unread(session_id, unread)
        self.sidebar.model.set_unread(session_id, unread)
        page = self._page(session_id)
        session = self._chat.chat(session_id)
        if page is not None and session is not None:
            self.tabs.setTabText(self.tabs.indexOf(page), self._tab_text(session))
        self.visibility_changed.emit()

    def show_error(self, text: str) -> None:
        log.warning("shown to the user: %s", text)
        self.statusBar().showMessage(text, 10_000)

    def show_status(self, text: str) -> None:
        """Say what an action did (not an error)."""
        self.statusBar().showMessage(text, 8_000)

    def show_and_raise(self, session_id: int | None = None) -> None:
        """Bring the window to the front, on a chat if given (a notification click)."""
        if session_id is not None:
            self.open_chat(session_id)
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
        self._on_visibility_maybe_changed()

    # ------------------------------------------------------------------- slots
    def _on_tabs_current_changed(self, index: int) -> None:
        if self._restoring or self._closed:
            return
        pending = self.tabs.widget(index)
        if isinstance(pending, _PendingTab) and self._build_pending(pending) is None:
            return  # its chat is gone: the tab went, and the next one is current
        current = self.current_tab()
        for tab in self.open_tabs():
            if tab is not current:
                tab.deactivate()
        if current is not None:
            current.activate()
        self.sidebar.select_chat(current.session_id if current else None)
        self._update_title()
        self._update_chat_actions()
        self._on_visibility_maybe_changed()
        self._save_tabs()

    def _on_tabs_close_requested(self, index: int) -> None:
        page = self.tabs.widget(index)
        if isinstance(page, ChatTab | _PendingTab):
            self._remove_page(page)

    def _on_tab_bar_tab_moved(self, _from: int, _to: int) -> None:
        self._save_tabs()

    def _on_view_menu_about_to_show(self) -> None:
        self.organizer.fill_view_menu(self.view_menu)

    def _on_organizer_folder_renamed(self, old: str, new: str) -> None:
        for page in self._pages():
            if page.session.folder != old:
                continue
            session = dataclasses.replace(page.session, folder=new)
            if isinstance(page, ChatTab):
                page.set_session(session)
            else:
                page.session = session

    def _on_manager_live_changed(self, session_id: int, live: bool) -> None:
        self.sidebar.model.set_streaming(session_id, live)
        if live:
            self.sidebar.model.set_reply_end(session_id, None)  # a new reply: the old end is past
        session = self._chat.chat(session_id)
        if session is not None:
            self.sidebar.model.upsert(session)  # a reply moves its chat up

    def _on_manager_stream_ended(self, ended: StreamEnded) -> None:
        """A reply cut short or failed marks its chat in the list (apart from
        "New reply"); one that completed clears the mark."""
        self.sidebar.model.set_reply_end(ended.session_id, reply_end(ended.status, ended.reason))

    # --------------------------------------------------------------- internals
    def _page(self, session_id: int) -> ChatTab | _PendingTab | None:
        """The chat's tab page: its tab, or the placeholder of a restored one."""
        tab = self._tabs_by_session.get(session_id)
        return tab if tab is not None else self._pending.get(session_id)

    def _pages(self) -> list[ChatTab | _PendingTab]:
        pages = [self.tabs.widget(i) for i in range(self.tabs.count())]
        return [p for p in pages if isinstance(p, ChatTab | _PendingTab)]

    def _build_tab(self, session: Session) -> ChatTab:
        tab = ChatTab(
            self._chat, session, self.tabs, attachments=self._attachments, zoom=self._zoom
        )
        tab.error_raised.connect(self.show_error)
        tab.model_change_requested.connect(self.change_model)
        tab.chat_changed.connect(self.refresh_chat)
        self._tabs_by_session[session.id] = tab
        # A page of a tab widget is sized only while it is current. Size it
        # now: its view lays text out at its width even when the tab is
        # left at once, and is not laid out again on its return.
        stack = self.tabs.findChild(QStackedWidget)
        if stack is not None:
            tab.setGeometry(stack.contentsRect())
        return tab

    def _build_pending(self, pending: _PendingTab) -> ChatTab | None:
        """Put the chat's tab in place of a restored placeholder, at its index;
        None (and the placeholder gone) if its chat no longer exists."""
        session = self._chat.chat(pending.session_id)
        if session is None:
            self.show_error(f"“{pending.session.title}” no longer exists; its tab is closed.")
            self._remove_page(pending)
            return None
        tab = self._build_tab(session)
        del self._pending[session.id]
        index = self.tabs.indexOf(pending)
        current = self.tabs.currentIndex() == index
        # Swapped without a word: the tab widget would say "current changed"
        # for the tabs beside it as one goes out and the other comes in.
        self.tabs.blockSignals(True)
        try:
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, tab, self._tab_text(session))
            self.tabs.setTabToolTip(index, session.title)
            if current:
                self.tabs.setCurrentIndex(index)
        finally:
            self.tabs.blockSignals(False)
        pending.deleteLater()
        return tab

    def _remove_page(self, page: ChatTab | _PendingTab) -> None:
        if isinstance(page, ChatTab):
            page.close_tab()  # detaches; the reply goes on
            self._tabs_by_session.pop(page.session_id, None)
        else:
            self._pending.pop(page.session_id, None)
        self.tabs.removeTab(self.tabs.indexOf(page))
        page.deleteLater()
        self._update_empty_state()
        self._save_tabs()

    def _restore_tabs(self, sessions: list[Session]) -> None:
        """The tabs open at the last run, in their order, the same one current.
        Chats deleted since are left out; only the current tab is built now."""
        saved = self._settings.saved_tabs()
        if not saved.ids:
            return
        known = {s.id: s for s in sessions}
        self._restoring = True
        try:
            for session_id in saved.ids:
                session = known.get(session_id)
                if session is None:
                    continue
                pending = _PendingTab(session, self.tabs)
                self._pending[session_id] = pending
                index = self.tabs.addTab(pending, self._tab_text(session))
                self.tabs.setTabToolTip(index, session.title)
            current = self._pending.get(saved.current) if saved.current is not None else None
            if current is not None:
                self.tabs.setCurrentWidget(current)
        finally:
            self._restoring = False
        if self.tabs.count():
            self._on_tabs_current_changed(self.tabs.currentIndex())

    def _save_tabs(self) -> None:
        """Remember the open tabs, their order and the current one (as they change)."""
        if self._restoring or self._closed:
            return
        current = self.tabs.currentWidget()
        tabs = SavedTabs(
            tuple(self.tab_session_ids()),
            current.session_id if isinstance(current, ChatTab | _PendingTab) else None,
        )
        if tabs == self._saved_tabs:
            return
        try:
            self._settings.save_tabs(tabs)
        except Exception as exc:  # a convenience: the tabs work all the same
            log.warning("could not save the open tabs: %s", exc)
            return
        self._saved_tabs = tabs

    def _cycle_tab(self, step: int) -> None:
        count = self.tabs.count()
        if count > 1:
            self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % count)

    def _rename_current(self) -> None:
        if (tab := self.current_tab()) is not None:
            self.rename_chat(tab.session_id)

    def _delete_current(self) -> None:
        if (tab := self.current_tab()) is not None:
            self.delete_chat(tab.session_id)

    def _change_model_current(self) -> None:
        if (tab := self.current_tab()) is not None:
            self.change_model(tab.session_id)

    def _toggle_mute(self, checked: bool) -> None:
        if (tab := self.current_tab()) is not None:
            self.set_muted(tab.session_id, checked)

    def _toggle_pin(self, checked: bool) -> None:
        if (tab := self.current_tab()) is not None:
            self.organizer.set_pinned(tab.session_id, checked)

    def _toggle_archive(self, checked: bool) -> None:
        if (tab := self.current_tab()) is not None:
            self.organizer.set_archived(tab.session_id, checked)

    def _update_chat_actions(self) -> None:
        """The Chat menu's checks follow the chat shown."""
        tab = self.current_tab()
        session = self._chat.chat(tab.session_id) if tab else None
        for action, checked in (
            (self.action_mute, bool(session and session.muted)),
            (self.action_pin, bool(session and session.pinned)),
            (self.action_archive, bool(session and session.archived)),
        ):
            action.setEnabled(session is not None)
            action.setChecked(checked)
        self.folder_menu.setEnabled(session is not None)

    def _update_empty_state(self) -> None:
        has_tabs = self.tabs.count() > 0
        self.tabs.setVisible(has_tabs)
        self._empty.setVisible(not has_tabs)
        if not has_tabs:
            self._update_title()

    def _update_title(self) -> None:
        tab = self.current_tab()
        session: Session | None = self._chat.chat(tab.session_id) if tab else None
        self.setWindowTitle(f"{APP_NAME} — {session.title}" if session else APP_NAME)

    def _tab_text(self, session: Session) -> str:
        title = session.title if len(session.title) <= 28 else session.title[:27] + "…"
        return (UNREAD_MARK if session.id in self._unread else "") + title

    def _on_visibility_maybe_changed(self) -> None:
        visible = self.visible_session()
        if visible is not None and visible in self._unread:
            self.mark_unread(visible, False)
        self.visibility_changed.emit()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.ActivationChange, QEvent.Type.WindowStateChange):
            self._on_visibility_maybe_changed()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:
            # Closed for good (the app quits): the tabs stay as last saved.
            self._closed = True
            event.accept()
            return
        event.ignore()
        self.save_geometry()
        self.close_requested.emit()
