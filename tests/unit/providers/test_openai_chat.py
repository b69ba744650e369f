"""Chat Completions: recorded streams replayed over loopback, and request shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import (
    Failed,
    Finished,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import FinishReason, Role
from desktop.providers.openai_chat import CONTINUE_PROMPT, OpenAIChatProvider
from desktop.providers.sse import SSEEvent
from tests.support import collect, fixture_bytes
from tests.support.aio import run
from tests.support.raw_server import RawServer, Reply, split_events

REQUEST = ChatRequest(model="gpt-4o-mini", turns=(ChatTurn(Role.USER, "Hi"),), max_tokens=64)
ENDED_EARLY = Failed(
    ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
)


def config(server: RawServer, **overrides: object) -> ProviderConfig:
    values: dict[str, object] = {
        "kind": ProviderKind.OPENAI_CHAT,
        "base_url": server.base_url + "/v1",
        "api_key": "sk-test-key",
        "read_timeout": 5.0,
    }
    values.update(overrides)
    return ProviderConfig(**values)  # type: ignore[arg-type]


def replay(
    chunks: Sequence[bytes], *, request: ChatRequest = REQUEST, **reply: Any
) -> tuple[list[StreamEvent], RawServer]:
    async def main(server: RawServer) -> list[StreamEvent]:
        provider = OpenAIChatProvider(config(server))
        try:
            return await collect(provider.stream(request))
        finally:
            await provider.aclose()

    with RawServer(Reply(chunks=chunks, **reply)) as server:
        return run(main(server)), server


def replay_fixture(name: str, **reply: Any) -> list[StreamEvent]:
    return replay(split_events(fixture_bytes("openai_chat", name)), **reply)[0]


NORMAL = [
    TextDelta("Hello"),
    TextDelta("!"),
    TextDelta(" How can I help?"),
    UsageReport(19, 7),
    Finished("stop", "gpt-4o-mini-2024-07-18"),
]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("normal.sse", NORMAL),
        ("crlf.sse", NORMAL),
        (
            "error_after_200.sse",
            [
                TextDelta("Partial"),
                Failed(
                    ProviderError(
                        ErrorKind.SERVER, "Upstream provider returned an error: connection reset"
                    )
                ),
            ],
        ),
        (
            "done_no_trailing_blank.sse",
            [TextDelta("Done"), TextDelta("."), Finished("stop", "qwen2.5:7b")],
        ),
        (
            "llamacpp_error_line.sse",
            [
                TextDelta("The"),
                Failed(
                    ProviderError(
                        ErrorKind.SERVER,
                        "the request exceeds the available context size, try increasing it",
                    )
                ),
            ],
        ),
        (
            "vllm_abort.sse",
            [
                TextDelta("Once upon"),
                Failed(ProviderError(ErrorKind.SERVER, "the server aborted the generation")),
            ],
        ),
        (
            "ollama_reasoning.sse",
            [
                ReasoningDelta("The user greets"),
                ReasoningDelta(" me."),
                TextDelta("Hi there"),
                UsageReport(11, 24),
                Finished("stop", "qwen3:8b"),
            ],
        ),
        (
            "deepseek_reasoning_content.sse",
            [
                ReasoningDelta("2 plus 2"),
                TextDelta("4"),
                UsageReport(12, 30),
                Finished("stop", "deepseek-reasoner"),
            ],
        ),
        (
            "unknown_and_empty_events.sse",
            [TextDelta("A"), TextDelta("B"), Finished(FinishReason.LENGTH, "llama-3.1-8b-instant")],
        ),
        ("truncated.sse", [TextDelta("Half of"), TextDelta(" a reply"), ENDED_EARLY]),
        ("no_done_with_finish.sse", [TextDelta("Short."), Finished("stop", "local-model")]),
    ],
)
def test_fixture_replay(fixture: str, expected: list[StreamEvent]) -> None:
    assert replay_fixture(fixture) == expected


def test_done_without_any_newline_when_body_ends_by_closing() -> None:
    events = replay_fixture("done_no_trailing_blank.sse", framing="close")
    assert events[-1] == Finished("stop", "qwen2.5:7b")


@pytest.mark.parametrize("char", ["ü", "你", "🎉"])
def test_multibyte_character_split_across_network_chunks(char: str) -> None:
    body = fixture_bytes("openai_chat", "utf8_multibyte.sse")
    cut = body.index(char.encode()) + 1  # inside the character
    events, _ = replay([body[:cut], body[cut:]])
    assert events == [
        TextDelta("Grüße 你好 🎉"),
        TextDelta(" line\u2028sep — ok"),
        Finished("stop", "local"),
    ]


def test_malformed_json_fails_with_a_snippet() -> None:
    events = replay_fixture("malformed.sse")
    assert events[0] == TextDelta("ok")
    assert len(events) == 2
    failed = events[1]
    assert isinstance(failed, Failed)
    assert failed.error.kind is ErrorKind.PROTOCOL
    assert '"content":"bro' in failed.error.detail
    assert len(failed.error.detail) < 120


def test_connection_cut_mid_body_fails_with_connection() -> None:
    body = split_events(fixture_bytes("openai_chat", "normal.sse"))
    events, _ = replay(body[:3], ending="close")
    assert events[:2] == [TextDelta("Hello"), TextDelta("!")]
    assert len(events) == 3 and isinstance(events[2], Failed)
    assert events[2].error.kind is ErrorKind.CONNECTION
    assert events[2].error.detail.startswith("the connection to 127.0.0.1:")


def test_connection_reset_mid_body_fails_with_connection() -> None:
    body = split_events(fixture_bytes("openai_chat", "normal.sse"))
    events, _ = replay(body[:3], ending="reset")
    # A reset may discard bytes the client had not read yet, so only a prefix
    # of the text is certain to arrive.
    assert events[:-1] == [TextDelta("Hello"), TextDelta("!")][: len(events) - 1]
    assert isinstance(events[-1], Failed)
    assert events[-1].error.kind is ErrorKind.CONNECTION


def test_request_shape_headers_and_path() -> None:
    request = ChatRequest(
        model="llama3",
        turns=(
            ChatTurn(Role.USER, "Hi"),
            ChatTurn(Role.ASSISTANT, "Hey"),
            ChatTurn(Role.USER, "?"),
        ),
        system="Be brief.",
        max_tokens=99,
    )

    async def main(server: RawServer) -> None:
        provider = OpenAIChatProvider(
            config(server, extra_headers=(("HTTP-Referer", "https://sidestream.app"),))
        )
        await collect(provider.stream(request))
        await provider.aclose()

    with RawServer(Reply(chunks=[b"data: [DONE]\n\n"])) as server:
        run(main(server))
        sent = server.last_request
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer sk-test-key"
    assert sent.headers["http-referer"] == "https://sidestream.app"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {
        "model": "llama3",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hey"},
            {"role": "user", "content": "?"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 99,
    }


def test_continue_partial_sends_partial_then_a_follow_up_turn() -> None:
    request = ChatRequest(
        model="gpt-4o-mini",
        turns=(ChatTurn(Role.USER, "Count to 10"), ChatTurn(Role.ASSISTANT, "1, 2, 3,")),
        continue_partial=True,
    )
    _, server = replay([b"data: [DONE]\n\n"], request=request)
    messages = server.last_request.json()["messages"]
    assert messages == [
        {"role": "user", "content": "Count to 10"},
        {"role": "assistant", "content": "1, 2, 3,"},
        {"role": "user", "content": CONTINUE_PROMPT},
    ]
    assert "continue_final_message" not in server.last_request.json()


def test_no_key_sends_no_authorization_header() -> None:
    async def main(server: RawServer) -> None:
        provider = OpenAIChatProvider(config(server, api_key=None))
        await collect(provider.stream(REQUEST))
        await provider.aclose()

    with RawServer(Reply(chunks=[b"data: [DONE]\n\n"])) as server:
        run(main(server))
        assert "authorization" not in server.last_request.headers


def test_list_models_sorted_ids() -> None:
    body = (
        b'{"object":"list","data":[{"id":"qwen3:8b","object":"model","created":1,"owned_by":"library"},'
        b'{"id":"gemma3:4b","object":"model","created":1,"owned_by":"library"},{"object":"model"}]}'
    )

    async def main(server: RawServer) -> list[str]:
        provider = OpenAIChatProvider(config(server))
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    reply = Reply(headers=[("Content-Type", "application/json")], chunks=[body], framing="length")
    with RawServer(reply) as server:
        assert run(main(server)) == ["gemma3:4b", "qwen3:8b"]
        assert (server.last_request.method, server.last_request.path) == ("GET", "/v1/models")
        assert server.last_request.headers["authorization"] == "Bearer sk-test-key"


def test_list_models_error_raises_provider_error() -> None:
    async def main(server: RawServer) -> None:
        provider = OpenAIChatProvider(config(server))
        try:
            await provider.list_models()
        finally:
            await provider.aclose()

    reply = Reply(
        status=401,
        headers=[("Content-Type", "application/json")],
        chunks=[b'{"error":{"message":"Invalid key","type":"invalid_request_error"}}'],
    )
    with RawServer(reply) as server, pytest.raises(ProviderError) as caught:
        run(main(server))
    assert (caught.value.kind, caught.value.status, caught.value.detail) == (
        ErrorKind.AUTH,
        401,
        "Invalid key",
    )


def test_not_resumable() -> None:
    provider = OpenAIChatProvider(
        ProviderConfig(kind=ProviderKind.OPENAI_CHAT, base_url="http://127.0.0.1:9/v1")
    )
    assert provider.resumable is False
    with pytest.raises(NotImplementedError):
        provider.resume("x:1")
    assert run(provider.status("x:1")) is None
    assert run(provider.cancel("x:1")) is None
    run(provider.aclose())


def test_parser_ignores_chunk_shapes_it_does_not_know() -> None:
    from desktop.providers.openai_chat import ChatParser

    parser = ChatParser()
    assert list(parser.feed(SSEEvent("", "[1, 2]"))) == []
    assert list(parser.feed(SSEEvent("", '{"choices":[{"index":0}]}'))) == []
    assert list(parser.feed(SSEEvent("", '{"object":"chat.completion.chunk"}'))) == []
    assert not parser.done


def test_unexpected_shape_fails_as_protocol_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    events, _ = replay([b'data: {"choices":["not an object"]}\n\n', b"data: [DONE]\n\n"])
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].error.kind is ErrorKind.PROTOCOL
    assert any(r.levelname == "WARNING" and r.exc_info for r in caplog.records)
