"""What real models send, in the real window: reasoning shown live then closed,
the wait for the first token counted (and Stop during it), why a reply ended,
and its usage. The real services on the demo server (OpenAI Responses dialect),
whose knobs shape each reply: ``reasoning``, ``first_token_delay``,
``finish=length``, ``refusal``.
"""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import start_window
from desktop.cli import build_parser
from desktop.core.models import Message
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.services.chat import ChatActionError
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.render.document import BLOCK_KIND, BlockKind
from desktop.ui.render.status import usage_text
from desktop.ui.render.thinking import duration
from tests.support.aio import run_on_qloop
from tests.unit.ui.test_chat_view import anchors, click_anchor

WAIT = 15_000


@pytest.fixture(autouse=True)
def no_provider_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo is the only provider the services start with (autouse: before they are built)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def send(qtbot: QtBot, tab: ChatTab, text: str) -> None:
    tab.composer.focus_input()
    tab.composer.input.setPlainText(text)
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)


def start(qtbot: QtBot, window: MainWindow, services: Services, prompt: str) -> ChatTab:
    tab = window.new_chat()
    assert tab is not None
    send(qtbot, tab, prompt)
    qtbot.waitUntil(lambda: reply_of(services, tab) is not None, timeout=WAIT)
    return tab


def reply_of(services: Services, tab: ChatTab) -> Message | None:
    replies = [m for m in services.chat.messages(tab.session_id) if m.role is Role.ASSISTANT]
    return replies[-1] if replies else None


def stored(services: Services, tab: ChatTab) -> Message:
    message = reply_of(services, tab)
    assert message is not None
    return message


def ended(services: Services, tab: ChatTab) -> bool:
    """The reply's end is on disk and announced (its stream is gone from the
    manager: a view opened now shows it from the store)."""
    message = reply_of(services, tab)
    return (
        message is not None
        and message.status.is_terminal
        and not services.manager.is_live(tab.session_id)
    )


def shown(tab: ChatTab) -> str:
    return tab.view.document().toPlainText()


def blocks_of(tab: ChatTab, kind: BlockKind) -> list[str]:
    found = []
    block = tab.view.document().begin()
    while block.isValid():
        if block.blockFormat().property(BLOCK_KIND) == kind:
            found.append(block.text())
        block = block.next()
    return found


def test_a_reasoning_reply_streams_its_thinking_live_then_closes_to_thought_for_n_s(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    # 40 reasoning tokens at 40 a second: a second of thinking, then the answer.
    demo.defaults = DemoOptions(rate=40, tokens=20, reasoning=40)
    tab = start(qtbot, window, services, "think first")
    # Live: the section is open and its reasoning grows in the view.
    qtbot.waitUntil(lambda: len(" ".join(blocks_of(tab, BlockKind.THINKING))) > 20, timeout=WAIT)
    assert blocks_of(tab, BlockKind.THINKING_LINE) == ["Thinking… ▾"]
    assert not ended(services, tab)
    grown = len(" ".join(blocks_of(tab, BlockKind.THINKING)))
    qtbot.waitUntil(
        lambda: len(" ".join(blocks_of(tab, BlockKind.THINKING))) > grown or ended(services, tab),
        timeout=WAIT,
    )
    qtbot.waitUntil(lambda: ended(services, tab), timeout=WAIT)
    message = stored(services, tab)
    assert message.status is MessageStatus.COMPLETE
    assert message.reasoning and message.reasoning_seconds is not None
    view = tab.view
    qtbot.waitUntil(lambda: view.message_text(message.id) == message.content, timeout=WAIT)
    # Closed to one line once the answer started, with how long it took.
    line = f"Thought for {duration(message.reasoning_seconds)} ▸"
    assert re.fullmatch(r"Thought for \d+ s ▸", line)
    assert blocks_of(tab, BlockKind.THINKING_LINE) == [line]
    assert blocks_of(tab, BlockKind.THINKING) == []
    assert view.message_reasoning(message.id) == message.reasoning
    # Opened again by its action: the whole reasoning.
    click_anchor(qtbot, view, f"sidestream:thinking/{message.id}")
    shown_reasoning = "\n".join(blocks_of(tab, BlockKind.THINKING))
    assert shown_reasoning.split() == message.reasoning.split()

    # The chat opened anew (a new tab, a new view) shows it closed.
    window.close_current_tab()
    qtbot.waitUntil(lambda: window.tab_for(tab.session_id) is None, timeout=WAIT)
    again = window.open_chat(tab.session_id)
    assert again is not None and again is not tab
    assert blocks_of(again, BlockKind.THINKING_LINE) == [line]
    assert blocks_of(again, BlockKind.THINKING) == []


def test_a_reply_that_waits_for_its_first_token_counts_the_wait_then_answers(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=10, first_token_delay=3.5)
    tab = start(qtbot, window, services, "take your time")
    counts: set[str] = set()

    def answered() -> bool:
        found = re.search(r"Waiting for the model… (\d+:\d\d)$", shown(tab))
        if found:
            counts.add(found.group(1))
        return ended(services, tab)

    qtbot.waitUntil(answered, timeout=WAIT)
    # It counted up, a second at a time, and Stop was offered all along.
    assert {"0:01", "0:02"} <= counts, counts
    message = stored(services, tab)
    assert message.status is MessageStatus.COMPLETE
    qtbot.waitUntil(lambda: tab.view.message_text(message.id) == message.content, timeout=WAIT)
    assert "Waiting for the model" not in shown(tab)
    assert not tab.view.counting_wait


def test_esc_during_the_wait_for_the_first_token_stops_the_reply(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=10, first_token_delay=60)
    tab = start(qtbot, window, services, "never mind")
    qtbot.waitUntil(lambda: shown(tab).endswith("Waiting for the model… 0:01"), timeout=WAIT)
    assert tab.composer.is_streaming() and tab.composer.button.text() == "Stop"
    assert tab.view.counting_wait
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: ended(services, tab), timeout=WAIT)
    assert stored(services, tab).status is MessageStatus.STOPPED
    qtbot.waitUntil(lambda: "Stopped." in shown(tab), timeout=WAIT)
    assert "Waiting for the model" not in shown(tab)
    assert not tab.view.counting_wait
    assert not tab.composer.is_streaming()


