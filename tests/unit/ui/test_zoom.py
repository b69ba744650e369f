"""Zoom: every kind of text in the transcript, and the composer's, grows and
shrinks with one factor, at the cost of one re-render."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.chat_view import ChatView
from desktop.ui.composer import Composer
from desktop.ui.render.region import BLOCK_KIND, BlockKind
from desktop.ui.render.tables import TABLE_MAX_COLUMNS
from desktop.ui.zoom import ZOOM_MAX, ZOOM_MIN
from tests.support.view_updates import append_text

WIDE = "|" + "|".join(f"c{n}" for n in range(TABLE_MAX_COLUMNS + 1)) + "|\n"
WIDE += "|" + "|".join("-" for _ in range(TABLE_MAX_COLUMNS + 1)) + "|\n"
REPLY = (
    "Plain words.\n\n## A heading\n\n```python\ncode_line = 1\n```\n\n"
    "| cell | other |\n|---|---|\n| in table | 2 |\n\n" + WIDE + "\nEnd."
)


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def sizes(view: ChatView) -> dict[str, float]:
    """The point size of a sample of each kind of text."""
    doc = view.document()
    found: dict[str, float] = {}
    cursor = QTextCursor(doc)
    block = doc.begin()
    while block.isValid():
        cursor.setPosition(block.position() + 1 if block.length() > 1 else block.position())
        text = block.text()
        size = cursor.charFormat().font().pointSizeF()
        kind = block.blockFormat().property(BLOCK_KIND)
        if kind == BlockKind.HEADER:
            found.setdefault("header", size)
        elif text == "Plain words.":
            found["text"] = size
        elif text == "A heading":
            found["heading"] = size
        elif text == "code_line = 1":
            found["code"] = size
        elif text == "in table" and cursor.currentTable() is not None:
            found["table"] = size
        elif kind == BlockKind.TABLE_TEXT and text.startswith("|c0"):
            found["table as text"] = size
        elif text.endswith("Retry"):
            found["status"] = size
        block = block.next()
    return found


def test_zoom_scales_every_kind_of_text_in_one_render(view: ChatView) -> None:
    view.load_transcript([Message(1, 1, Role.ASSISTANT, REPLY, MessageStatus.COMPLETE)])
    before = sizes(view)
    assert set(before) == {
        "header",
        "text",
        "heading",
        "code",
        "table",
        "table as text",
        "status",
    }
    loads = view.render_stats.loads
    view.set_zoom(2.0)
    assert view.render_stats.loads == loads + 1  # one re-render, laid out once
    after = sizes(view)
    for kind, size in before.items():
        assert after[kind] == pytest.approx(size * 2, rel=0.15), kind
    assert "\nEnd.\n" in view.document().toPlainText()
    view.set_zoom(2.0)  # no change: nothing rendered
    assert view.render_stats.loads == loads + 1
    view.set_zoom(1.0)
    assert sizes(view) == before


def test_streamed_text_comes_in_zoomed(view: ChatView) -> None:
    view.set_zoom(2.0)
    view.load_transcript([Message(1, 1, Role.ASSISTANT, "", MessageStatus.STREAMING)])
    for start in range(0, len(REPLY), 7):
        append_text(view, 1, REPLY[start : start + 7])
    zoomed = sizes(view)
    assert zoomed["code"] == zoomed["text"] == zoomed["table as text"]
    assert zoomed["text"] == pytest.approx(2 * view.font().pointSizeF(), abs=1)


def test_zoom_is_clamped_and_keeps_following(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript(
        [
            Message(n, 1, Role.ASSISTANT, f"line {n}\n\n" * 5, MessageStatus.COMPLETE)
            for n in range(30)
        ]
    )
    view.scroll_to_bottom()
    view.set_zoom(10.0)
    assert view.zoom == ZOOM_MAX
    bar = view.browser.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert view.following
    view.set_zoom(0.1)
    assert view.zoom == ZOOM_MIN


def test_a_view_made_zoomed_renders_zoomed(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript([Message(1, 1, Role.ASSISTANT, REPLY, MessageStatus.COMPLETE)])
    zoomed = ChatView(zoom=1.5)
    qtbot.addWidget(zoomed)
    zoomed.load_transcript([Message(1, 1, Role.ASSISTANT, REPLY, MessageStatus.COMPLETE)])
    assert sizes(zoomed)["code"] == pytest.approx(sizes(view)["code"] * 1.5, rel=0.15)


def test_composer_zoom(qtbot: QtBot) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    base = composer.input.font().pointSizeF()
    height = composer.input.height()
    composer.set_zoom(2.0)
    assert composer.input.font().pointSizeF() == pytest.approx(base * 2)
    assert composer.input.height() > height  # the box grows with its line
    composer.set_zoom(1.0)
    assert composer.input.font().pointSizeF() == pytest.approx(base)
