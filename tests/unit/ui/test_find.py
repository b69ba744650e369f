"""Find in one chat's view (desktop.ui.find and ChatView's find API): matches
in older messages not rendered yet are brought in, a revealed message is in
view, highlights never change the document's text, and Markdown is matched
as shown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.chat_view import ChatView


def message(mid: int, text: str) -> Message:
    role = Role.USER if mid % 2 else Role.ASSISTANT
    return Message(mid, 1, role, text, MessageStatus.COMPLETE)


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def long_chat() -> list[Message]:
    """150 messages of ~1 KB: only the newest part is rendered on load."""
    filler = "plain words that repeat " * 40
    messages = [message(mid, f"{filler} number {mid}") for mid in range(1, 151)]
    messages[2] = message(3, f"The hidden aardvark lives here. {filler}")
    return messages


def test_a_match_in_the_unrendered_older_part_is_brought_in_and_shown(
    qtbot: QtBot, view: ChatView
) -> None:
    view.load_transcript(long_chat())
    assert view.hidden_count > 0
    assert "aardvark" not in view.document().toPlainText()
    before = view.document().toPlainText()
    assert view.find_text("aardv") == 1
    assert "aardvark" in view.document().toPlainText()
    [match] = view.matches()
    assert match.message_id == 3 and view.find_status == (0, 1)
    [selection] = view.browser.extraSelections()
    assert selection.cursor.selectedText() == "aardvark"
    # Highlights are painted over the document: its text is only what was
    # rendered, the older messages now included.
    assert view.document().toPlainText().endswith(before.split("\n", 1)[1])
    # The match is in the viewport.
    rect = view.browser.cursorRect(selection.cursor)
    assert view.browser.viewport().rect().contains(rect.center())
    assert not view.following


def test_reveal_message_renders_and_scrolls_to_an_older_message(
    qtbot: QtBot, view: ChatView
) -> None:
    view.load_transcript(long_chat())
    assert view.reveal_message(2)
    region = view.renderer.region(2)
    assert region is not None and region.in_document
    assert not view.reveal_message(9999)


def test_markdown_is_matched_as_shown_and_closing_clears(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript([message(1, "Some **bold** text and `code bold` and *bolder*")])
    assert view.find_text("bold") == 3
    assert [s.cursor.selectedText() for s in view.browser.extraSelections()] == [
        "bold",
        "bold",
        "bolder",
    ]
    view.open_find_bar("bold")
    view.find_step(1)
    assert view.find_bar.count.text() == "2 of 3"
    qtbot.keyClick(view.find_bar.field, Qt.Key.Key_Escape)
    assert view.browser.extraSelections() == [] and view.find_status == (-1, 0)
    assert not view.find_bar.isVisible()
