"""Anthropic Messages as the demo serves it: the real event sequence."""

from __future__ import annotations

import httpx

from desktop.providers.demo import DemoServer, demo_reply, demo_reply_tokens

from .helpers import MESSAGES, messages_body, messages_text, stream


def test_stream_is_the_real_event_sequence(server: DemoServer) -> None:
    got = stream(server.anthropic_base_url + MESSAGES, messages_body("claude"))
    assert got.error is None and got.status == 200
    assert got.headers["content-type"] == "text/event-stream; charset=utf-8"
    names = [e.event for e in got.events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 20,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for event in got.events:
        assert event.json()["type"] == event.event
    start = got.events[0].json()["message"]
    assert start["id"].startswith("msg_") and start["role"] == "assistant"
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] >= 1
    assert got.events[1].json()["content_block"] == {"type": "text", "text": ""}
    delta = got.events[3].json()
    assert delta["index"] == 0 and delta["delta"]["type"] == "text_delta"
    final = got.events[-2].json()
    assert final["delta"]["stop_reason"] == "end_turn"
    assert final["usage"] == {"output_tokens": 20}
    assert messages_text(got.events) == demo_reply("claude", 20)


def test_max_tokens_stops_with_stop_reason_max_tokens(server: DemoServer) -> None:
    got = stream(server.anthropic_base_url + MESSAGES, messages_body("cap", max_tokens=4))
    assert got.events[-2].json()["delta"]["stop_reason"] == "max_tokens"
    assert messages_text(got.events) == "".join(demo_reply_tokens("cap", 20)[:4])


def test_prefill_continues_the_reply(server: DemoServer) -> None:
    full = demo_reply("prefilled", 20)
    prefill = full[:40].rstrip()
    body = messages_body("prefilled")
    body["messages"].append({"role": "assistant", "content": prefill})
    got = stream(server.anthropic_base_url + MESSAGES, body)
    assert prefill + messages_text(got.events) == full


def test_non_streamed_message(server: DemoServer) -> None:
    with httpx.Client() as client:
        response = client.post(
            server.anthropic_base_url + MESSAGES,
            json=messages_body("whole", stream=False),
            headers={"anthropic-version": "2023-06-01", "x-api-key": "k"},
        )
    body = response.json()
    assert response.status_code == 200
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": demo_reply("whole", 20)}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["output_tokens"] == 20
    assert response.headers["request-id"].startswith("req_")


def test_models_in_anthropic_shape(server: DemoServer) -> None:
    with httpx.Client() as client:
        response = client.get(
            server.anthropic_base_url + "/v1/models", headers={"anthropic-version": "2023-06-01"}
        )
    body = response.json()
    assert body["has_more"] is False
    assert [m["type"] for m in body["data"]] == ["model"] * len(body["data"])
    assert body["first_id"] == body["data"][0]["id"] == "sidestream-demo"
