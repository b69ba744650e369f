"""The SSE decoding layer on its own: framing, line endings, chunk splits, quirks."""

from __future__ import annotations

import pytest

from desktop.providers.sse import SSEDecoder, SSEEvent, aiter_sse
from tests.support import collect, run
from tests.support.raw_server import RawServer, Reply


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.flush()


def test_basic_events_with_names_and_ids() -> None:
    body = b"event: a\ndata: 1\nid: x\n\ndata: 2\n\n"
    assert decode(body) == [SSEEvent("a", "1", "x"), SSEEvent("", "2", "x")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(b"data: a\ndata:b\ndata:  c\n\n") == [SSEEvent("", "a\nb\n c")]


def test_last_event_is_flushed_without_trailing_blank_line() -> None:
    assert decode(b"data: 1\n\ndata: [DONE]") == [SSEEvent("", "1"), SSEEvent("", "[DONE]")]
    assert decode(b"data: [DONE]\n") == [SSEEvent("", "[DONE]")]


def test_comments_and_events_without_data_are_skipped() -> None:
    body = b": keep-alive\n\nevent: ping\n\nid: 3\n\nretry: 100\n\n:\n\ndata: x\n\n"
    assert decode(body) == [SSEEvent("", "x", "3")]


def test_event_name_does_not_leak_into_the_next_event() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [SSEEvent("", "x")]


def test_llama_cpp_error_line_becomes_an_error_event() -> None:
    body = b'data: {"a":1}\n\nerror: {"code":500,"message":"boom"}\n\n'
    assert decode(body) == [
        SSEEvent("", '{"a":1}'),
        SSEEvent("error", '{"code":500,"message":"boom"}'),
    ]
    # ... also when the stream closes right after it.
    assert decode(b'error: {"message":"x"}') == [SSEEvent("error", '{"message":"x"}')]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_at_every_split_point(newline: bytes) -> None:
    body = newline.join(
        [b"event: e", b"data: Gr\xc3\xbc\xc3\x9fe \xf0\x9f\x8e\x89", b"", b"data: 2", b"", b""]
    )
    expected = [SSEEvent("e", "Grüße 🎉"), SSEEvent("", "2")]
    for i in range(len(body) + 1):
        assert decode(body[:i], body[i:]) == expected, f"split at byte {i}"
    assert decode(*[body[i : i + 1] for i in range(len(body))]) == expected


def test_crlf_split_between_cr_and_lf_does_not_make_an_extra_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\r\n\r") == [SSEEvent("", "1")]
    # The LF completing the CR must not count as a second blank line / empty line.
    assert decoder.feed(b"\ndata: 2\r") == []
    assert decoder.feed(b"\n\r\n") == [SSEEvent("", "2")]


def test_unicode_line_separators_inside_data_do_not_split_lines() -> None:
    # httpx's aiter_lines would split here (str.splitlines semantics).
    body = 'data: {"t":"a\u2028b\u0085c\x1cd"}\n\n'.encode()
    assert decode(body) == [SSEEvent("", '{"t":"a\u2028b\u0085c\x1cd"}')]


def test_leading_byte_order_mark_is_ignored() -> None:
    assert decode(b"\xef\xbb", b"\xbfdata: x\n\n") == [SSEEvent("", "x")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert decode(b"data: a\xffb\n\n") == [SSEEvent("", "a\ufffdb")]


def test_field_without_colon_and_value_without_space() -> None:
    assert decode(b"data\n\ndata:x\n\n") == [SSEEvent("", ""), SSEEvent("", "x")]


def test_aiter_sse_over_a_real_connection() -> None:
    chunks = [b"data: 1\n\ndata: \xe4\xbd", b"\xa0\xe5\xa5\xbd\n\n", b"data: [DONE]"]

    async def main() -> list[SSEEvent]:
        import httpx

        async with httpx.AsyncClient() as client, client.stream("GET", server.base_url) as response:
            return await collect(aiter_sse(response))

    with RawServer(Reply(chunks=chunks)) as server:
        assert run(main()) == [SSEEvent("", "1"), SSEEvent("", "你好"), SSEEvent("", "[DONE]")]
