"""Anthropic Messages: recorded streams, error events, prefill and headers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import (
    Failed,
    Finished,
    ReasoningDelta,
    ReasoningSignature,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import FinishReason, Role
from desktop.providers.anthropic import AnthropicProvider
from tests.support import collect, fixture_bytes
from tests.support.aio import run
from tests.support.raw_server import RawServer, RecordedRequest, Reply, split_events

MODEL = "claude-sonnet-4-20250514"
REQUEST = ChatRequest(model="claude-sonnet-4-0", turns=(ChatTurn(Role.USER, "Hi"),), max_tokens=512)


def config(server: RawServer, *, base_suffix: str = "", **overrides: object) -> ProviderConfig:
    values: dict[str, object] = {
        "kind": ProviderKind.ANTHROPIC,
        "base_url": server.base_url + base_suffix,
        "api_key": "sk-ant-test",
        "read_timeout": 5.0,
    }
    values.update(overrides)
    return ProviderConfig(**values)  # type: ignore[arg-type]


def replay(
    chunks: Sequence[bytes], request: ChatRequest = REQUEST, *, base_suffix: str = ""
) -> tuple[list[StreamEvent], RecordedRequest]:
    async def main(server: RawServer) -> list[StreamEvent]:
        provider = AnthropicProvider(config(server, base_suffix=base_suffix))
        try:
            return await collect(provider.stream(request))
        finally:
            await provider.aclose()

    with RawServer(Reply(chunks=chunks)) as server:
        return run(main(server)), server.last_request


def fixture(name: str) -> list[bytes]:
    return split_events(fixture_bytes("anthropic", name))


NORMAL: list[StreamEvent] = [
    UsageReport(472, None),
    TextDelta("Hello"),
    TextDelta("! How can I help?"),
    UsageReport(472, 15),
    Finished(FinishReason.STOP, MODEL),
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("normal.sse", NORMAL),
        ("crlf.sse", NORMAL),
        (
            "truncated.sse",
            [
                UsageReport(472, None),
                TextDelta("Hello"),
                TextDelta("! How can I help?"),
                Failed(
                    ProviderError(
                        ErrorKind.CONNECTION, "the stream ended before the reply was complete"
                    )
                ),
            ],
        ),
        (
            "thinking.sse",
            [
                UsageReport(472, None),
                ReasoningDelta("Let me solve this step by step:\n\n1. First break down 27 * 453"),
                ReasoningSignature("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."),
                TextDelta("27 * 453 = 12,231"),
                UsageReport(472, 120),
                Finished(FinishReason.STOP, MODEL),
            ],
        ),
        (
            "overloaded_error.sse",
            [
                UsageReport(472, None),
                TextDelta("Sure"),
                Failed(ProviderError(ErrorKind.OVERLOADED, "Overloaded")),
            ],
        ),
        (
            "unknown_events.sse",
            [
                UsageReport(472, None),
                TextDelta("Sunny."),
                UsageReport(480, 64),
                Finished(FinishReason.LENGTH, MODEL),
            ],
        ),
    ],
)
def test_fixture_replay(name: str, expected: list[StreamEvent]) -> None:
    assert replay(fixture(name))[0] == expected


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", ErrorKind.OVERLOADED),
        ("rate_limit_error", ErrorKind.RATE_LIMIT),
        ("authentication_error", ErrorKind.AUTH),
        ("api_error", ErrorKind.SERVER),
    ],
)
def test_error_event_kinds(error_type: str, kind: ErrorKind) -> None:
    error = b'event: error\ndata: {"type":"error","error":{"type":"%s","message":"Nope"}}\n\n'
    chunks = [*fixture("normal.sse")[:1], error % error_type.encode()]
    assert replay(chunks)[0] == [UsageReport(472, None), Failed(ProviderError(kind, "Nope"))]


def test_request_shape_and_headers() -> None:
    request = ChatRequest(
        model="claude-sonnet-4-0",
        turns=(
            ChatTurn(Role.SYSTEM, "Extra rule."),
            ChatTurn(Role.USER, "Hi"),
            ChatTurn(Role.ASSISTANT, "Hello"),
            ChatTurn(Role.USER, "?"),
        ),
        system="Be kind.",
        max_tokens=77,
    )
    _, sent = replay(fixture("normal.sse"), request)
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.json() == {
        "model": "claude-sonnet-4-0",
        "max_tokens": 77,
        "system": "Be kind.\n\nExtra rule.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "?"},
        ],
        "stream": True,
    }


def test_base_url_with_v1_is_tolerated() -> None:
    _, sent = replay(fixture("normal.sse"), base_suffix="/v1/")
    assert sent.path == "/v1/messages"


def test_continue_partial_sends_stripped_prefill_and_continues_it() -> None:
    request = ChatRequest(
        model="claude-sonnet-4-0",
        turns=(ChatTurn(Role.USER, "Say hello world"), ChatTurn(Role.ASSISTANT, "Hello \n")),
        continue_partial=True,
    )
    events, sent = replay(fixture("prefill_continuation.sse"), request)
    assert sent.json()["messages"][-1] == {"role": "assistant", "content": "Hello"}
    # The caller still holds "Hello \n"; the model's leading space is not doubled.
    assert events == [
        UsageReport(472, None),
        TextDelta("world"),
        TextDelta(", as I was saying."),
        UsageReport(472, 8),
        Finished(FinishReason.STOP, MODEL),
    ]


def test_continue_partial_with_blank_partial_drops_the_prefill() -> None:
    request = ChatRequest(
        model="m",
        turns=(ChatTurn(Role.USER, "Go"), ChatTurn(Role.ASSISTANT, "  ")),
        continue_partial=True,
    )
    _, sent = replay(fixture("normal.sse"), request)
    assert sent.json()["messages"] == [{"role": "user", "content": "Go"}]


def test_list_models() -> None:
    body = (
        b'{"data":[{"type":"model","id":"claude-sonnet-4-20250514",'
        b'"display_name":"Claude Sonnet 4","created_at":"2025-05-22T00:00:00Z"},'
        b'{"type":"model","id":"claude-3-5-haiku-20241022",'
        b'"display_name":"Claude Haiku 3.5","created_at":"2024-10-22T00:00:00Z"}],'
        b'"has_more":false,"first_id":"claude-sonnet-4-20250514","last_id":"claude-3-5-haiku-20241022"}'
    )

    async def main(server: RawServer) -> list[str]:
        provider = AnthropicProvider(config(server))
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    reply = Reply(headers=[("Content-Type", "application/json")], chunks=[body], framing="length")
    with RawServer(reply) as server:
        assert run(main(server)) == ["claude-3-5-haiku-20241022", "claude-sonnet-4-20250514"]
        sent = server.last_request
    assert (sent.method, sent.path) == ("GET", "/v1/models?limit=1000")
    assert sent.headers["x-api-key"] == "sk-ant-test"


def test_http_error_uses_anthropic_error_shape() -> None:
    async def main(server: RawServer) -> list[StreamEvent]:
        provider = AnthropicProvider(config(server))
        try:
            return await collect(provider.stream(REQUEST))
        finally:
            await provider.aclose()

    body = (
        b'{"type":"error","error":{"type":"invalid_request_error","message":'
        b'"messages: final assistant content cannot end with trailing whitespace"}}'
    )
    reply = Reply(status=400, headers=[("Content-Type", "application/json")], chunks=[body])
    with RawServer(reply) as server:
        events = run(main(server))
    assert events == [
        Failed(
            ProviderError(
                ErrorKind.BAD_REQUEST,
                "messages: final assistant content cannot end with trailing whitespace",
                status=400,
            )
        )
    ]
