"""The composer: Enter sends, Shift+Enter newline, Esc stops while streaming, Send/Stop,
growth; edit mode (issue 16): Resend, Esc cancels, the draft comes back; Up to edit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop.ui.composer import EDIT_BAR_TEXT, EDIT_PLACEHOLDER, PLACEHOLDER, Composer


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


# ---------------------------------------------------------------- edit mode


def test_begin_edit_then_enter_sends_the_edit_and_gives_the_draft_back(
    composer: Composer, qtbot: QtBot
) -> None:
    qtbot.keyClicks(composer.input, "half a thought")
    assert composer.editing is None and composer.edit_bar.isHidden()
    composer.begin_edit(7, "What is 2+2?")
    assert composer.editing == 7
    assert composer.edit_bar.isVisible()
    assert composer.edit_label.text() == EDIT_BAR_TEXT
    assert composer.edit_label.textFormat() == Qt.TextFormat.PlainText
    assert composer.text() == "What is 2+2?"
    assert composer.input.textCursor().position() == len("What is 2+2?")
    assert composer.input.hasFocus()
    assert composer.button.text() == "Resend" and composer.button.isEnabled()
    qtbot.keyClick(composer.input, Qt.Key.Key_Backspace)
    qtbot.keyClicks(composer.input, " exactly?")
    with (
        qtbot.assertNotEmitted(composer.send_requested),
        qtbot.waitSignal(composer.edit_submitted) as sent,
    ):
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert sent.args == [7, "What is 2+2 exactly?", ()]
    assert composer.editing is None and composer.edit_bar.isHidden()
    assert composer.text() == "half a thought"
    assert composer.button.text() == "Send"
    assert composer.input.placeholderText() == PLACEHOLDER


def test_esc_and_cancel_drop_the_edit_and_restore_the_draft(
    composer: Composer, qtbot: QtBot
) -> None:
    composer.set_text("line one\nline two")
    cursor = composer.input.textCursor()
    cursor.setPosition(4)
    composer.input.setTextCursor(cursor)
    composer.begin_edit(3, "old words")
    composer.begin_edit(5, "other words")  # another edit meanwhile: the draft stays
    assert composer.editing == 5
    with (
        qtbot.assertNotEmitted(composer.edit_submitted),
        qtbot.waitSignal(composer.edit_cancelled),
    ):
        qtbot.keyClick(composer.input, Qt.Key.Key_Escape)
    assert composer.editing is None
    assert composer.text() == "line one\nline two"
    assert composer.input.textCursor().position() == 4  # where the user was
    assert composer.input.hasFocus()

    composer.begin_edit(3, "old words")
    with (
        qtbot.assertNotEmitted(composer.edit_submitted),
        qtbot.waitSignal(composer.edit_cancelled),
    ):
        qtbot.mouseClick(composer.cancel_button, Qt.MouseButton.LeftButton)
    assert composer.text() == "line one\nline two" and composer.edit_bar.isHidden()
    with qtbot.assertNotEmitted(composer.edit_cancelled):
        composer.cancel_edit()  # no edit: nothing to do


def test_an_edit_emptied_is_not_sent(composer: Composer, qtbot: QtBot) -> None:
    composer.begin_edit(3, "x")
    qtbot.keyClick(composer.input, Qt.Key.Key_Backspace)
    assert not composer.button.isEnabled()
    with qtbot.assertNotEmitted(composer.edit_submitted):
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
        composer.button.click()
    assert composer.editing == 3
    with qtbot.waitSignal(composer.edit_submitted) as sent:
        qtbot.keyClicks(composer.input, "  y  ")
        composer.button.click()  # Resend
    assert sent.args == [3, "  y", ()]


def test_while_a_reply_streams_esc_cancels_the_edit_not_the_reply(qtbot: QtBot) -> None:
    from PySide6.QtGui import QKeySequence, QShortcut

    window = QWidget()
    qtbot.addWidget(window)
    composer = Composer(window)
    fired: list[str] = []
    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)  # the window's Stop
    shortcut.activated.connect(lambda: fired.append("window"))
    composer.stop_requested.connect(lambda: fired.append("stop"))
    composer.edit_cancelled.connect(lambda: fired.append("cancel"))
    show_active(qtbot, window)
    composer.set_streaming(True)
    composer.begin_edit(3, "old words")
    assert composer.button.text() == "Resend"  # the edit owns the button
    qtbot.keyClick(composer.input, Qt.Key.Key_Escape)
    assert fired == ["cancel"]
    assert composer.button.text() == "Stop"
    qtbot.keyClick(composer.input, Qt.Key.Key_Escape)  # no edit now: Esc stops
    assert fired == ["cancel", "stop"]
    # An edit is sent while a reply streams: it starts its own branch beside it.
    composer.begin_edit(3, "new words")
    with qtbot.waitSignal(composer.edit_submitted) as sent:
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert sent.args == [3, "new words", ()]
    assert fired == ["cancel", "stop"]


def test_up_in_an_empty_box_asks_to_edit_the_last_message(composer: Composer, qtbot: QtBot) -> None:
    with qtbot.waitSignal(composer.edit_last_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Up)
    with qtbot.assertNotEmitted(composer.edit_last_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
        composer.begin_edit(3, "")  # an edit emptied is not "empty composer"
        qtbot.keyClick(composer.input, Qt.Key.Key_Up)
        composer.cancel_edit()
        # With text, Up moves the cursor as ever.
        composer.set_text("first line\nsecond")
        assert composer.input.textCursor().blockNumber() == 1
        qtbot.keyClick(composer.input, Qt.Key.Key_Up)
    assert composer.input.textCursor().blockNumber() == 0
    assert composer.text() == "first line\nsecond"


def test_edit_while_disabled_keeps_its_reason(composer: Composer, qtbot: QtBot) -> None:
    composer.begin_edit(3, "words")
    assert composer.input.placeholderText() == EDIT_PLACEHOLDER
    composer.set_enabled_reason("No provider is available.")
    assert not composer.button.isEnabled()
    with qtbot.assertNotEmitted(composer.edit_submitted):
        composer.input.submitted.emit()
    composer.set_enabled_reason(None)
    assert composer.input.placeholderText() == EDIT_PLACEHOLDER
    assert composer.button.text() == "Resend" and composer.button.isEnabled()
