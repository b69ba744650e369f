"""Shared HTTP plumbing: status and exception mapping, stalls, resets, cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from desktop.core.errors import ErrorKind, ProviderError, redact
from desktop.core.events import Failed, Finished, StreamEvent, TextDelta
from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import Role
from desktop.providers import http
from desktop.providers.http import (
    build_client,
    error_from_status,
    message_from_payload,
    parse_retry_after,
    snippet,
)
from desktop.providers.openai_chat import OpenAIChatProvider
from desktop.providers.sse import MAX_EVENT_CHARS
from tests.support import collect
from tests.support.aio import run
from tests.support.raw_server import RawServer, Reply, unused_port

REQUEST = ChatRequest(model="m", turns=(ChatTurn(Role.USER, "secret user text"),))
FIRST = (
    b'data: {"object":"chat.completion.chunk","model":"m","choices":'
    b'[{"index":0,"delta":{"content":"first"},"finish_reason":null}]}\n\n'
)
JSON = [("Content-Type", "application/json")]
SSE = [("Content-Type", "text/event-stream")]
NGINX_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
)


def chat_config(base_url: str, **overrides: object) -> ProviderConfig:
    values: dict[str, object] = {
        "kind": ProviderKind.OPENAI_CHAT,
        "base_url": base_url,
        "api_key": "sk-do-not-log-me",
        "read_timeout": 5.0,
    }
    values.update(overrides)
    return ProviderConfig(**values)  # type: ignore[arg-type]


async def stream_once(config: ProviderConfig) -> list[StreamEvent]:
    provider = OpenAIChatProvider(config)
    try:
        return await collect(provider.stream(REQUEST))
    finally:
        await provider.aclose()


def only_failure(events: list[StreamEvent]) -> ProviderError:
    assert len(events) == 1, events
    assert isinstance(events[0], Failed)
    return events[0].error


# --- HTTP error answers, through a real provider ---------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "detail"),
    [
        (
            401,
            JSON,
            b'{"error":{"message":"Incorrect API key provided: sk-do-n***-me.","type":'
            b'"invalid_request_error","param":null,"code":"invalid_api_key"}}',
            ErrorKind.AUTH,
            "Incorrect API key provided: sk-do-n***-me.",
        ),
        (
            403,
            JSON,
            b'{"error":"forbidden: unknown origin"}',
            ErrorKind.AUTH,
            "forbidden: unknown origin",
        ),
        (
            404,
            JSON,
            b'{"error":{"message":"The model `gpt-9` does not exist or you have no access to it.'
            b'","type":"invalid_request_error","param":null,"code":"model_not_found"}}',
            ErrorKind.NOT_FOUND,
            "The model `gpt-9` does not exist or you have no access to it.",
        ),
        (
            400,
            JSON,
            b'{"object":"error","message":"This model\'s maximum context length is 4096 tokens.",'
            b'"type":"BadRequestError","param":null,"code":400}',
            ErrorKind.BAD_REQUEST,
            "This model's maximum context length is 4096 tokens.",
        ),
        (
            422,
            JSON,
            b'{"detail":[{"type":"missing","loc":["body","model"],'
            b'"msg":"Field required","input":{}}]}',
            ErrorKind.BAD_REQUEST,
            "Field required",
        ),
        (
            413,
            [("Content-Type", "text/plain")],
            b"request entity\n too large",
            ErrorKind.BAD_REQUEST,
            "request entity too large",
        ),
        (
            500,
            JSON,
            b'{"detail":"Internal Server Error"}',
            ErrorKind.SERVER,
            "Internal Server Error",
        ),
        (
            502,
            [("Content-Type", "text/html")],
            b"<h1>Bad &amp; gateway</h1>",
            ErrorKind.SERVER,
            "Bad & gateway",
        ),
        (
            503,
            [("Content-Type", "text/html")],
            NGINX_503,
            ErrorKind.OVERLOADED,
            "503 Service Temporarily Unavailable 503 Service Temporarily Unavailable nginx/1.25.3",
        ),
        (
            529,
            JSON,
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            ErrorKind.OVERLOADED,
            "Overloaded",
        ),
        (500, JSON, b"", ErrorKind.SERVER, ""),
    ],
)
def test_error_status_becomes_typed_failure(
    status: int, headers: list[tuple[str, str]], body: bytes, kind: ErrorKind, detail: str
) -> None:
    with RawServer(
        Reply(status=status, headers=headers, chunks=[body], framing="length")
    ) as server:
        error = only_failure(run(stream_once(chat_config(server.base_url + "/v1"))))
    assert (error.kind, error.status, error.detail, error.retry_after) == (
        kind,
        status,
        detail,
        None,
    )


def test_rate_limit_with_retry_after_seconds() -> None:
    reply = Reply(
        status=429,
        headers=[*JSON, ("Retry-After", "7")],
        chunks=[b'{"error":{"message":"Rate limit reached for requests","type":"requests"}}'],
    )
    with RawServer(reply) as server:
        error = only_failure(run(stream_once(chat_config(server.base_url))))
    assert error == ProviderError(ErrorKind.RATE_LIMIT, "Rate limit reached for requests", 429, 7.0)
    assert error.message.endswith("Retry after 7 s.")


def test_rate_limit_with_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    reply = Reply(status=429, headers=[("Retry-After", format_datetime(when, usegmt=True))])
    with RawServer(reply) as server:
        error = only_failure(run(stream_once(chat_config(server.base_url))))
    assert error.kind is ErrorKind.RATE_LIMIT
    assert error.retry_after is not None and 100 < error.retry_after <= 120


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(httpx.Headers({"retry-after": "1.5"})) == 1.5
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    date = httpx.Headers({"retry-after": "Wed, 01 Jan 2025 12:00:30 GMT"})
    assert parse_retry_after(date, now=now) == 30.0
    past = httpx.Headers({"retry-after": "Wed, 01 Jan 2025 11:00:00 GMT"})
    assert parse_retry_after(past, now=now) == 0.0
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers()) is None


def test_retry_after_on_overloaded() -> None:
    error = error_from_status(503, httpx.Headers({"retry-after": "3"}), b"")
    assert (error.kind, error.retry_after) == (ErrorKind.OVERLOADED, 3.0)


def test_redirect_is_not_followed_and_explained() -> None:
    error = error_from_status(308, httpx.Headers({"location": "https://x.test/v1/chat"}), b"")
    assert error.kind is ErrorKind.NOT_FOUND
    assert "https://x.test/v1/chat" in error.detail


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"error": {"message": "a", "type": "t"}}, "a"),
        ({"error": "b"}, "b"),
        ({"type": "error", "error": {"type": "overloaded_error", "message": "c"}}, "c"),
        ({"detail": "d"}, "d"),
        ({"message": "e"}, "e"),
        ([{"error": {"code": 429, "message": "f", "status": "RESOURCE_EXHAUSTED"}}], "f"),
        ({"detail": [{"msg": "g1"}, {"msg": "g2"}]}, "g1; g2"),
        ({"error": {"code": 1}}, None),
        (42, None),
    ],
)
def test_message_from_payload_shapes(payload: object, message: str | None) -> None:
    assert message_from_payload(payload) == message


def test_snippet_strips_tags_scripts_and_collapses_space() -> None:
    page = "<html><head><style>b{x:y}</style><script>var a='<p>';</script></head>" + (
        "<body><p>Hello&nbsp;  <b>there</b>\n\n" + "word " * 100 + "</p></body></html>"
    )
    text = snippet(page)
    assert text.startswith("Hello there word word")
    assert len(text) <= 200 and text.endswith("…")
    assert "<" not in text and "var" not in text and "x:y" not in text


# --- answers that are not event streams ----------------------------------------------


def test_html_page_with_200_is_a_protocol_error() -> None:
    reply = Reply(headers=[("Content-Type", "text/html; charset=utf-8")], chunks=[NGINX_503])
    with RawServer(reply) as server:
        error = only_failure(run(stream_once(chat_config(server.base_url))))
    assert error.kind is ErrorKind.PROTOCOL
    assert error.detail.startswith(
        "expected an event stream, got text/html: 503 Service Temporarily Unavailable"
    )


def test_json_with_200_quotes_the_provider() -> None:
    reply = Reply(headers=JSON, chunks=[b'{"error":{"message":"streaming is disabled"}}'])
    with RawServer(reply) as server:
        error = only_failure(run(stream_once(chat_config(server.base_url))))
    assert error.kind is ErrorKind.PROTOCOL
    assert error.detail == "expected an event stream, got application/json: streaming is disabled"


# --- transport trouble -------------------------------------------------------------


def test_refused_port_is_a_connection_failure() -> None:
    port = unused_port()
    error = only_failure(run(stream_once(chat_config(f"http://127.0.0.1:{port}/v1"))))
    assert error == ProviderError(ErrorKind.CONNECTION, f"could not connect to 127.0.0.1:{port}")


def test_stall_after_some_data_fails_as_stalled_and_closes() -> None:
    with RawServer(Reply(chunks=[FIRST], ending="stall")) as server:
        events = run(stream_once(chat_config(server.base_url, read_timeout=0.3)))
        assert events == [
            TextDelta("first"),
            Failed(ProviderError(ErrorKind.STALLED, "no data for 0.3 s")),
        ]
        assert server.wait_client_closed(timeout=2.0)


def test_silence_before_the_first_token_waits_the_first_token_wait_not_the_stall() -> None:
    # Issue 15: a comment, then nothing. Before the first token only the
    # first-token wait applies (the stall timeout used to fail it at 0.2 s).
    config = chat_config("", read_timeout=0.2, first_token_wait=0.8)
    with RawServer(Reply(chunks=[b": ok\n\n"], ending="stall")) as server:
        config = dataclasses.replace(config, base_url=server.base_url)
        started = time.monotonic()
        error = only_failure(run(stream_once(config)))
        waited = time.monotonic() - started
    assert error.kind is ErrorKind.NO_FIRST_TOKEN
    assert error.message == (
        "The model sent nothing for 0.8 s, the longest Sidestream waits for a reply to "
        "begin (the first-token wait, in Settings)."
    )
    assert 0.8 <= waited < 3.0


def test_timeouts_come_from_the_config() -> None:
    config = chat_config("http://127.0.0.1:1", connect_timeout=3.0, read_timeout=42.0)
    client = build_client(config)
    try:
        assert client.timeout == httpx.Timeout(connect=3.0, read=42.0, write=30.0, pool=30.0)
    finally:
        run(client.aclose())


# --- cancellation closes the connection --------------------------------------------


def test_cancelling_the_consuming_task_closes_the_connection() -> None:
    async def main(server: RawServer) -> None:
        provider = OpenAIChatProvider(chat_config(server.base_url))
        got_first = asyncio.Event()

        async def consume() -> None:
            async for _ in provider.stream(REQUEST):
                got_first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The provider (and its client pool) stays open: only closing the
        # response can make the server see the connection go.
        closed = await asyncio.to_thread(server.wait_client_closed, 1, 3.0)
        assert closed, "the server never saw the connection close"
        await provider.aclose()

    with RawServer(Reply(chunks=[FIRST], ending="stall")) as server:
        run(main(server))


def test_aclose_on_the_generator_closes_the_connection() -> None:
    async def main(server: RawServer) -> None:
        provider = OpenAIChatProvider(chat_config(server.base_url))
        events = provider.stream(REQUEST)
        assert await anext(events) == TextDelta("first")
        await events.aclose()
        assert await asyncio.to_thread(server.wait_client_closed, 1, 3.0)
        await provider.aclose()

    with RawServer(Reply(chunks=[FIRST], ending="stall")) as server:
        run(main(server))


# --- logging ------------------------------------------------------------------------


def test_keys_and_message_text_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reply = Reply(status=401, headers=JSON, chunks=[b'{"error":"bad key"}'])
    with RawServer(reply) as server:
        run(stream_once(chat_config(server.base_url)))
    with RawServer(Reply(chunks=[FIRST], ending="reset")) as server:
        run(stream_once(chat_config(server.base_url)))
    assert caplog.records, "expected the failures to be logged"
    assert all(
        r.name.startswith("sidestream.provider") or r.name.startswith("http")
        for r in caplog.records
        if r.name.startswith("sidestream")
    )
    assert "sk-do-not-log-me" not in caplog.text
    assert "secret user text" not in caplog.text


@pytest.mark.parametrize("base_url", ["ftp://127.0.0.1/v1", "http://[::1/v1"])
def test_unusable_base_url_is_a_connection_failure(base_url: str) -> None:
    error = only_failure(run(stream_once(chat_config(base_url))))
    assert error.kind is ErrorKind.CONNECTION


def test_prewarm_loads_the_ca_bundle_on_a_worker_thread() -> None:
    http._ssl_context.cache_clear()
    thread = http.prewarm()
    assert thread.name == "sidestream-ssl-prewarm" and thread.daemon
    thread.join(30)
    assert http._ssl_context.cache_info().currsize == 1
    assert http._ssl_context.cache_info().hits == 0


# --- keys echoed back by the provider ---------------------------------------------------

KEY = "sk-proj-Echo0123456789abcdefECHO"
# A key of no known shape (a gateway's own): only the configured key's value gives it away.
PLAIN_KEY = "gw-local-Secret-7Hq2"


@pytest.mark.parametrize("key", [KEY, PLAIN_KEY])
@pytest.mark.parametrize(
    ("status", "headers", "template"),
    [
        (401, JSON, b'{"error":{"message":"Invalid credentials: \'Bearer %s\'"}}'),
        (401, [("Content-Type", "text/plain")], b"401 Invalid credentials: 'Bearer %s'"),
        (403, JSON, b'{"detail":"client %s is not allowed here"}'),
        (200, JSON, b'{"error":"streaming disabled for %s"}'),
        (200, SSE, b'data: {"error":{"message":"quota exceeded for %s"}}\n\n'),
        (200, SSE, b'error: {"message":"unknown key %s"}\n\n'),
        (200, SSE, b"data: {not json, key=%s\n\n"),
    ],
    ids=["401-json", "401-text", "403-detail", "200-json", "error-event", "error-line", "bad-json"],
)
def test_an_echoed_key_leaves_the_provider_redacted(
    key: str,
    status: int,
    headers: list[tuple[str, str]],
    template: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    reply = Reply(status=status, headers=headers, chunks=[template % key.encode()])
    with RawServer(reply) as server:
        error = only_failure(run(stream_once(chat_config(server.base_url, api_key=key))))
        assert server.last_request.headers["authorization"] == f"Bearer {key}"
    assert key not in error.message and key not in repr(error)
    assert "[redacted]" in error.message, error.message
    assert key not in caplog.text
    assert error.message in caplog.text or status == 200, "the failure is logged, redacted"


def test_an_echoed_key_in_a_model_list_error_is_redacted() -> None:
    body = b'{"error":{"message":"Incorrect API key provided: %s"}}' % PLAIN_KEY.encode()
    reply = Reply(status=401, headers=JSON, chunks=[body], framing="length")

    async def main(base_url: str) -> ProviderError:
        provider = OpenAIChatProvider(chat_config(base_url, api_key=PLAIN_KEY))
        try:
            with pytest.raises(ProviderError) as raised:
                await provider.list_models()
            return raised.value
        finally:
            await provider.aclose()

    with RawServer(reply) as server:
        error = run(main(server.base_url))
    assert (error.kind, error.status) == (ErrorKind.AUTH, 401)
    assert error.detail == "Incorrect API key provided: [redacted]"


def test_a_gateway_header_secret_is_redacted_like_the_key() -> None:
    config = chat_config(
        "http://x.test",
        api_key=None,
        extra_headers=(("X-Gateway-Auth", "Token gwtoken-abc"), ("X-Trace", "trace-value-1")),
    )
    assert http.secrets_of(config) == ("Token gwtoken-abc", "gwtoken-abc")
    error = ProviderError(ErrorKind.AUTH, "gwtoken-abc rejected; trace-value-1 logged")
    assert error.redacted(*http.secrets_of(config)).detail == (
        "[redacted] rejected; trace-value-1 logged"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "401 Invalid credentials: 'Bearer sk-abcdefghijklmnop0123456789'",
            "401 Invalid credentials: 'Bearer [redacted]'",
        ),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig", "Authorization: Bearer [redacted]"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [redacted]"),
        (
            "Incorrect API key provided: sk-proj-AbCdEf0123456789AbCdEf. See https://x.test/api-keys.",
            "Incorrect API key provided: sk-…[redacted]. See https://x.test/api-keys.",
        ),
        (
            "invalid x-api-key: sk-ant-api03-AbCdEf0123456789-xyz",
            "invalid x-api-key: sk-…[redacted]",
        ),
        ("gsk_abcdefghijklmnopqrstuv12 is revoked", "gsk_…[redacted] is revoked"),
        ("invalid api key: 3f9a0b1c2d3e4f5061728394a5b6c7d8", "invalid api key: [redacted]"),
        ("token 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5' expired", "token '[redacted]' expired"),
    ],
)
def test_key_shapes_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert ProviderError(ErrorKind.AUTH, text).detail == expected
    assert redact(expected) == expected, "idempotent"


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-do-n***-me.",  # already masked by OpenAI
        "Bearer authentication is required",
        "Missing Bearer token",
        "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens",
        "max_tokens: 8192 > 4096, which is the maximum allowed number of output tokens",
        "The model `gpt-4o-mini-2024-07-18` does not exist or you have no access to it.",
        'key "messages.10.content" is invalid',
        "Request req_0123456789abcdef0123456789 failed; see https://status.x.test",
        "token limit exceeded",
    ],
)
def test_ordinary_error_prose_is_left_alone(text: str) -> None:
    assert redact(text) == text
    assert redact(text, ["demo"]) == text, "a configured key too short to be secret"


# --- an event that never ends -------------------------------------------------------------

MB = 1024 * 1024
ENDLESS_HEAD = b'data: {"choices":[{"delta":{"content":"'


def test_an_endless_line_fails_clearly_with_bounded_memory() -> None:
    # 1 MB every 50 ms, for 15 s at most (far past the limit): then the server
    # would end the body, so a client that never stops reading fails the test.
    reply = Reply(chunks=[FIRST, ENDLESS_HEAD], repeat=b"x" * MB, pause=0.05, repeat_for=15.0)

    async def main(server: RawServer) -> tuple[list[StreamEvent], int]:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            events = await stream_once(chat_config(server.base_url, read_timeout=2.0))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return events, peak

    with RawServer(reply) as server:
        events, peak = run(main(server), timeout=60)
        sent = server.body_bytes_sent
        closed = server.wait_client_closed(timeout=5.0)
    # Bounded: the event's own buffer up to the limit, plus a little (a chunk,
    # httpx's buffers), whatever the server would have gone on sending.
    assert peak < MAX_EVENT_CHARS + 8 * MB, f"peak {peak / MB:.1f} MB ({sent / MB:.0f} MB sent)"
    assert events[0] == TextDelta("first"), "the text before it is kept"
    error = only_failure(events[1:])
    assert error.kind is ErrorKind.PROTOCOL
    assert error.message == (
        "The provider sent a reply Sidestream could not read: the provider sent an event "
        "larger than 32 MB, the most Sidestream accepts in one event; reading stopped there"
    )
    assert sent >= MAX_EVENT_CHARS, "the line did reach the limit"
    assert closed, "the client closed the connection at the limit"


def test_a_10_mb_event_still_completes() -> None:
    content = b"0123456789" * 1_000_000
    body = (
        b'data: {"choices":[{"delta":{"content":"' + content + b'"},"finish_reason":null}]}\n\n'
        b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    chunks = [body[i : i + MB] for i in range(0, len(body), MB)]
    with RawServer(Reply(chunks=chunks, pause=0.0)) as server:
        events = run(stream_once(chat_config(server.base_url)), timeout=30)
    assert events[0] == TextDelta(content.decode())
    assert events[1:] == [Finished("stop")]


def test_a_body_encoded_off_the_loop_is_the_bytes_httpx_would_send() -> None:
    from desktop.providers.http import json_bytes

    body = {"messages": [{"role": "user", "content": 'naïve ✓ \u2028 "q"'}], "n": 1.5}
    assert json_bytes(body) == httpx.Request("POST", "http://x/", json=body).content


def test_long_strings_are_encoded_in_pieces_to_the_same_bytes() -> None:
    """json_bytes splits strings over 256 KB: escapes, non-ASCII and a text that
    looks like its own placeholder must come out exactly as httpx encodes them."""
    import base64
    import os

    from desktop.core.models import AttachmentKind, TurnFile
    from desktop.providers.http import json_bytes

    data = os.urandom(1_000_003)
    image = TurnFile.image("a.png", "image/png", data)
    assert image.encoded == base64.b64encode(data).decode("ascii")
    text = ('line "quoted"\n\ttab \\ naïve ✓ \x00\x1f ' * 20_000) + "\u0000abc:0\u0000"
    body = {
        "input": [{"content": [{"type": "input_image", "image_url": image.data_url()}]}],
        "text": text,
        "short": "\u0000x:0\u0000",
        "items": [text[:10], 3, None, True, 2.5],
    }
    assert json_bytes(body) == httpx.Request("POST", "http://x/", json=body).content
    assert image.kind is AttachmentKind.IMAGE
