"""How streams end and what servers get wrong, replayed from recordings (issue 15, 6-8).

Each test failed before issue 15: the final event waited up to a second for
a server that keeps the connection open; ``data: [DONE] `` was malformed;
the chunks of a second choice were interleaved into the text; a Responses
stream numbering every event alike lost all but its first; an error with no
full stop ran into "Retry after"; an empty 200 read as a cut stream.
"""

from __future__ import annotations

import pytest

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import CursorUpdate, Failed, Finished, StreamEvent, TextDelta, UsageReport
from desktop.core.models import ProviderKind
from desktop.core.states import FinishReason
from desktop.providers.openai_responses import make_cursor, parse_cursor
from tests.unit.providers.replay import replay

CHAT = ProviderKind.OPENAI_CHAT
RESPONSES = ProviderKind.OPENAI_RESPONSES
ANTHROPIC = ProviderKind.ANTHROPIC
SSE = (("Content-Type", "text/event-stream"),)


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# --- 6: the final event is not held while the server keeps the connection open ---


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        (CHAT, "done_then_held_open.sse"),
        (RESPONSES, "completed_then_held_open.sse"),
        (ANTHROPIC, "message_stop_then_held_open.sse"),
    ],
)
def test_the_final_event_comes_at_once_though_the_server_keeps_the_connection(
    kind: ProviderKind, fixture: str
) -> None:
    # "stall": after the last event the server sends nothing and keeps the
    # connection open until the client closes it.
    timed = replay(kind, fixture, ending="stall")
    end = next(i for i, e in enumerate(timed.events) if isinstance(e, Finished))
    assert text_of(timed.events) == "Quick answer."
    # It used to be read only after a 1 s wait for the body's end.
    assert timed.at[end] < 0.5, timed.at


# --- 7: what servers get wrong ---------------------------------------------------------


def test_done_with_trailing_white_space_ends_the_reply() -> None:
    events = replay(CHAT, "done_with_trailing_space.sse").events
    assert events == [TextDelta("Fine"), TextDelta("."), Finished(FinishReason.STOP, "local-model")]


def test_only_the_first_choice_is_the_reply() -> None:
    events = replay(CHAT, "two_choices.sse").events
    assert text_of(events) == "Red sky at dawn."
    # The finish is choice 0's (choice 1 stopped first).
    assert events[-1] == Finished(FinishReason.LENGTH, "gpt-4o-mini-2024-07-18")
    assert UsageReport(14, 12) in events


def test_a_responses_stream_that_numbers_every_event_alike_keeps_them_all() -> None:
    events = replay(RESPONSES, "same_sequence_number.sse").events
    assert text_of(events) == "Same number, every event."
    assert isinstance(events[-1], Finished)
    # Its numbers cannot be resumed from: the cursor names the response only.
    rid = "resp_68b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3"
    assert events[0] == CursorUpdate(make_cursor(rid, 0))
    last = [e for e in events if isinstance(e, TextDelta)][-1]
    assert last.cursor == f"{rid}:" and parse_cursor(last.cursor) == (rid, None)


def test_a_repeated_event_is_still_dropped() -> None:
    # resume_after_6.sse holds seq 7 twice, as a proxy's retry would.
    events = replay(RESPONSES, "resume_after_6.sse").events
    assert text_of(events) == " there!"


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        ("Overloaded", "The provider is overloaded (HTTP 529): Overloaded. Retry after 1 s."),
        ("Overloaded.", "The provider is overloaded (HTTP 529): Overloaded. Retry after 1 s."),
        ("Slow down!", "The provider is overloaded (HTTP 529): Slow down! Retry after 1 s."),
        ("", "The provider is overloaded (HTTP 529). Retry after 1 s."),
    ],
)
def test_an_error_message_ends_its_sentence_before_the_next(detail: str, message: str) -> None:
    error = ProviderError(ErrorKind.OVERLOADED, detail, status=529, retry_after=1.0)
    assert error.message == message


def test_an_overloaded_answer_reads_as_two_sentences() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    timed = replay(
        ANTHROPIC,
        [body],
        status=529,
        headers=(("Content-Type", "application/json"), ("retry-after", "1")),
    )
    [failed] = timed.events
    assert isinstance(failed, Failed)
    assert failed.error.message == (
        "The provider is overloaded (HTTP 529): Overloaded. Retry after 1 s."
    )


# --- 8: llama.cpp's empty answer to a prompt longer than its context -------------------


def test_an_empty_event_stream_says_what_probably_happened() -> None:
    [failed] = replay(CHAT, "llamacpp_context_exceeded_empty.sse", headers=SSE).events
    assert isinstance(failed, Failed)
    error = failed.error
    assert error.kind is ErrorKind.EMPTY_REPLY
    assert "ended before the reply was complete" not in error.message
    assert error.message.startswith("The provider sent an empty reply (HTTP 200): not one event.")
    assert "longer than the model's context window" in error.message


def test_a_stream_with_events_but_no_end_is_still_cut_short() -> None:
    # Not empty: the old message is right for it.
    chunks = [b'data: {"choices":[{"index":0,"delta":{"content":"Half"}}]}\n\n']
    events = replay(CHAT, chunks).events
    assert events[-1] == Failed(
        ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
    )
