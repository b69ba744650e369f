"""The demo's knobs for issue 15, on the wire: reasoning, refusal, a length finish,
keep-alives while silent, and Anthropic's signed thinking checked when it comes back."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.providers.demo import DemoServer
from desktop.providers.demo.replies import (
    REFUSAL_TEXT,
    demo_reasoning,
    demo_reply,
    demo_reply_tokens,
    thinking_signature,
)
from tests.unit.providers.demo.helpers import (
    CHAT,
    MESSAGES,
    RESPONSES,
    Event,
    chat_body,
    chat_text,
    messages_body,
    messages_text,
    responses_body,
    responses_text,
    stream,
)


def payloads(events: list[Event]) -> list[dict[str, Any]]:
    return [e.json() for e in events if e.data != "[DONE]"]


def chat_field(events: list[Event], name: str) -> str:
    return "".join(
        choice["delta"].get(name) or ""
        for payload in payloads(events)
        for choice in payload.get("choices", [])
    )


# --- reasoning ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_chat_reasoning_comes_first_in_the_chosen_field(server: DemoServer, field: str) -> None:
    got = stream(
        server.url + CHAT, chat_body("why"), options=f"reasoning=7;reasoning_format={field}"
    )
    assert chat_field(got.events, field) == demo_reasoning("why", 7)
    assert chat_text(got.events) == demo_reply("why", 20)
    # All of the reasoning before any of the answer.
    kinds = [
        "r" if choice["delta"].get(field) else "t"
        for payload in payloads(got.events)
        for choice in payload.get("choices", [])
        if choice["delta"].get(field) or choice["delta"].get("content")
    ]
    assert kinds == ["r"] * 7 + ["t"] * 20


def test_chat_think_tags_lead_the_content(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("why"), options="reasoning=5;reasoning_format=think")
    content = chat_text(got.events)
    assert content == f"<think>\n{demo_reasoning('why', 5)}\n</think>\n\n{demo_reply('why', 20)}"


def test_responses_reasoning_is_a_summarized_reasoning_item(server: DemoServer) -> None:
    got = stream(server.url + RESPONSES, responses_body("why"), options="reasoning=6")
    names = [e.event for e in got.events]
    summary = "".join(
        e.json()["delta"] for e in got.events if e.event == "response.reasoning_summary_text.delta"
    )
    assert summary == demo_reasoning("why", 6)
    assert responses_text(got.events) == demo_reply("why", 20)
    assert names.index("response.reasoning_summary_text.done") < names.index(
        "response.output_text.delta"
    )
    numbers = [e.json()["sequence_number"] for e in got.events]
    assert numbers == list(range(len(numbers)))
    completed = got.events[-1].json()["response"]
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message"]
    deltas = [e.json() for e in got.events if e.event == "response.output_text.delta"]
    assert {d["output_index"] for d in deltas} == {1}


def test_anthropic_thinking_is_a_signed_block_before_the_text(server: DemoServer) -> None:
    got = stream(server.url + MESSAGES, messages_body("why"), options="reasoning=6")
    starts = [e.json()["content_block"] for e in got.events if e.event == "content_block_start"]
    assert [block["type"] for block in starts] == ["thinking", "text"]
    deltas = [e.json()["delta"] for e in got.events if e.event == "content_block_delta"]
    thinking = "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta")
    [signature] = [d["signature"] for d in deltas if d["type"] == "signature_delta"]
    assert thinking == demo_reasoning("why", 6)
    assert signature == thinking_signature(thinking)
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")
    assert text == demo_reply("why", 20)


def test_a_thinking_block_sent_back_changed_is_refused(server: DemoServer) -> None:
    thinking = demo_reasoning("why", 6)
    turns = [
        {"role": "user", "content": "why"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": thinking, "signature": "forged"},
                {"type": "text", "text": "Because."},
            ],
        },
        {"role": "user", "content": "really?"},
    ]
    got = stream(server.url + MESSAGES, {**messages_body(), "messages": turns})
    assert got.status == 400
    assert "messages.1.content.0: Invalid `signature` in `thinking` block" in got.text
    turns[1]["content"][0]["signature"] = thinking_signature(thinking)  # type: ignore[index]
    fine = stream(server.url + MESSAGES, {**messages_body(), "messages": turns})
    assert fine.status == 200


# --- refusal and finish -------------------------------------------------------------


def test_refusals_in_each_dialect(server: DemoServer) -> None:
    chat = stream(server.url + CHAT, chat_body(), options="refusal=1")
    assert chat_field(chat.events, "refusal") == REFUSAL_TEXT
    assert chat_text(chat.events) == ""
    responses = stream(server.url + RESPONSES, responses_body(), options="refusal=1")
    refusal = "".join(
        e.json()["delta"] for e in responses.events if e.event == "response.refusal.delta"
    )
    assert refusal == REFUSAL_TEXT
    output = responses.events[-1].json()["response"]["output"]
    assert output[0]["content"] == [{"type": "refusal", "refusal": REFUSAL_TEXT}]
    messages = stream(server.url + MESSAGES, messages_body(), options="refusal=1")
    assert messages_text(messages.events) == REFUSAL_TEXT
    [delta] = [e.json() for e in messages.events if e.event == "message_delta"]
    assert delta["delta"]["stop_reason"] == "refusal"


def test_finish_length_cuts_the_reply_mid_text_in_each_dialect(server: DemoServer) -> None:
    cut = "".join(demo_reply_tokens("hello", 2 * 20 + 8)[:20])
    chat = stream(server.url + CHAT, chat_body(), options="finish=length")
    assert chat_text(chat.events) == cut
    reasons = [c["finish_reason"] for p in payloads(chat.events) for c in p.get("choices", [])]
    assert reasons[-1] == "length"
    responses = stream(server.url + RESPONSES, responses_body(), options="finish=length")
    assert responses_text(responses.events) == cut
    last = responses.events[-1].json()
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    messages = stream(server.url + MESSAGES, messages_body(), options="finish=length")
    assert messages_text(messages.events) == cut
    [delta] = [e.json() for e in messages.events if e.event == "message_delta"]
    assert delta["delta"]["stop_reason"] == "max_tokens"


def test_a_request_max_tokens_already_cuts_with_the_length_finish(server: DemoServer) -> None:
    chat = stream(server.url + CHAT, chat_body(max_tokens=5))
    reasons = [c["finish_reason"] for p in payloads(chat.events) for c in p.get("choices", [])]
    assert reasons[-1] == "length"
    assert chat_text(chat.events) == "".join(demo_reply_tokens("hello", 20)[:5])


@pytest.mark.parametrize("options", ["finish=sideways", "reasoning_format=xml"])
def test_an_unknown_knob_value_is_refused(server: DemoServer, options: str) -> None:
    got = stream(server.url + CHAT, chat_body(), options=options)
    assert got.status == 400
    assert "demo option" in got.text


# --- the long silent wait --------------------------------------------------------------


def test_anthropic_pings_while_silent_before_the_first_token(server: DemoServer) -> None:
    got = stream(
        server.url + MESSAGES,
        messages_body(),
        options="first_token_delay=0.5;keepalive=0.1",
    )
    names = [e.event for e in got.events]
    first_text = names.index("content_block_delta")
    # The preamble's ping, then one about every 0.1 s of the 0.5 s wait.
    assert 4 <= names[:first_text].count("ping") <= 7
    assert messages_text(got.events) == demo_reply("hello", 20)


def test_the_openai_dialects_stay_silent_as_openai_does(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body(), options="first_token_delay=0.3;keepalive=0.1")
    assert all(line.startswith(b"data: ") for line in got.raw.split(b"\n") if line)
    assert chat_text(got.events) == demo_reply("hello", 20)
