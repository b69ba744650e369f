"""OpenAI Chat Completions as the demo serves it: the real chunk format."""

from __future__ import annotations

import httpx

from desktop.providers.demo import DemoServer, demo_reply, demo_reply_tokens

from .helpers import CHAT, chat_body, chat_text, stream


def test_stream_is_the_real_chunk_sequence(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("chunks"))
    assert got.error is None and got.status == 200
    assert got.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert got.headers["cache-control"] == "no-cache"
    events = got.events
    assert all(e.event is None for e in events)
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert all(c["model"] == "sidestream-demo" and isinstance(c["created"], int) for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    middle = chunks[1:-1]
    assert len(middle) == 20
    for c in middle:
        (choice,) = c["choices"]
        assert choice["index"] == 0 and choice["finish_reason"] is None
        assert set(choice["delta"]) == {"content"}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert "usage" not in chunks[0]
    assert chat_text(events) == demo_reply("chunks", 20)


def test_include_usage_adds_the_usage_chunk(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("usage", stream_options={"include_usage": True}))
    chunks = [e.json() for e in got.events[:-1]]
    assert all(c["usage"] is None for c in chunks[:-1])
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["completion_tokens"] == 20
    assert usage["total_tokens"] == usage["prompt_tokens"] + 20
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chat_text(got.events) == demo_reply("usage", 20)


def test_max_tokens_truncates_with_finish_reason_length(server: DemoServer) -> None:
    got = stream(
        server.url + CHAT, chat_body("short", max_completion_tokens=5), options="tokens=50"
    )
    chunks = [e.json() for e in got.events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chat_text(got.events) == "".join(demo_reply_tokens("short", 50)[:5])


def test_non_streamed_completion(server: DemoServer) -> None:
    with httpx.Client() as client:
        response = client.post(server.url + CHAT, json=chat_body("whole", stream=False))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    (choice,) = body["choices"]
    assert choice["message"] == {
        "role": "assistant",
        "content": demo_reply("whole", 20),
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 20


def test_continue_final_message_goes_on_from_the_partial_reply(server: DemoServer) -> None:
    full = demo_reply("long answer", 20)
    partial = full[:30]
    body = chat_body("long answer")
    body["messages"].append({"role": "assistant", "content": partial})
    body["continue_final_message"] = True
    got = stream(server.url + CHAT, body)
    assert partial + chat_text(got.events) == full
