"""Order in a long history (issue 17), in the real window on real services and
SQLite: pin, archive (its reply streams on), folders, and the open tabs
restored by a new window on the same store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.services.settings import OPEN_TABS_KEY
from desktop.ui import chat_order
from desktop.ui.chat_list import IdRole
from desktop.ui.chat_scope import ALL_CHATS, ARCHIVED, SCOPE_SETTING, ChatScope
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import NotificationService, RecordingNotifier
from tests.support.aio import run_on_qloop

WAIT = 15_000

WindowFactory = Callable[[], MainWindow]


@pytest.fixture
def open_window(qtbot: QtBot, services: Services) -> Iterator[WindowFactory]:
    """Opens the window as the app builds it (each call a new one, as at a new start)."""

    def make() -> MainWindow:
        win = MainWindow(
            services.chat,
            services.settings,
            demo_only=services.demo_only,
            presets=services.presets,
            imports=services.imports,
            search=services.search,
            attachments=services.attachments,
        )
        qtbot.addWidget(win)
        with qtbot.waitActive(win, timeout=5000):
            win.show()
            win.activateWindow()
        return win

    yield make
    # Replies end while the windows still exist (their listeners touch them).
    run_on_qloop(services.manager.stop_all())


def close(window: MainWindow) -> None:
    """The app quits: the window closes for good."""
    window.allow_close = True
    window.close()


def listed(window: MainWindow) -> list[int]:
    """The chats the sidebar shows, top to bottom."""
    proxy = window.sidebar.proxy
    return [proxy.index(r, 0).data(IdRole) for r in range(proxy.rowCount())]


def menu_action(window: MainWindow, session_id: int, text: str) -> object:
    """An entry of a chat's context menu (``Sub/Entry`` for Move to folder's)."""
    menu = window.sidebar.context_menu(session_id)
    assert menu is not None
    if "/" in text:
        sub_name, text = text.split("/", 1)
        sub = menu.findChild(QMenu, sub_name)
        assert sub is not None
        menu = sub
    found = [a for a in menu.actions() if a.text() == text]
    assert len(found) == 1, [a.text() for a in menu.actions()]
    return found[0]


def trigger(window: MainWindow, session_id: int, text: str) -> None:
    menu_action(window, session_id, text).trigger()  # type: ignore[attr-defined]


def new_chat(window: MainWindow, services: Services, title: str) -> int:
    tab = window.new_chat()
    assert tab is not None
    services.chat.rename_chat(tab.session_id, title)
    window.refresh_chat(tab.session_id)
    return tab.session_id


def send(qtbot: QtBot, tab: ChatTab, text: str) -> None:
    tab.composer.focus_input()
    tab.composer.input.setPlainText(text)
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)


def live_text(services: Services, session_id: int) -> str:
    snapshot = services.manager.snapshot(session_id)
    return snapshot.text if snapshot else ""


# ------------------------------------------------------------------------- pin
def test_pin_moves_a_chat_to_the_top_and_a_new_window_keeps_it_there(
    qtbot: QtBot, open_window: WindowFactory, services: Services
) -> None:
    window = open_window()
    a = new_chat(window, services, "Oldest")
    b = new_chat(window, services, "Middle")
    c = new_chat(window, services, "Newest")
    assert listed(window) == [c, b, a]
    trigger(window, a, "Pin")
    assert listed(window) == [a, c, b]
    session = services.chat.chat(a)
    assert session is not None and session.pinned
    index = window.sidebar.proxy.index(0, 0)
    assert "Pinned" in index.data(Qt.ItemDataRole.AccessibleTextRole)
    # New activity elsewhere stays below the pinned chat.
    d = new_chat(window, services, "Newer still")
    assert listed(window) == [a, d, c, b]
    # The Chat menu's Pin follows the chat shown, and pins it too.
    window.open_chat(b)
    assert not window.action_pin.isChecked()
    window.action_pin.trigger()
    assert listed(window) == [b, a, d, c]  # pinned ones by activity: b is newer than a
    assert window.action_pin.isChecked()
    close(window)

    again = open_window()
    assert listed(again) == [b, a, d, c]
    trigger(again, b, "Unpin")
    assert listed(again) == [a, d, c, b]
    assert [s.id for s in services.chat.chats()] == [a, d, c, b]


# --------------------------------------------------------------------- archive
def test_archive_hides_a_chat_the_archive_lists_it_search_finds_it_unarchive_returns_it(
    qtbot: QtBot, open_window: WindowFactory, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=8)
    window = open_window()
    keep = new_chat(window, services, "Groceries")
    tab = window.new_chat()
    assert tab is not None
    gone = tab.session_id
    send(qtbot, tab, "Tell me about the zanzibar archipelago")
    qtbot.waitUntil(lambda: services.manager.is_live(gone), timeout=WAIT)
    qtbot.waitUntil(lambda: not services.manager.is_live(gone), timeout=WAIT)
    assert listed(window) == [gone, keep]
    selector = window.sidebar.selector
    assert selector.combo.currentText() == "All chats (2)"

    trigger(window, gone, "Archive")
    assert listed(window) == [keep]
    session = services.chat.chat(gone)
    assert session is not None and session.archived
    assert window.tab_for(gone) is tab and window.current_tab() is tab  # still open
    assert "archived" in window.statusBar().currentMessage()
    assert window.action_archive.isChecked()
    assert [selector.combo.itemText(i) for i in (0, selector.combo.count() - 1)] == [
        "All chats (1)",
        "Archived (1)",
    ]

    # The search still finds its messages, the title filter only the list shown.
    window.sidebar.focus_search()
    qtbot.keyClicks(window.sidebar.search, "zanzibar")
    qtbot.waitUntil(lambda: window.sidebar.results.model_.rowCount() > 0, timeout=WAIT)
    hit = window.sidebar.results.model_.hit_at(0)
    assert hit is not None and hit.session_id == gone
    assert listed(window) == []
    window.sidebar.search.clear()

    # The archive lists it, with Unarchive.
    selector.choose(ARCHIVED)
    assert listed(window) == [gone]
    assert window.sidebar.scope == ARCHIVED
    trigger(window, gone, "Unarchive")
    assert listed(window) == []
    assert "No archived chats" in window.sidebar.view.empty_text
    window.show_scope(ALL_CHATS)
    assert listed(window) == [gone, keep]
    session = services.chat.chat(gone)
    assert session is not None and not session.archived
    assert not window.action_archive.isChecked()


def test_a_chat_archived_while_its_reply_streams_streams_to_the_end_and_notifies(
    qtbot: QtBot, open_window: WindowFactory, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=150, tokens=300)
    window = open_window()
    recorder = RecordingNotifier()
    notifications = NotificationService(
        services.manager,
        services.chat,
        services.settings,
        recorder,
        window.visible_session,
        shows_message=window.shows_message,
    )
    tab = window.new_chat()
    assert tab is not None
    session_id = tab.session_id
    send(qtbot, tab, "archived mid-stream")
    qtbot.waitUntil(lambda: services.manager.is_live(session_id), timeout=WAIT)
    qtbot.waitUntil(lambda: len(live_text(services, session_id)) > 20, timeout=WAIT)
    trigger(window, session_id, "Archive")
    assert session_id not in listed(window)
    assert services.manager.is_live(session_id)  # archiving never stops a reply
    assert window.sidebar.model.is_streaming(session_id)
    window.new_chat()  # the archived chat goes off screen: its end is notified
    qtbot.waitUntil(lambda: not services.manager.is_live(session_id), timeout=WAIT)
    reply = [m for m in services.chat.messages(session_id) if m.role is Role.ASSISTANT][-1]
    assert reply.status is MessageStatus.COMPLETE
    assert reply.content == demo_reply("archived mid-stream", 300)
    qtbot.waitUntil(lambda: notifications.pending() == 0, timeout=WAIT)
    assert [sent[2] for sent in recorder.sent] == [session_id]
    # Still archived, out of the list; its tab shows the whole reply.
    session = services.chat.chat(session_id)
    assert session is not None and session.archived
    assert session_id not in listed(window)
    window.open_chat(session_id)
    qtbot.waitUntil(lambda: tab.view.message_text(reply.id) == reply.content, timeout=WAIT)


# --------------------------------------------------------------------- folders
def test_folders_move_filter_new_chats_rename_survive_a_restart_and_dissolve(
    qtbot: QtBot,
    open_window: WindowFactory,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_window()
    a = new_chat(window, services, "Budget")
    b = new_chat(window, services, "Roadmap")
    c = new_chat(window, services, "Holiday")

    # New folder…: an empty name, then one too long, are refused and asked again.
    answers = iter([("   ", True), ("x" * 81, True), ("  Work  ", True)])
    prompts: list[tuple[str, str, str]] = []

    def get_text(parent: object, title: str, label: str, **kw: object) -> tuple[str, bool]:
        prompts.append((title, label, str(kw.get("text", ""))))
        return next(answers)

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    trigger(window, a, "moveToFolderMenu/&New folder…")
    assert [p[0] for p in prompts] == ["New folder"] * 3
    assert prompts[1][1].startswith("A folder needs a name.")
    assert prompts[2][1].startswith("A folder name can be at most 80 characters; this one has 81.")
    assert prompts[2][2] == "x" * 81  # what was typed is kept to be shortened
    assert services.chat.folders() == ["Work"]
    assert "moved to “Work”" in window.statusBar().currentMessage()
    # The folder is offered to the other chats; any case of its name is the same folder.
    trigger(window, b, "moveToFolderMenu/Work")
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("WORK", True))
    trigger(window, c, "moveToFolderMenu/&New folder…")
    assert services.chat.folders() == ["Work"]
    trigger(window, c, "moveToFolderMenu/&Remove from folder")
    session = services.chat.chat(c)
    assert session is not None and session.folder == ""

    # The selector filters; a new chat made while the folder is shown goes in it.
    selector = window.sidebar.selector
    texts = [selector.combo.itemText(i) for i in range(selector.combo.count())]
    assert "Work (2)" in texts and texts[0] == "All chats (3)"
    selector.choose(ChatScope.in_folder("Work"))
    assert listed(window) == [b, a]
    d = window.new_chat()
    assert d is not None
    session = services.chat.chat(d.session_id)
    assert session is not None and session.folder == "Work"
    assert listed(window) == [d.session_id, b, a]
    assert services.settings.get(SCOPE_SETTING) == {"show": "folder", "folder": "Work"}
    # The title filter works within the folder.
    window.sidebar.search.setText("road")
    assert listed(window) == [b]
    window.sidebar.search.clear()

    # Rename from the selector's menu; the folder shown follows.
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Projects", True))
    selector.rename_action.trigger()
    qtbot.waitUntil(lambda: services.chat.folders() == ["Projects"], timeout=WAIT)
    qtbot.waitUntil(lambda: window.sidebar.scope == ChatScope.in_folder("Projects"), timeout=WAIT)
    assert listed(window) == [d.session_id, b, a]
    assert selector.combo.currentText() == "Projects (3)"
    close(window)

    # A new start shows the same folder.
    again = open_window()
    assert again.sidebar.scope == ChatScope.in_folder("Projects")
    assert listed(again) == [d.session_id, b, a]
    assert again.sidebar.selector.combo.currentText() == "Projects (3)"

    # Dissolve, asked first; "No" keeps it.
    asked: list[str] = []

    def answer(parent: object, title: str, text: str, *rest: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(chat_order, "ask", answer)
    again.sidebar.selector.dissolve_action.trigger()
    assert asked and "Its 3 chats stay in All chats" in asked[0]
    assert services.chat.folders() == ["Projects"]
    monkeypatch.setattr(chat_order, "ask", lambda *a: QMessageBox.StandardButton.Yes)
    again.sidebar.selector.dissolve_action.trigger()
    qtbot.waitUntil(lambda: services.chat.folders() == [], timeout=WAIT)
    qtbot.waitUntil(lambda: again.sidebar.scope == ALL_CHATS, timeout=WAIT)
    assert listed(again) == [d.session_id, c, b, a]
    assert all(s.folder == "" for s in services.chat.chats())
    assert "dissolved" in again.statusBar().currentMessage()


def test_renaming_a_folder_to_another_folders_name_merges_them_when_asked(
    qtbot: QtBot,
    open_window: WindowFactory,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_window()
    a = new_chat(window, services, "One")
    b = new_chat(window, services, "Two")
    services.chat.set_folder(a, "Home")
    services.chat.set_folder(b, "Work")
    close(window)
    window = open_window()
    window.show_scope(ChatScope.in_folder("Work"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("home", True))
    asked: list[str] = []

    def answer(parent: object, title: str, text: str, *rest: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(chat_order, "ask", answer)
    window.organizer.rename_folder("Work")
    assert asked == ["There is a folder “Home” already. Move the chats of “Work” into it?"]
    qtbot.waitUntil(lambda: services.chat.folders() == ["Home"], timeout=WAIT)
    qtbot.waitUntil(lambda: window.sidebar.scope == ChatScope.in_folder("Home"), timeout=WAIT)
    assert listed(window) == [b, a]


# ------------------------------------------------------------------------ tabs
def test_open_tabs_their_order_and_the_current_one_come_back_in_a_new_window(
    qtbot: QtBot, open_window: WindowFactory, services: Services
) -> None:
    window = open_window()
    a = new_chat(window, services, "Alpha")
    b = new_chat(window, services, "Beta")
    c = new_chat(window, services, "Gamma")
    d = new_chat(window, services, "Delta")
    for session_id in (a, b, c, d):
        services.store.add_message(session_id, Role.USER, f"hello from {session_id}")
    assert window.tab_session_ids() == [a, b, c, d]
    # The user drags Gamma to the front, closes Delta, and looks at Beta.
    window.tabs.tabBar().moveTab(2, 0)
    assert window.tab_session_ids() == [c, a, b, d]
    window.tabs.tabCloseRequested.emit(3)
    window.open_chat(b)
    assert services.settings.get(OPEN_TABS_KEY) == {"ids": [c, a, b], "current": b}
    close(window)
    # Closed for good: nothing it does while it goes changes what was saved.
    assert services.settings.get(OPEN_TABS_KEY) == {"ids": [c, a, b], "current": b}

    again = open_window()
    assert again.tab_session_ids() == [c, a, b]
    assert [again.tabs.tabText(i) for i in range(3)] == ["Gamma", "Alpha", "Beta"]
    current = again.current_tab()
    assert current is not None and current.session_id == b
    assert again.windowTitle() == "Sidestream — Beta"
    assert again.sidebar.view.currentIndex().data(IdRole) == b
    # Only the tab shown read its transcript; the others come when first shown.
    assert again.tab_for(c) is None and again.tab_for(a) is None
    assert [t.session_id for t in again.open_tabs()] == [b]
    again.tabs.setCurrentIndex(0)
    gamma = again.tab_for(c)
    assert gamma is not None and again.current_tab() is gamma
    assert gamma.view.message_ids() and again.tabs.indexOf(gamma) == 0
    assert again.tab_session_ids() == [c, a, b]  # built in its place
    # Opening a restored tab from the sidebar builds it too, once.
    alpha = again.open_chat(a)
    assert alpha is not None and again.tab_for(a) is alpha and again.tabs.indexOf(alpha) == 1
    assert again.open_chat(a) is alpha and again.tabs.count() == 3
    assert services.settings.get(OPEN_TABS_KEY) == {"ids": [c, a, b], "current": a}
    close(again)

    # A chat deleted meanwhile is skipped without a word; so is its place as current.
    run_on_qloop(services.chat.delete_chat(a))
    third = open_window()
    assert third.tab_session_ids() == [c, b]
    current = third.current_tab()
    assert current is not None and current.session_id == c
    assert third.statusBar().currentMessage() == ""
    assert services.settings.get(OPEN_TABS_KEY) == {"ids": [c, b], "current": c}


def test_a_restored_tab_whose_chat_went_since_start_closes_when_shown(
    qtbot: QtBot, open_window: WindowFactory, services: Services
) -> None:
    window = open_window()
    a = new_chat(window, services, "Stays")
    b = new_chat(window, services, "Goes")
    window.open_chat(a)
    close(window)
    again = open_window()
    assert again.tab_session_ids() == [a, b] and again.tab_for(b) is None
    services.store.delete_session(b)  # behind the window's back (another device, say)
    again.tabs.setCurrentIndex(1)
    assert again.tab_session_ids() == [a]
    current = again.current_tab()
    assert current is not None and current.session_id == a
    assert "no longer exists" in again.statusBar().currentMessage()


def test_no_saved_tabs_and_an_unreadable_setting_start_with_no_tab(
    qtbot: QtBot, open_window: WindowFactory, services: Services
) -> None:
    services.settings.set(OPEN_TABS_KEY, {"ids": "garbage", "current": True})
    window = open_window()
    assert window.tab_session_ids() == [] and window.current_tab() is None
    services.settings.set(OPEN_TABS_KEY, {"ids": [True, -3, "x", 99], "current": 99})
    close(window)
    again = open_window()
    assert again.tab_session_ids() == []  # 99 is no chat
