"""A reply's reasoning, its wait for the first token, why it ended and what it
used, as the transcript shows them (real widgets, offscreen).

The Thinking section streams while the model reasons, closes to one line
when the answer starts, opens and closes by its action (a click or Enter), and
holds to the render budgets: reasoning is appended, never laid out whole per
update, and a huge one shows at most THINKING_LIMIT characters.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette, QTextCursor
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.services.chat import can_continue
from desktop.streaming.events import MessageUpdate
from desktop.ui.chat_view import ChatView
from desktop.ui.render.document import (
    BLOCK_KIND,
    BLOCK_MESSAGE,
    PLAIN_LINE_CHARS,
    THINKING_LIMIT,
    BlockKind,
)
from desktop.ui.render.status import clock, status_line, usage_text
from desktop.ui.render.thinking import duration
from tests.unit.ui.test_chat_view import anchors, check_regions, click_anchor, plain

S = MessageStatus
REASONING = (
    "\nThe user asks for the sum.\n\nTwo and two make four; let me double-check with **care**.\n"
)


def user(mid: int, text: str) -> Message:
    return Message(mid, 1, Role.USER, text, S.COMPLETE)


def reply(mid: int, text: str = "", status: MessageStatus = S.COMPLETE, **kw: object) -> Message:
    return Message(mid, 1, Role.ASSISTANT, text, status, **kw)  # type: ignore[arg-type]


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def reason(view: ChatView, message_id: int, text: str, **kw: object) -> None:
    """Reasoning that arrived after what the view holds, as the feed hands it over."""
    view.reconcile(
        MessageUpdate(  # type: ignore[arg-type]
            message_id,
            "",
            len(view.message_text(message_id)),
            reasoning=text,
            reasoning_offset=len(view.message_reasoning(message_id)),
            **kw,
        )
    )


def answer(view: ChatView, message_id: int, text: str, **kw: object) -> None:
    held = len(view.message_text(message_id))
    view.reconcile(MessageUpdate(message_id, text, held, **kw))  # type: ignore[arg-type]


def end(view: ChatView, message_id: int, status: MessageStatus = S.COMPLETE, **kw: object) -> None:
    held = len(view.message_text(message_id))
    view.reconcile(MessageUpdate(message_id, "", held, status, **kw))  # type: ignore[arg-type]


def blocks_of(view: ChatView, kind: BlockKind) -> list[str]:
    found = []
    block = view.document().begin()
    while block.isValid():
        if block.blockFormat().property(BLOCK_KIND) == kind:
            found.append(block.text())
        block = block.next()
    return found


def thinking_line(view: ChatView) -> str:
    lines = blocks_of(view, BlockKind.THINKING_LINE)
    assert len(lines) == 1, lines
    return lines[0]


def shown_reasoning(view: ChatView) -> str:
    return "\n".join(blocks_of(view, BlockKind.THINKING))


# ---------------------------------------------------------------- thinking


def test_the_thinking_streams_live_then_closes_to_one_line_when_the_answer_starts(
    view: ChatView,
) -> None:
    view.load_transcript([user(1, "2 + 2?")])
    view.add_message(reply(2, "", S.STREAMING))
    assert blocks_of(view, BlockKind.THINKING_LINE) == []  # no reasoning: no section
    stats = view.render_stats
    for start in range(0, len(REASONING), 7):
        reason(view, 2, REASONING[start : start + 7])
        check_regions(view)
    assert thinking_line(view) == "Thinking… ▾"
    # Plain text, in the order it came, each block marked as the reply's reasoning.
    assert shown_reasoning(view) == REASONING.lstrip("\n")
    block = view.document().findBlock(view.renderer.region(2).body_start)  # type: ignore[union-attr]
    assert block.blockFormat().property(BLOCK_MESSAGE) == 2
    # Written once, then appended to: never laid out whole again per update.
    assert stats.thinking_renders == 1
    assert stats.thinking_appends >= len(REASONING) // 7 - 2
    assert stats.markdown_imports == 1  # the load; reasoning is never Markdown

    answer(view, 2, "Four.", reasoning_seconds=12.4)
    assert thinking_line(view) == "Thought for 12 s ▸"
    assert shown_reasoning(view) == ""
    assert view.message_reasoning(2) == REASONING  # kept, for opening it again
    assert plain(view).endswith("Thought for 12 s ▸\nFour.\nstreaming…")
    end(view, 2)
    assert thinking_line(view) == "Thought for 12 s ▸"
    check_regions(view)


def test_the_line_opens_and_closes_the_reasoning_by_click_and_by_keyboard(
    qtbot: QtBot, view: ChatView
) -> None:
    view.load_transcript(
        [user(1, "q"), reply(2, "The answer.", reasoning=REASONING, reasoning_seconds=75)]
    )
    assert thinking_line(view) == "Thought for 1 min 15 s ▸"
    href = "sidestream:thinking/2"
    assert href in anchors(view)
    click_anchor(qtbot, view, href)
    assert thinking_line(view) == "Thought for 1 min 15 s ▾"
    assert "Two and two make four" in shown_reasoning(view)
    check_regions(view)
    click_anchor(qtbot, view, href)
    assert shown_reasoning(view) == ""
    check_regions(view)

    # The keyboard: Tab moves from link to link, Enter runs the one focused.
    view.browser.setTextCursor(QTextCursor(view.document()))
    view.activateWindow()
    view.browser.setFocus()
    qtbot.waitUntil(view.browser.hasFocus, timeout=2000)
    for _ in range(10):
        if view.browser.textCursor().selectedText() == "Thought for 1 min 15 s ▸":
            break
        qtbot.keyClick(view.browser, Qt.Key.Key_Tab)
    assert view.browser.textCursor().charFormat().anchorHref() == href
    qtbot.keyClick(view.browser, Qt.Key.Key_Return)
    assert "Two and two make four" in shown_reasoning(view)
    assert plain(view).endswith("The answer.\nRetry")


def test_a_chat_with_stored_reasoning_loads_with_the_section_closed(view: ChatView) -> None:
    view.load_transcript(
        [
            user(1, "q"),
            reply(2, "First answer.", reasoning="Hmm.", reasoning_seconds=3.0),
            user(3, "q"),
            reply(4, "No reasoning here."),
            user(5, "q"),
            reply(6, "Unknown duration.", reasoning="Hmm."),
        ]
    )
    assert blocks_of(view, BlockKind.THINKING_LINE) == ["Thought for 3 s ▸", "Reasoning ▸"]
    assert blocks_of(view, BlockKind.THINKING) == []
    assert "Hmm." not in plain(view)
    check_regions(view)
    # Each line is its own reply's action; opening one leaves the others alone.
    assert {"sidestream:thinking/2", "sidestream:thinking/6"} <= set(anchors(view))
    view.toggle_thinking(6)
    assert blocks_of(view, BlockKind.THINKING_LINE) == ["Thought for 3 s ▸", "Reasoning ▾"]
    assert shown_reasoning(view) == "Hmm."
    check_regions(view)


def test_a_reply_stopped_while_it_reasons_closes_its_section(view: ChatView) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(reply(2, "", S.STREAMING))
    reason(view, 2, "Still thinking about")
    end(view, 2, S.STOPPED, reasoning_seconds=4.0)
    assert thinking_line(view) == "Thought for 4 s ▸"
    assert plain(view).endswith("Thought for 4 s ▸\nStopped.    Continue  ·  Retry")
    check_regions(view)


def test_the_section_stays_as_the_user_left_it(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(reply(2, "", S.STREAMING))
    reason(view, 2, "first thought")
    view.toggle_thinking(2)  # closed while it still reasons
    reason(view, 2, ", second thought")
    assert shown_reasoning(view) == ""
    assert thinking_line(view) == "Thinking… ▸"
    view.toggle_thinking(2)  # open again: all of it, then the rest as it comes
    assert shown_reasoning(view) == "first thought, second thought"
    answer(view, 2, "Done.", reasoning_seconds=2.0)  # opened by the user: stays open
    assert thinking_line(view) == "Thought for 2 s ▾"
    assert shown_reasoning(view) == "first thought, second thought"
    # A palette change re-renders the transcript: the choice is kept.
    palette = QPalette(view.palette())
    palette.setColor(QPalette.ColorRole.Base, Qt.GlobalColor.black)
    palette.setColor(QPalette.ColorRole.Text, Qt.GlobalColor.white)
    view.setPalette(palette)
    qtbot.waitUntil(lambda: view.theme.dark, timeout=2000)
    assert shown_reasoning(view) == "first thought, second thought"
    check_regions(view)


def test_a_huge_reasoning_is_appended_in_bounded_lines_and_shown_up_to_the_limit(
    view: ChatView,
) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(reply(2, "", S.STREAMING))
    stats = view.render_stats
    piece = "word " * 800  # 4,000 characters an update, one long paragraph
    total = 0
    while total < 3 * THINKING_LIMIT:
        reason(view, 2, piece)
        total += len(piece)
    assert stats.thinking_renders == 1  # never re-laid-out whole
    assert stats.thinking_chars == THINKING_LIMIT  # each character once, up to the limit
    lines = blocks_of(view, BlockKind.THINKING)
    assert max(len(line) for line in lines) <= PLAIN_LINE_CHARS
    assert sum(len(line) for line in lines) == THINKING_LIMIT
    assert thinking_line(view).startswith("Thinking… ▾    Showing the first 100 KB of 300 KB")
    answer(view, 2, "Short answer.", reasoning_seconds=30)
    assert blocks_of(view, BlockKind.THINKING) == []
    # Opened again: at most the limit, at once, and the line says so.
    view.toggle_thinking(2)
    assert sum(len(line) for line in blocks_of(view, BlockKind.THINKING)) == THINKING_LIMIT
    assert "Showing the first 100 KB of 300 KB; the export has it all." in thinking_line(view)
    assert view.message_reasoning(2) == piece * (total // len(piece))
    check_regions(view)


def test_reasoning_replaced_whole_by_the_store_is_shown_anew(view: ChatView) -> None:
    view.load_transcript([user(1, "q"), reply(2, "", S.STREAMING)])
    reason(view, 2, "a draft that")
    # The tab's store sync: the whole stored reply, its reasoning from the start.
    view.reconcile(
        MessageUpdate(2, "The end.", 0, S.COMPLETE, reasoning="another draft", reasoning_seconds=1)
    )
    assert view.message_reasoning(2) == "another draft"
    view.toggle_thinking(2)
    assert shown_reasoning(view) == "another draft"
    # Older reasoning never replaces newer.
    view.reconcile(MessageUpdate(2, "", 0, reasoning="another"))
    assert view.message_reasoning(2) == "another draft"
    check_regions(view)


# ----------------------------------------------------------- waiting counter


def test_a_wait_for_the_first_token_counts_up_each_second_then_ends(
    qtbot: QtBot, view: ChatView
) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(reply(2, "", S.STREAMING))
    assert not view.counting_wait
    since = time.time() - 83.2
    view.reconcile(MessageUpdate(2, "", 0, S.STREAMING, waiting_since=since))
    assert plain(view).endswith("Waiting for the model… 1:23")
    assert view.counting_wait
    qtbot.waitUntil(lambda: plain(view).endswith("Waiting for the model… 1:24"), timeout=3000)
    reason(view, 2, "Thinking")  # the first token: the wait is over
    assert "Waiting for the model" not in plain(view)
    assert plain(view).endswith("Thinking… ▾\nThinking\nstreaming…")
    assert not view.counting_wait
    check_regions(view)


def test_a_wait_ends_with_the_reply_and_with_its_first_text(view: ChatView) -> None:
    view.load_transcript([user(1, "q"), reply(2, "", S.STREAMING)])
    view.reconcile(MessageUpdate(2, "", 0, S.STREAMING, waiting_since=time.time()))
    assert view.counting_wait
    end(view, 2, S.STOPPED)
    assert not view.counting_wait
    assert "Waiting" not in plain(view)
    view.add_message(reply(3, "", S.STREAMING))
    view.reconcile(MessageUpdate(3, "", 0, S.STREAMING, waiting_since=time.time()))
    answer(view, 3, "Hello")
    assert not view.counting_wait
    assert plain(view).endswith("Hello\nstreaming…")


# --------------------------------------------------------- finish and usage


@pytest.mark.parametrize(
    ("finish", "said"),
    [
        (FinishReason.LENGTH, "Cut at the model's token limit."),
        (FinishReason.REFUSAL, "The model declined."),
        (FinishReason.CONTENT_FILTER, "Stopped by the provider's content filter."),
        (FinishReason.TOOL_CALLS, "The model asked to use a tool, which Sidestream does not run."),
        (FinishReason.STOP, ""),
        (None, ""),
    ],
)
def test_why_a_reply_ended_is_said_on_its_status_line(
    finish: FinishReason | None, said: str
) -> None:
    line = status_line(
        7, Role.ASSISTANT, S.COMPLETE, None, None, last_assistant=True, finish=finish
    )
    assert line.text == said
    labels = [label for label, _ in line.actions]
    assert labels == (["Continue", "Retry"] if finish is FinishReason.LENGTH else ["Retry"])
    earlier = status_line(
        7, Role.ASSISTANT, S.COMPLETE, None, None, last_assistant=False, finish=finish
    )
    assert earlier.text == said and earlier.actions == ()


def test_continue_goes_on_from_a_reply_cut_short_or_cut_at_the_token_limit() -> None:
    assert can_continue(S.STOPPED, None) and can_continue(S.INTERRUPTED, None)
    assert can_continue(S.COMPLETE, FinishReason.LENGTH)
    for finish in (None, *(f for f in FinishReason if f is not FinishReason.LENGTH)):
        assert not can_continue(S.COMPLETE, finish)
    assert not can_continue(S.FAILED, None) and not can_continue(S.STREAMING, None)


def test_the_finish_line_and_the_usage_in_the_transcript(view: ChatView) -> None:
    view.load_transcript(
        [
            user(1, "q"),
            reply(2, "Sorry.", finish=FinishReason.REFUSAL, input_tokens=12, output_tokens=3),
            user(3, "q"),
            reply(
                4, "Once upon a", finish=FinishReason.LENGTH, input_tokens=1234, output_tokens=567
            ),
        ]
    )
    text = plain(view)
    assert "Sorry.\nThe model declined.    12 tokens in · 3 out\n" in text
    assert text.endswith(
        "Once upon a\nCut at the model's token limit.    1,234 tokens in · 567 out"
        "    Continue  ·  Retry"
    )
    assert "sidestream:continue/4" in anchors(view)
    check_regions(view)
    # The usage of a live reply comes with its end; a reply streaming again
    # (Continue) says nothing of how it ended before.
    view.reconcile(MessageUpdate(4, "", len("Once upon a"), S.STREAMING))
    assert plain(view).endswith("Once upon a\nstreaming…    1,234 tokens in · 567 out")
    answer(view, 4, " time.")
    end(view, 4, finish=FinishReason.STOP, input_tokens=1300, output_tokens=600)
    assert plain(view).endswith("Once upon a time.\n1,300 tokens in · 600 out    Retry")


def test_status_line_helpers() -> None:
    assert usage_text(1234, 567) == "1,234 tokens in · 567 out"
    assert usage_text(1234, None) == "1,234 tokens in"
    assert usage_text(None, 5) == "5 tokens out"
    assert usage_text(None, None) == ""
    assert [clock(s) for s in (0, 7.9, 83.2, 3723)] == ["0:00", "0:07", "1:23", "1:02:03"]
    assert [duration(s) for s in (0.2, 12.4, 60, 125, 3600, 3725)] == [
        "1 s",
        "12 s",
        "1 min",
        "2 min 5 s",
        "1 h",
        "1 h 2 min",
    ]
    waiting = status_line(7, Role.ASSISTANT, S.STREAMING, None, None, last_assistant=True, waited=5)
    assert (waiting.text, waiting.tone) == ("Waiting for the model… 0:05", "live")


def test_earlier_messages_come_in_with_their_sections_and_code_stays_addressable(
    view: ChatView,
) -> None:
    big = "x " * 30_000  # two long questions push the first reply out of the window
    view.load_transcript(
        [
            user(1, "q"),
            reply(2, "```py\nx = 1\n```", reasoning="Use Python.", reasoning_seconds=2),
            user(3, big),
            user(4, big),
            reply(5, "```sh\nls\n```", reasoning="A shell.", reasoning_seconds=1),
        ]
    )
    assert view.hidden_count == 3
    assert blocks_of(view, BlockKind.THINKING_LINE) == ["Thought for 1 s ▸"]
    assert view.renderer.code_text(5, 0) == "ls"
    view.toggle_thinking(5)
    assert view.renderer.code_text(5, 0) == "ls"  # found below the open section
    while view.hidden_count:
        assert view.show_earlier() > 0
    assert blocks_of(view, BlockKind.THINKING_LINE) == ["Thought for 2 s ▸", "Thought for 1 s ▾"]
    assert view.renderer.code_text(2, 0) == "x = 1"
    check_regions(view)
