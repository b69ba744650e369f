"""Why a reply ended, in every dialect: normalized finish reasons and refusals (issue 15).

Each case replays a recorded stream through the real provider. Before issue
15 the finish was the provider's own word or lost (a tool call, a content
filter and a refusal all looked like a plain complete reply), and Chat
Completions refusals (``delta.refusal``) gave an empty reply.
"""

from __future__ import annotations

import pytest

from desktop.core.events import Finished, StreamEvent, TextDelta
from desktop.core.models import ProviderKind
from desktop.core.states import FinishReason
from desktop.providers import anthropic, openai_chat
from tests.unit.providers.replay import replay

CHAT = ProviderKind.OPENAI_CHAT
RESPONSES = ProviderKind.OPENAI_RESPONSES
ANTHROPIC = ProviderKind.ANTHROPIC


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def finished(events: list[StreamEvent]) -> Finished:
    last = events[-1]
    assert isinstance(last, Finished), events
    return last


@pytest.mark.parametrize(
    ("kind", "fixture", "finish", "text"),
    [
        # Issue 15, defect 3: refusal deltas are the reply, and it ends as a refusal.
        (CHAT, "refusal.sse", FinishReason.REFUSAL, "I'm sorry, but I can't help with that."),
        (RESPONSES, "refusal.sse", FinishReason.REFUSAL, "I'm sorry, I can't help with that."),
        (ANTHROPIC, "refusal.sse", FinishReason.REFUSAL, "I can't help with"),
        # Defect 4: the stop reasons that used to read as a plain "complete".
        (CHAT, "unknown_and_empty_events.sse", FinishReason.LENGTH, "AB"),
        (RESPONSES, "incomplete.sse", FinishReason.LENGTH, "A long"),
        (ANTHROPIC, "unknown_events.sse", FinishReason.LENGTH, "Sunny."),
        (CHAT, "azure_content_filter.sse", FinishReason.CONTENT_FILTER, "The battle scene"),
        (RESPONSES, "content_filter.sse", FinishReason.CONTENT_FILTER, "The battle"),
        (CHAT, "tool_calls_only.sse", FinishReason.TOOL_CALLS, ""),
        (RESPONSES, "function_call_only.sse", FinishReason.TOOL_CALLS, ""),
        (ANTHROPIC, "tool_use_only.sse", FinishReason.TOOL_CALLS, ""),
        (ANTHROPIC, "pause_turn.sse", FinishReason.OTHER, "Let me search for that."),
        # And the ordinary end, whatever the dialect calls it.
        (CHAT, "normal.sse", FinishReason.STOP, "Hello! How can I help?"),
        (RESPONSES, "normal.sse", FinishReason.STOP, "Hi there!"),
        (ANTHROPIC, "normal.sse", FinishReason.STOP, "Hello! How can I help?"),
    ],
)
def test_each_dialect_says_why_the_reply_ended(
    kind: ProviderKind, fixture: str, finish: FinishReason, text: str
) -> None:
    events = replay(kind, fixture).events
    assert finished(events).finish is finish
    assert text_of(events) == text


def test_a_chat_completions_refusal_is_not_an_empty_reply() -> None:
    """Defect 3 exactly: ``{"content": null, "refusal": "..."}`` deltas."""
    events = replay(CHAT, "refusal.sse").events
    assert [e for e in events if isinstance(e, TextDelta)] == [
        TextDelta("I'm sorry"),
        TextDelta(","),
        TextDelta(" but I can't"),
        TextDelta(" help with that"),
        TextDelta("."),
    ]


@pytest.mark.parametrize(
    ("word", "finish"),
    [
        ("stop", FinishReason.STOP),
        ("length", FinishReason.LENGTH),
        ("content_filter", FinishReason.CONTENT_FILTER),
        ("tool_calls", FinishReason.TOOL_CALLS),
        ("function_call", FinishReason.TOOL_CALLS),
        ("eos_token", FinishReason.STOP),
        ("something_new", FinishReason.OTHER),
        (None, FinishReason.STOP),
    ],
)
def test_chat_completions_finish_reasons(word: str | None, finish: FinishReason) -> None:
    assert openai_chat.finish_of(word) is finish
    assert openai_chat.finish_of(word, refused=True) is FinishReason.REFUSAL


@pytest.mark.parametrize(
    ("word", "finish"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("model_context_window_exceeded", FinishReason.LENGTH),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("refusal", FinishReason.REFUSAL),
        ("pause_turn", FinishReason.OTHER),
        (None, FinishReason.STOP),
    ],
)
def test_anthropic_stop_reasons(word: str | None, finish: FinishReason) -> None:
    assert anthropic.finish_of(word) is finish


def test_finished_takes_a_plain_word_as_its_reason() -> None:
    assert Finished("length").finish is FinishReason.LENGTH
    assert Finished("made-up").finish is FinishReason.OTHER
    assert Finished().finish is FinishReason.STOP


def test_every_reason_but_stop_has_words_for_the_user() -> None:
    assert FinishReason.STOP.human is None
    for reason in FinishReason:
        if reason is not FinishReason.STOP:
            assert reason.human and reason.human.endswith(".")
