"""Zoom keys (Ctrl+= / Ctrl++ / Ctrl+- / Ctrl+0) for all chat text, remembered;
and the shortcuts sheet (F1, Ctrl+/), built from the one table the window binds."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services import Services
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.shortcuts_sheet import SHORTCUTS, ShortcutsSheet
from desktop.ui.zoom_steps import MAX_ZOOM, MIN_ZOOM, ZOOM_KEY, valid_zoom, zoom_in, zoom_out

CTRL = Qt.KeyboardModifier.ControlModifier


def test_zoom_steps_stay_in_range() -> None:
    assert zoom_in(1.0) == 1.1 and zoom_out(1.0) == 0.9
    assert zoom_in(MAX_ZOOM) == MAX_ZOOM and zoom_out(MIN_ZOOM) == MIN_ZOOM
    assert zoom_in(1.05) == 1.1 and zoom_out(1.05) == 1.0
    assert valid_zoom("big") == 1.0 and valid_zoom(True) == 1.0 and valid_zoom(9) == MAX_ZOOM


def _keys(window: MainWindow, *, own: bool) -> list[str]:
    """The keys bound in the window: its own (``own``), or also its widgets'."""
    keys = [s.key() for s in window.findChildren(QShortcut) if not own or s.parent() is window]
    for action in window.findChildren(QAction):
        if not own or action.parent() is window:
            keys.extend(action.shortcuts())
    return [k.toString() for k in keys if not k.isEmpty()]


def test_the_sheet_lists_the_table_and_the_table_is_what_the_window_binds(
    window: MainWindow,
) -> None:
    commanded = [QKeySequence(k).toString() for s in SHORTCUTS if s.command for k in s.keys]
    # The window binds each of its keys once, from the table: none missing, none extra.
    assert sorted(_keys(window, own=True)) == sorted(commanded)
    # Its widgets' keys (the chat view's, the message box's) are listed too.
    listed = {QKeySequence(k).toString() for s in SHORTCUTS for k in s.keys}
    assert set(_keys(window, own=False)) <= listed
    sheet = ShortcutsSheet()
    try:
        assert [action for _, action in sheet.rows()] == [s.action for s in SHORTCUTS]
        assert [keys for keys, _ in sheet.rows()] == [s.keys_text() for s in SHORTCUTS]
        actions = dict((a, k) for k, a in sheet.rows())
        assert "Ctrl+=" in actions["Zoom in (all chat text)"]
        assert "F1" in actions["Keyboard shortcuts (this sheet)"]
    finally:
        sheet.deleteLater()


@pytest.mark.parametrize(
    ("key", "modifier"), [(Qt.Key.Key_F1, Qt.KeyboardModifier.NoModifier), (Qt.Key.Key_Slash, CTRL)]
)
def test_f1_and_ctrl_slash_open_the_sheet_and_esc_closes_it(
    qtbot: QtBot, window: MainWindow, key: Qt.Key, modifier: Qt.KeyboardModifier
) -> None:
    qtbot.keyClick(window, key, modifier)
    sheet = window.shortcuts_sheet
    assert sheet is not None
    qtbot.waitUntil(sheet.isVisible, timeout=5000)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is sheet, timeout=5000)
    assert sheet.rows()
    qtbot.keyClick(sheet.table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not sheet.isVisible(), timeout=5000)


def test_zoom_keys_apply_to_every_tab_and_are_remembered(
    qtbot: QtBot, window: MainWindow, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoomed: dict[int, float] = {}

    def set_zoom(tab: ChatTab, factor: float) -> None:
        zoomed[tab.session_id] = factor

    original = ChatTab.set_zoom

    def recording(tab: ChatTab, factor: float) -> None:
        set_zoom(tab, factor)
        original(tab, factor)

    monkeypatch.setattr(ChatTab, "set_zoom", recording)
    first = window.current_tab()
    assert first is not None
    second = window.new_chat()
    assert second is not None

    qtbot.keyClick(window, Qt.Key.Key_Equal, CTRL)
    assert window.zoom == 1.1
    assert zoomed == {first.session_id: 1.1, second.session_id: 1.1}
    qtbot.keyClick(window, Qt.Key.Key_Plus, CTRL)
    assert window.zoom == 1.25
    qtbot.keyClick(window, Qt.Key.Key_Minus, CTRL)
    qtbot.keyClick(window, Qt.Key.Key_Minus, CTRL)
    qtbot.keyClick(window, Qt.Key.Key_Minus, CTRL)
    assert window.zoom == 0.9
    assert zoomed[first.session_id] == 0.9
    assert services.settings.get(ZOOM_KEY) == 0.9

    third = window.new_chat()  # a new tab comes zoomed
    assert third is not None and third.zoom == 0.9
    zoomed[third.session_id] = third.zoom

    again = MainWindow(services.chat, services.settings)  # the next start
    qtbot.addWidget(again)
    again.allow_close = True
    assert again.zoom == 0.9
    fourth = again.open_chat(first.session_id)
    assert fourth is not None and fourth.zoom == 0.9

    qtbot.keyClick(window, Qt.Key.Key_0, CTRL)
    assert window.zoom == 1.0
    assert zoomed == {s: 1.0 for s in (first.session_id, second.session_id, third.session_id)}
    assert services.settings.get(ZOOM_KEY) == 1.0
