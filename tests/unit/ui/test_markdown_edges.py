"""Markdown that Qt's importer reads differently from GitHub, in a real view.

Each case is rendered both ways a reply reaches the transcript: loaded
whole, and streamed in a few characters at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtGui import QFont, QTextBlock, QTextCursor
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.chat_view import ChatView
from desktop.ui.render.blocks import drop_empty_list_start
from tests.support.view_updates import append_text, set_message_state

TABLE = "| a | b |\n|---|---|\n| 1 | 2 |\n"


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def loaded(view: ChatView, text: str) -> None:
    view.load_transcript([Message(1, 1, Role.ASSISTANT, text, MessageStatus.COMPLETE)])


def streamed(view: ChatView, text: str) -> None:
    view.load_transcript([Message(1, 1, Role.ASSISTANT, "", MessageStatus.STREAMING)])
    for char in text:  # one at a time: every transient state is shown once
        append_text(view, 1, char)
    set_message_state(view, 1, MessageStatus.COMPLETE)


RENDERS: list[Callable[[ChatView, str], None]] = [loaded, streamed]


def blocks(view: ChatView) -> list[QTextBlock]:
    found = []
    block = view.document().begin()
    while block.isValid():
        found.append(block)
        block = block.next()
    return found


def fragments(view: ChatView, word: str) -> list[tuple[bool, bool, int]]:
    """(italic, underlined, weight) of every fragment that is exactly ``word``."""
    found = []
    for block in blocks(view):
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            if fragment.text() == word:
                char_format = fragment.charFormat()
                found.append(
                    (
                        char_format.fontItalic(),
                        char_format.fontUnderline(),
                        char_format.fontWeight(),
                    )
                )
            iterator.__iadd__(1)
    return found


@pytest.mark.parametrize("render", RENDERS)
def test_underscores_are_emphasis_not_underline(view: ChatView, render: Callable) -> None:
    render(view, "an _italic_ word, a __strong__ one and a snake_case_name.\n")
    assert fragments(view, "italic") == [(True, False, QFont.Weight.Normal)]
    assert fragments(view, "strong") == [(False, False, QFont.Weight.Bold)]
    assert "a snake_case_name." in view.document().toPlainText()


@pytest.mark.parametrize("render", RENDERS)
@pytest.mark.parametrize("marker", ["1.", "-", "*"])
def test_a_list_after_a_table_has_no_stray_marker(
    view: ChatView, render: Callable, marker: str
) -> None:
    render(view, f"Intro\n\n{TABLE}\n{marker} one\n{marker} two\n\nEnd\n")
    in_lists = [block.text() for block in blocks(view) if block.textList() is not None]
    assert in_lists == ["one", "two"]


@pytest.mark.parametrize("render", RENDERS)
@pytest.mark.parametrize("before", ["```py\nx = 1\n```", "> quoted"])
def test_a_table_after_a_code_block_or_quote_starts_on_its_first_line(
    view: ChatView, render: Callable, before: str
) -> None:
    render(view, f"Text\n\n{before}\n\n{TABLE}\nEnd\n")
    cursor = QTextCursor(view.document())
    cells = []
    for block in blocks(view):
        cursor.setPosition(block.position())
        table = cursor.currentTable()
        if table is not None:
            cells.append((table.cellAt(cursor).row(), table.cellAt(cursor).column(), block.text()))
    assert cells == [(0, 0, "a"), (0, 1, "b"), (1, 0, "1"), (1, 1, "2")]


def test_drop_empty_list_start() -> None:
    assert drop_empty_list_start("Intro\n\n1.") == "Intro\n\n"
    assert drop_empty_list_start("- ") == ""
    assert drop_empty_list_start("> text\n>\n> * ") == "> text\n>\n"
    # An item with text, or a marker that cannot start a list here, stays.
    for text in ["1. one", "- a\n- ", "Title\n-", "a | b\n-", "x - "]:
        assert drop_empty_list_start(text) == text
