"""The composer: Enter sends, Shift+Enter newline, Esc stops while streaming, Send/Stop, growth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop.ui.composer import PLACEHOLDER, Composer


def show_active(qtbot: QtBot, widget: QWidget) -> None:
    """Show a top-level widget and wait until it is the active window (keyboard focus works)."""
    with qtbot.waitActive(widget, timeout=5000):
        widget.show()
        widget.activateWindow()


@pytest.fixture
def composer(qtbot: QtBot) -> Iterator[Composer]:
    widget = Composer()
    qtbot.addWidget(widget)
    widget.resize(500, 200)
    show_active(qtbot, widget)
    widget.focus_input()
    yield widget


def test_enter_sends_clears_and_keeps_the_focus(composer: Composer, qtbot: QtBot) -> None:
    assert composer.input.placeholderText() == PLACEHOLDER
    qtbot.keyClicks(composer.input, "Hello there")
    with qtbot.waitSignal(composer.send_requested) as sent:
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert sent.args == ["Hello there"]
    assert composer.text() == ""
    assert composer.input.hasFocus()
    # Keypad Enter sends too.
    qtbot.keyClicks(composer.input, "again")
    with qtbot.waitSignal(composer.send_requested) as sent:
        qtbot.keyClick(composer.input, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert sent.args == ["again"]


def test_undo_brings_back_the_sent_text(composer: Composer, qtbot: QtBot) -> None:
    qtbot.keyClicks(composer.input, "draft")
    qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert composer.text() == ""
    composer.input.undo()
    assert composer.text() == "draft"


def test_shift_enter_inserts_a_newline(composer: Composer, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClicks(composer.input, "line one")
        qtbot.keyClick(composer.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        qtbot.keyClicks(composer.input, "line two")
    assert composer.text() == "line one\nline two"
    with qtbot.waitSignal(composer.send_requested) as sent:
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert sent.args == ["line one\nline two"]


def test_empty_or_whitespace_does_not_send(composer: Composer, qtbot: QtBot) -> None:
    assert not composer.button.isEnabled()
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
        qtbot.keyClicks(composer.input, "   ")
        qtbot.keyClick(composer.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
        composer.button.click()
    assert not composer.button.isEnabled()
    assert composer.text().strip() == ""


def test_surrounding_blank_lines_are_dropped_but_indentation_kept(
    composer: Composer, qtbot: QtBot
) -> None:
    composer.set_text("\n\n    indented code\n  \n")
    with qtbot.waitSignal(composer.send_requested) as sent:
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert sent.args == ["    indented code"]


def test_button_sends_then_reads_stop_while_streaming(composer: Composer, qtbot: QtBot) -> None:
    assert composer.button.text() == "Send"
    qtbot.keyClicks(composer.input, "via button")
    assert composer.button.isEnabled()
    with qtbot.waitSignal(composer.send_requested) as sent:
        qtbot.mouseClick(composer.button, Qt.MouseButton.LeftButton)
    assert sent.args == ["via button"]
    assert composer.input.hasFocus()

    composer.set_streaming(True)
    assert composer.button.text() == "Stop" and composer.button.isEnabled()
    with qtbot.waitSignal(composer.stop_requested):
        qtbot.mouseClick(composer.button, Qt.MouseButton.LeftButton)
    composer.set_streaming(False)
    assert composer.button.text() == "Send"


def test_esc_stops_only_while_streaming(composer: Composer, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(composer.stop_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Escape)
    composer.set_streaming(True)
    with qtbot.waitSignal(composer.stop_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Escape)
    composer.set_streaming(False)
    with qtbot.assertNotEmitted(composer.stop_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Escape)


def test_enter_while_streaming_keeps_the_text(composer: Composer, qtbot: QtBot) -> None:
    composer.set_streaming(True)
    qtbot.keyClicks(composer.input, "next question")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert composer.text() == "next question"
    composer.set_streaming(False)
    with qtbot.waitSignal(composer.send_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)


def test_esc_wins_over_a_window_shortcut_only_while_streaming(qtbot: QtBot) -> None:
    from PySide6.QtGui import QKeySequence, QShortcut

    window = QWidget()
    qtbot.addWidget(window)
    composer = Composer(window)
    fired: list[str] = []
    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
    shortcut.activated.connect(lambda: fired.append("window"))
    composer.stop_requested.connect(lambda: fired.append("composer"))
    show_active(qtbot, window)
    composer.focus_input()
    composer.set_streaming(True)
    qtbot.keyClick(composer.input, Qt.Key.Key_Escape)
    assert fired == ["composer"]


def test_set_text_clear_and_text(composer: Composer) -> None:
    composer.set_text("given back")
    assert composer.text() == "given back"
    assert composer.input.textCursor().position() == len("given back")
    composer.clear()
    assert composer.text() == ""


def test_disabled_with_a_reason(composer: Composer, qtbot: QtBot) -> None:
    composer.set_enabled_reason("Add a provider in Settings to chat.")
    assert not composer.input.isEnabled() and not composer.button.isEnabled()
    assert composer.input.toolTip() == "Add a provider in Settings to chat."
    assert composer.disabled_reason() == "Add a provider in Settings to chat."
    with qtbot.assertNotEmitted(composer.send_requested):
        composer.set_text("hello")
        composer.input.submitted.emit()
    composer.set_enabled_reason(None)
    assert composer.input.isEnabled() and composer.button.isEnabled()
    assert composer.input.toolTip() == ""
    assert composer.input.placeholderText() == PLACEHOLDER


def test_grows_from_one_line_to_max_then_scrolls(composer: Composer, qtbot: QtBot) -> None:
    edit = composer.input
    one_line = edit.height()
    assert edit.visible_lines() == 1
    composer.set_text("a\nb\nc")
    qtbot.waitUntil(lambda: edit.visible_lines() == 3, timeout=2000)
    assert edit.height() > one_line
    composer.set_text("\n".join(str(i) for i in range(30)))
    qtbot.waitUntil(lambda: edit.visible_lines() == Composer.MAX_LINES, timeout=2000)
    assert edit.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAsNeeded
    # A long line wraps and counts as several lines.
    composer.set_text("word " * 200)
    qtbot.waitUntil(lambda: edit.visible_lines() > 1, timeout=2000)
    composer.clear()
    qtbot.waitUntil(lambda: edit.height() == one_line, timeout=2000)


def test_paste_inserts_plain_text(composer: Composer, qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("pasted\ntext")
    composer.input.paste()
    assert composer.text() == "pasted\ntext"
