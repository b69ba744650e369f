"""The main window as a person drives it: shortcuts, rename, delete, model choice, hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from desktop.core.models import ProviderKind
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.streaming.events import Callbacks
from desktop.ui import main_window
from desktop.ui.main_window import MainWindow
from desktop.ui.model_picker import ModelPickerDialog
from tests.support.aio import run_on_qloop

WAIT = 15_000
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def press(qtbot: QtBot, window: MainWindow, key: Qt.Key, modifiers: object = CTRL) -> None:
    """A key as the focused widget gets it (shortcuts are resolved from there)."""
    target = window.focusWidget() or window
    qtbot.keyClick(target, key, modifiers)  # type: ignore[arg-type]


def test_shortcuts_open_switch_and_close_tabs(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    press(qtbot, window, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.tabs.count() == 1, timeout=WAIT)
    first = window.current_tab()
    assert first is not None
    # The composer has the focus in a new chat.
    qtbot.waitUntil(lambda: first.composer.input.hasFocus(), timeout=WAIT)
    press(qtbot, window, Qt.Key.Key_T)
    press(qtbot, window, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: window.tabs.count() == 3, timeout=WAIT)
    assert window.tabs.currentIndex() == 2
    press(qtbot, window, Qt.Key.Key_Tab)
    assert window.tabs.currentIndex() == 0  # wraps around
    press(qtbot, window, Qt.Key.Key_PageDown)
    assert window.tabs.currentIndex() == 1
    press(qtbot, window, Qt.Key.Key_PageUp)
    assert window.tabs.currentIndex() == 0
    press(qtbot, window, Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert window.tabs.currentIndex() == 2
    press(qtbot, window, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: window.tabs.count() == 2, timeout=WAIT)
    press(qtbot, window, Qt.Key.Key_F)
    assert window.sidebar.search.hasFocus()


def test_ctrl_q_asks_to_quit(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.quit_requested, timeout=WAIT):
        press(qtbot, window, Qt.Key.Key_Q)


def test_first_run_on_the_demo_shows_a_hint_to_add_a_provider(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    assert services.demo_only
    assert window._hint is not None and window._hint.isVisible()
    services.settings.add_provider("Local", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:9/v1", "m")
    window._on_settings_providers_changed()
    assert not window._hint.isVisible()


def test_rename_and_delete_a_chat(
    qtbot: QtBot, window: MainWindow, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    tab = window.new_chat()
    assert tab is not None
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("  Trip   plans ", True))
    window.rename_chat(tab.session_id)
    session = services.chat.chat(tab.session_id)
    assert session is not None and session.title == "Trip plans"
    assert window.windowTitle() == "Sidestream — Trip plans"
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "Trip plans"

    asked: list[str] = []

    def answer(parent: object, title: str, text: str, *rest: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(main_window, "ask", answer)
    window.delete_chat(tab.session_id)
    assert asked and "Trip plans" in asked[0]
    assert services.chat.chat(tab.session_id) is not None  # "No" keeps it

    monkeypatch.setattr(main_window, "ask", lambda *a: QMessageBox.StandardButton.Yes)
    window.delete_chat(tab.session_id)
    session_id = tab.session_id
    qtbot.waitUntil(lambda: window.sidebar.model.row_of(session_id) is None, timeout=WAIT)
    assert services.chat.chat(session_id) is None
    assert window.tab_for(session_id) is None


def test_deleting_a_streaming_chat_stops_its_reply_first(
    qtbot: QtBot,
    window: MainWindow,
    services: Services,
    demo: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo.defaults = DemoOptions(rate=50, tokens=2000)
    tab = window.new_chat()
    assert tab is not None
    tab.composer.input.setPlainText("to be deleted")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: services.manager.is_live(tab.session_id), timeout=WAIT)
    asked: list[str] = []

    def answer(parent: object, title: str, text: str, *rest: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(main_window, "ask", answer)
    session_id = tab.session_id
    window.delete_chat(session_id)
    assert "still streaming" in asked[0]
    qtbot.waitUntil(lambda: services.chat.chat(session_id) is None, timeout=WAIT)
    assert not services.manager.is_live(session_id)
    # Waited with the loop running: the socket closes in a loop callback.
    qtbot.waitUntil(lambda: demo.open_connections == 0, timeout=WAIT)


def test_each_chat_can_use_its_own_provider_and_model(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    other, _ = services.settings.add_provider(
        "Demo as Chat Completions", ProviderKind.OPENAI_CHAT, demo.openai_base_url, "chat-model"
    )
    tab = window.new_chat()
    assert tab is not None
    session = services.chat.chat(tab.session_id)
    assert session is not None
    dialog = ModelPickerDialog(services.settings, session, window)
    qtbot.addWidget(dialog)
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(other.id))
    assert dialog.model_combo.currentText() == "chat-model"
    dialog.fetch_button.click()
    qtbot.waitUntil(lambda: dialog.model_combo.count() > 0, timeout=WAIT)
    assert "sidestream-demo" in [
        dialog.model_combo.itemText(i) for i in range(dialog.model_combo.count())
    ]
    dialog.model_combo.setEditText("sidestream-demo-mini")
    provider_id, model = dialog.choice()
    services.chat.set_chat_model(tab.session_id, provider_id, model)
    window.refresh_chat(tab.session_id)
    assert "Demo as Chat Completions · sidestream-demo-mini" in tab._model_label.text()

    before = len(demo.requests)
    tab.composer.input.setPlainText("which dialect?")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: not services.manager.is_live(tab.session_id) and len(demo.requests) > before,
        timeout=WAIT,
    )
    request = [r for r in demo.requests[before:] if r.method == "POST"][-1]
    assert request.path == "/v1/chat/completions"
    assert request.body is not None and request.body["model"] == "sidestream-demo-mini"


def test_a_full_disk_while_streaming_is_shown_and_nothing_is_lost(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=400, tokens=1500)
    refused = Callbacks(store_refused=lambda exc: window.show_store_problem(exc.message))
    services.manager.attach(None, refused)
    tab = window.new_chat()
    assert tab is not None
    tab.composer.input.setPlainText("fill the disk")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: services.manager.is_live(tab.session_id), timeout=WAIT)
    db = services.store._db  # the writer thread's connection is the one that writes

    def fill_disk() -> None:
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
        db.execute_sql(f"PRAGMA max_page_count = {pages}")

    run_on_qloop(services.manager.run_store(fill_disk))
    qtbot.waitUntil(window.store_problem.isVisible, timeout=WAIT)
    assert "disk" in window._store_problem_label.text().lower()
    assert "kept in memory" in window._store_problem_label.text()
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)

    def free_disk() -> None:
        db.execute_sql("PRAGMA max_page_count = 1073741823")

    run_on_qloop(services.manager.run_store(free_disk))
    reply = [m for m in services.chat.messages(tab.session_id) if m.role.value == "assistant"][-1]

    def saved() -> bool:
        message = services.chat.message(reply.id)
        return message is not None and message.content == demo_reply("fill the disk", 1500)

    qtbot.waitUntil(saved, timeout=WAIT)


def test_file_import_brings_a_chatgpt_export_into_the_sidebar_and_opens_it(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    """File → Import chats… (the picker answered with the fixture): the chats
    are listed in the sidebar, the first is opened with its branch shown."""
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
    assert window.importer is not None and window.action_import.isEnabled()
    before = len(services.chat.chats())
    opened: list[list[int]] = []
    window.importer.imported.connect(opened.append)
    window.importer.import_file(fixture / "chatgpt_conversations.json")
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT)
    (ids,) = opened
    assert ids and len(services.chat.chats()) == before + len(ids)
    for session_id in ids:
        assert window.sidebar.model.row_of(session_id) is not None
    tab = window.current_tab()
    assert tab is not None and tab.session_id == ids[0]
    assert tab.view.message_ids() == services.chat.path_ids(ids[0])
