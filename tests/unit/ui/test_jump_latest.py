"""The "↓ Latest" button: shown while the user reads above a streaming reply,
it takes them back to the end and the view follows the reply again."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.chat_view import ChatView
from desktop.ui.jump_button import JUMP_NAME
from tests.support.view_updates import append_text, set_message_state

LONG = "".join(f"Paragraph {n} of an answer that goes on.\n\n" for n in range(80))


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    widget.load_transcript(
        [
            Message(1, 1, Role.USER, "Tell me", MessageStatus.COMPLETE),
            Message(2, 1, Role.ASSISTANT, LONG, MessageStatus.STREAMING),
        ]
    )
    widget.scroll_to_bottom()
    return widget


def at_bottom(view: ChatView) -> bool:
    bar = view.browser.verticalScrollBar()
    return bar.maximum() > 0 and bar.value() == bar.maximum()


def scroll_up(view: ChatView) -> None:
    """As the user does: the scroll bar moves (not the view's own scrolling)."""
    view.browser.verticalScrollBar().setValue(0)


def test_shown_when_scrolled_up_while_streaming_and_click_follows_again(
    qtbot: QtBot, view: ChatView
) -> None:
    assert not view.jump_button.isVisible()
    scroll_up(view)
    assert not view.following
    qtbot.waitUntil(view.jump_button.isVisible)
    append_text(view, 2, "More text.\n\n")
    assert view.jump_button.isVisible()
    assert view.browser.verticalScrollBar().value() == 0  # the reader stays where they are
    # Over the transcript, in its bottom-right corner.
    button = view.jump_button.geometry()
    area = view.browser.geometry()
    assert area.contains(button)
    assert button.right() > area.center().x() and button.bottom() > area.center().y()

    qtbot.mouseClick(view.jump_button, Qt.MouseButton.LeftButton)
    assert view.following
    assert at_bottom(view)
    assert not view.jump_button.isVisible()
    append_text(view, 2, "And more.\n\n" * 20)
    qtbot.waitUntil(lambda: at_bottom(view))  # it follows the reply again


def test_hidden_when_the_user_scrolls_back_down(qtbot: QtBot, view: ChatView) -> None:
    scroll_up(view)
    qtbot.waitUntil(view.jump_button.isVisible)
    bar = view.browser.verticalScrollBar()
    bar.setValue(bar.maximum())
    assert view.following
    assert not view.jump_button.isVisible()


def test_keyboard_reachable_with_a_name(qtbot: QtBot, view: ChatView) -> None:
    scroll_up(view)
    qtbot.waitUntil(view.jump_button.isVisible)
    button = view.jump_button
    assert button.accessibleName() == JUMP_NAME
    assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(button.hasFocus)
    qtbot.keyClick(button, Qt.Key.Key_Space)
    assert view.following and at_bottom(view)
    assert view.browser.hasFocus()  # the focus is not lost with the button


def test_not_shown_without_a_streaming_reply(qtbot: QtBot, view: ChatView) -> None:
    set_message_state(view, 2, MessageStatus.COMPLETE)
    scroll_up(view)
    append_text(view, 2, "")  # nothing streams
    assert not view.following
    assert not view.jump_button.isVisible()
