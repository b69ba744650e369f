"""The chat list marks a last reply cut short or failed apart from "New reply":
evicted, interrupted, stopped and failed each have their own shape and words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.ui.chat_list import ReplyEnd, ReplyEndRole, reply_end
from desktop.ui.main_window import MainWindow
from desktop.ui.sidebar import Sidebar
from tests.support.aio import run_on_qloop
from tests.unit.ui.conftest import WAIT_MS, start_reply
from tests.unit.ui.test_sidebar import chat, show_active


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (MessageStatus.INTERRUPTED, InterruptReason.EVICTED.value, ReplyEnd.EVICTED),
        (MessageStatus.INTERRUPTED, InterruptReason.CONNECTION_LOST.value, ReplyEnd.INTERRUPTED),
        (MessageStatus.INTERRUPTED, InterruptReason.STALLED.value, ReplyEnd.INTERRUPTED),
        (MessageStatus.STOPPED, None, ReplyEnd.STOPPED),
        (MessageStatus.FAILED, None, ReplyEnd.FAILED),
        (MessageStatus.COMPLETE, None, None),
    ],
)
def test_how_a_reply_ended_names_its_mark(
    status: MessageStatus, reason: str | None, expected: ReplyEnd | None
) -> None:
    assert reply_end(status, reason) is expected


@pytest.fixture
def sidebar(qtbot: QtBot) -> Iterator[Sidebar]:
    widget = Sidebar()
    qtbot.addWidget(widget)
    widget.resize(300, 500)
    widget.model.set_chats([chat(i, f"Chat {i}", 10 * i) for i in range(1, 7)])
    yield widget


def _row_image(sidebar: Sidebar, row: int) -> QImage:
    rect = sidebar.view.visualRect(sidebar.proxy.index(row, 0))
    return sidebar.view.viewport().grab(rect).toImage()


def test_each_end_has_its_own_words_and_shape_apart_from_new_reply(
    sidebar: Sidebar, qtbot: QtBot
) -> None:
    model = sidebar.model
    show_active(qtbot, sidebar)
    # Every row unread: only the end mark tells them apart.
    for session_id in range(1, 7):
        model.set_unread(session_id, True)
    ends = [None, ReplyEnd.EVICTED, ReplyEnd.INTERRUPTED, ReplyEnd.STOPPED, ReplyEnd.FAILED]
    for session_id, end in zip(range(1, 6), ends, strict=True):
        model.set_reply_end(session_id, end)
    texts = {
        end: model.index(model.row_of(i) or 0, 0).data(Qt.ItemDataRole.ToolTipRole)
        for i, end in zip(range(1, 6), ends, strict=True)
    }
    assert texts[None] == "Chat 1 — new reply"
    assert texts[ReplyEnd.EVICTED] == "Chat 2 — Stopped to make room — Continue in the chat"
    assert texts[ReplyEnd.INTERRUPTED] == "Chat 3 — Interrupted — Continue in the chat"
    assert texts[ReplyEnd.STOPPED] == "Chat 4 — Stopped — Continue in the chat"
    assert texts[ReplyEnd.FAILED] == "Chat 5 — Failed — Retry in the chat"
    accessible = model.index(model.row_of(2) or 0, 0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert "Stopped to make room" in accessible
    assert model.index(model.row_of(2) or 0, 0).data(ReplyEndRole) is ReplyEnd.EVICTED

    # Painted apart: the mark's corner of each row differs from every other.
    delegate = sidebar.view.chat_delegate
    marks = []
    for i in range(1, 6):
        row = sidebar.proxy.mapFromSource(model.index_of(i)).row()
        image = _row_image(sidebar, row)
        mark = delegate.mark_rect(image.rect(), sidebar.view.font()).toAlignedRect()
        marks.append(image.copy(mark))
    for a in range(len(marks)):
        for b in range(a + 1, len(marks)):
            assert marks[a] != marks[b], (ends[a], ends[b])

    # A new reply clears the mark; a removed chat forgets it.
    model.set_reply_end(2, None)
    assert model.reply_end(2) is None
    model.remove(3)
    model.upsert(chat(3, "Chat 3", 30))
    assert model.reply_end(3) is None


def test_the_window_marks_an_evicted_reply_and_a_stopped_one(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    services.settings.set_max_streams(1)
    demo.defaults = DemoOptions(rate=40, tokens=2000)
    first = services.chat.create_chat("First").id
    second = services.chat.create_chat("Second").id
    model = window.sidebar.model
    model.upsert(services.chat.chat(first))  # type: ignore[arg-type]
    model.upsert(services.chat.chat(second))  # type: ignore[arg-type]
    start_reply(services, first)
    qtbot.waitUntil(lambda: services.manager.is_live(first), timeout=WAIT_MS)
    start_reply(services, second)  # one at a time: the first (not on screen) makes room
    qtbot.waitUntil(lambda: model.reply_end(first) is ReplyEnd.EVICTED, timeout=WAIT_MS)
    tip = model.index(model.row_of(first) or 0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Stopped to make room — Continue in the chat" in tip
    assert "new reply" not in tip

    run_on_qloop(services.manager.stop_all())
    qtbot.waitUntil(lambda: model.reply_end(second) is ReplyEnd.STOPPED, timeout=WAIT_MS)

    demo.defaults = DemoOptions(rate=0, tokens=10)
    start_reply(services, first)  # a new reply: the old end is past
    qtbot.waitUntil(lambda: not services.manager.is_live(first), timeout=WAIT_MS)
    assert model.reply_end(first) is None
