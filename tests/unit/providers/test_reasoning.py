"""Reasoning in every dialect: parsed apart from the answer, signed blocks kept,
and sent back in later requests only where the API wants them (issue 15)."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from desktop.core.events import (
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    StreamEvent,
    TextDelta,
)
from desktop.core.models import ChatRequest, ChatTurn, ProviderKind, ReasoningBlock
from desktop.core.states import Role
from desktop.providers.openai_chat import ThinkTags
from tests.unit.providers.replay import replay

CHAT = ProviderKind.OPENAI_CHAT
RESPONSES = ProviderKind.OPENAI_RESPONSES
ANTHROPIC = ProviderKind.ANTHROPIC
SIGNED = ReasoningBlock.signed("I worked it out.", "c2lnbmF0dXJl")
REDACTED = ReasoningBlock.redacted("ZW5jcnlwdGVk")


def reasoning_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# --- Chat Completions: <think> at the start of the content ------------------------


def test_think_tags_cut_across_deltas_are_reasoning() -> None:
    events = replay(CHAT, "ollama_think_tags.sse").events
    assert reasoning_of(events) == "Okay, the user says hi."
    assert text_of(events) == "Hello! How can I help?"


def split_feed(text: str, cuts: list[int]) -> list[StreamEvent]:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    tags = ThinkTags()
    events: list[StreamEvent] = []
    for a, b in itertools.pairwise(points):
        events.extend(tags.feed(text[a:b]))
    events.extend(tags.flush())
    return events


@given(
    st.text(alphabet="ab <>/\n", max_size=12).filter(lambda t: "</think>" not in t),
    st.text(alphabet="xy <>\n", max_size=12),
    st.lists(st.integers(0, 60), max_size=8),
)
def test_think_tags_split_anywhere_give_the_same_reasoning_and_text(
    thought: str, answer: str, cuts: list[int]
) -> None:
    content = f"<think>{thought}</think>\n\n{answer}"
    events = split_feed(content, cuts)
    # The white space after <think> and before </think> is no reasoning.
    assert reasoning_of(events) == thought.strip()
    assert text_of(events) == answer.lstrip()


@given(
    st.text(alphabet="ab <>/thinkg\n", max_size=20).filter(
        lambda t: not t.lstrip().startswith("<think>") and not "<think>".startswith(t.lstrip())
    ),
    st.lists(st.integers(0, 30), max_size=6),
)
def test_content_that_does_not_begin_with_the_tag_is_all_text(
    content: str, cuts: list[int]
) -> None:
    events = split_feed(content, cuts)
    assert reasoning_of(events) == ""
    assert text_of(events) == content


def test_a_tag_later_in_the_reply_is_text() -> None:
    events = split_feed("Use <think>tags</think> like this.", [3, 9])
    assert text_of(events) == "Use <think>tags</think> like this."


def test_a_reply_cut_inside_its_thinking_keeps_what_it_thought() -> None:
    events = split_feed("<think>half a tho</th", [9, 14])
    assert reasoning_of(events) == "half a tho</th"
    assert text_of(events) == ""


# --- Anthropic: signed and redacted thinking -----------------------------------------


def test_anthropic_thinking_streams_with_its_signature_and_redacted_blocks() -> None:
    events = replay(ANTHROPIC, "thinking_signed_and_redacted.sse").events
    kinds = [e for e in events if isinstance(e, ReasoningDelta | ReasoningSignature)]
    assert kinds[-1] == ReasoningSignature(
        "ErUBCkYIBhgCIkDg7sXm3v0Z1dHk9Qx2Lr4Jt8Wc6Yp0Nb3Ma5Sf7Ug9Ih1Jj3Kk5Ll7Mm9Nn1Oo3Pp5Qq7"
        "Rr9Ss1Tt3Uu5Vv7Ww9EgxQmL8Rk2Nj4Pq6St8UaDFs0dGhpbmtpbmcxIjA="
    )
    assert reasoning_of(events) == (
        "The user asks for 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391."
    )
    [redacted] = [e for e in events if isinstance(e, RedactedReasoning)]
    assert redacted.data.startswith("EmwKAhgBEgy3va3pzix")
    assert text_of(events) == "17 × 23 = 391."


def test_anthropic_sends_the_blocks_back_unchanged_before_the_text() -> None:
    request = ChatRequest(
        model="claude-sonnet-4-0",
        turns=(
            ChatTurn(Role.USER, "17 × 23?"),
            ChatTurn(Role.ASSISTANT, "391.", (SIGNED, REDACTED)),
            ChatTurn(Role.USER, "And 17 × 24?"),
        ),
    )
    sent = replay(ANTHROPIC, "normal.sse", request).request.json()
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I worked it out.", "signature": "c2lnbmF0dXJl"},
            {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
            {"type": "text", "text": "391."},
        ],
    }
    assert sent["messages"][0] == {"role": "user", "content": "17 × 23?"}


def test_anthropic_prefill_goes_without_its_reasoning() -> None:
    # A Continue: a final assistant turn that holds thinking blocks is refused.
    request = ChatRequest(
        model="m",
        turns=(ChatTurn(Role.USER, "Go"), ChatTurn(Role.ASSISTANT, "Half of", (SIGNED,))),
        continue_partial=True,
    )
    sent = replay(ANTHROPIC, "normal.sse", request).request.json()
    assert sent["messages"][-1] == {"role": "assistant", "content": "Half of"}


def test_the_openai_dialects_leave_reasoning_blocks_out() -> None:
    request = ChatRequest(
        model="m",
        turns=(
            ChatTurn(Role.USER, "Q"),
            ChatTurn(Role.ASSISTANT, "A", (SIGNED,)),
            ChatTurn(Role.USER, "Q2"),
        ),
    )
    for kind in (CHAT, RESPONSES):
        body = replay(kind, "normal.sse", request).request.json()
        turns = body.get("messages") or body["input"]
        assert {"role": "assistant", "content": "A"} in turns
        assert "signature" not in json.dumps(body)


# --- Responses: reasoning summaries -----------------------------------------------


def test_responses_reasoning_summary_parts_are_set_apart() -> None:
    def event(seq: int, kind: str, **body: object) -> bytes:
        payload = {"type": kind, "sequence_number": seq, **body}
        return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()

    where = {"item_id": "rs_1", "output_index": 0}
    chunks = [
        event(0, "response.created", response={"id": "resp_1", "model": "o4-mini"}),
        event(1, "response.reasoning_summary_part.added", **where, summary_index=0),
        event(2, "response.reasoning_summary_text.delta", **where, summary_index=0, delta="**A**"),
        event(3, "response.reasoning_summary_part.added", **where, summary_index=1),
        event(4, "response.reasoning_summary_text.delta", **where, summary_index=1, delta="**B**"),
        event(5, "response.output_text.delta", item_id="msg_1", delta="Done."),
        event(6, "response.completed", response={"id": "resp_1", "status": "completed"}),
    ]
    events = replay(RESPONSES, chunks).events
    assert reasoning_of(events) == "**A**\n\n**B**"
    assert text_of(events) == "Done."
