""" "Copied ✓" over the Copy link used, for a moment; the clipboard is the
application's real one, the clicks real mouse clicks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QTextCursor
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.chat_view import ChatView
from desktop.ui.copied_badge import COPIED_MS, COPIED_TEXT

REPLY = "Here:\n\n```python\nprint('hi')\n```\n\nDone."


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    widget.load_transcript(
        [
            Message(1, 1, Role.USER, "Say hi", MessageStatus.COMPLETE),
            Message(2, 1, Role.ASSISTANT, REPLY, MessageStatus.COMPLETE),
        ]
    )
    return widget


def anchor_point(view: ChatView, href: str) -> QPoint:
    """The middle of the first link with this href, in viewport coordinates."""
    block = view.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            if fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(view.document())
                cursor.setPosition(fragment.position() + fragment.length() // 2)
                return view.browser.cursorRect(cursor).center() + QPoint(1, 0)
            iterator.__iadd__(1)
        block = block.next()
    raise AssertionError(f"no link {href}")


@pytest.mark.parametrize(
    ("href", "copied"),
    [("sidestream:copy/2", REPLY), ("sidestream:copy-code/2/0", "print('hi')")],
)
def test_copy_says_copied_at_the_link_then_goes(
    qtbot: QtBot, view: ChatView, href: str, copied: str
) -> None:
    QGuiApplication.clipboard().setText("something else")
    point = anchor_point(view, href)
    assert view.browser.anchorAt(point) == href
    qtbot.mouseClick(view.browser.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == copied)
    badge = view.copied_badge
    assert badge.isVisible()
    assert badge.text() == COPIED_TEXT
    assert badge.parentWidget() is view.browser.viewport()
    assert badge.geometry().contains(point)  # over the link that was used
    qtbot.waitUntil(lambda: not badge.isVisible(), timeout=COPIED_MS + 2000)


def test_the_context_menu_copy_says_copied_too(qtbot: QtBot, view: ChatView) -> None:
    view.copy_message(1)
    assert QGuiApplication.clipboard().text() == "Say hi"
    assert view.copied_badge.isVisible()
    assert view.copied_badge.geometry().contains(anchor_point(view, "sidestream:copy/1"))