def test_a_reply_cut_at_the_token_limit_says_so_and_continue_goes_on(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=20, finish="length")
    tab = start(qtbot, window, services, "a long story")
    qtbot.waitUntil(lambda: ended(services, tab), timeout=WAIT)
    cut = stored(services, tab)
    assert (cut.status, cut.finish) == (MessageStatus.COMPLETE, FinishReason.LENGTH)
    qtbot.waitUntil(lambda: "Cut at the model's token limit." in shown(tab), timeout=WAIT)
    href = f"sidestream:continue/{cut.id}"
    assert href in anchors(tab.view)

    demo.defaults = DemoOptions(rate=0, tokens=20)  # this time it ends as usual
    click_anchor(qtbot, tab.view, href)

    def continued() -> bool:
        message = reply_of(services, tab)
        return (
            message is not None
            and message.status is MessageStatus.COMPLETE
            and message.finish is FinishReason.STOP
        )

    qtbot.waitUntil(continued, timeout=WAIT)
    done = stored(services, tab)
    assert done.id == cut.id  # the same message, gone on from its text
    assert done.content.startswith(cut.content) and len(done.content) > len(cut.content)
    qtbot.waitUntil(lambda: tab.view.message_text(done.id) == done.content, timeout=WAIT)
    assert "Cut at the model's token limit." not in shown(tab)
    assert f"sidestream:continue/{done.id}" not in anchors(tab.view)
    # A reply the model ended as usual cannot be continued.
    with pytest.raises(ChatActionError, match="cut at the model's token limit"):
        run_on_qloop(services.chat.continue_reply(done.id))


def test_a_refusal_is_the_reply_and_the_line_says_the_model_declined(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=20, refusal=True)
    tab = start(qtbot, window, services, "something forbidden")
    qtbot.waitUntil(lambda: ended(services, tab), timeout=WAIT)
    message = stored(services, tab)
    assert message.finish is FinishReason.REFUSAL and message.content
    qtbot.waitUntil(lambda: "The model declined." in shown(tab), timeout=WAIT)
    assert tab.view.message_text(message.id) == message.content


def test_the_usage_of_a_reply_shows_under_it(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=20)
    tab = start(qtbot, window, services, "how many tokens")
    qtbot.waitUntil(lambda: ended(services, tab), timeout=WAIT)
    message = stored(services, tab)
    assert message.input_tokens is not None and message.output_tokens is not None
    usage = usage_text(message.input_tokens, message.output_tokens)
    assert re.fullmatch(r"[\d,]+ tokens in · [\d,]+ out", usage)
    qtbot.waitUntil(lambda: usage in shown(tab), timeout=WAIT)
    assert shown(tab).endswith(f"{usage}    Retry")


def test_a_provider_given_on_the_command_line_is_not_the_demo(
    qtbot: QtBot, services: Services
) -> None:
    """``--provider openai-compatible`` on a new data folder: no demo hint."""
    assert services.demo_only  # what the services saw before the command line
    args = build_parser().parse_args(
        ["--provider", "openai-compatible", "--base-url", "http://127.0.0.1:9/v1"]
    )
    window = start_window(services, args)
    qtbot.addWidget(window)
    window.allow_close = True
    assert window._hint is None
    default = next(p for p in services.settings.providers() if p.is_default)
    assert (default.base_url, default.is_demo) == ("http://127.0.0.1:9/v1", False)

    # --demo: the demo is the default, the other provider stays: no hint either.
    again = start_window(services, build_parser().parse_args(["--demo"]))
    qtbot.addWidget(again)
    again.allow_close = True
    assert again._hint is None
