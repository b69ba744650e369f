"""The SSE decoding layer on its own: framing, line endings, chunk splits, quirks."""

from __future__ import annotations

import itertools
import random

import pytest

from desktop.providers.sse import MAX_EVENT_CHARS, EventTooLarge, SSEDecoder, SSEEvent, aiter_sse
from tests.support import collect
from tests.support.aio import run
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


# --- the size limit of one event ------------------------------------------------------


def test_an_endless_line_raises_at_the_limit_holding_no_more_than_it() -> None:
    decoder = SSEDecoder(max_event_chars=1000)
    assert decoder.feed(b"data: 1\n\ndata: ") == [SSEEvent("", "1")]
    fed = 6
    with pytest.raises(EventTooLarge) as raised:
        while True:
            fed += 100
            assert fed <= 1200, "the decoder kept buffering past its limit"
            decoder.feed(b"x" * 100)
    assert raised.value.limit == 1000 and raised.value.events == []
    assert 1000 < fed <= 1100


def test_endless_data_lines_without_a_blank_line_raise_too() -> None:
    decoder = SSEDecoder(max_event_chars=1000)
    with pytest.raises(EventTooLarge):
        for _ in range(100):
            decoder.feed(b"data: " + b"y" * 50 + b"\n")


def test_events_completed_before_the_oversized_one_are_handed_over() -> None:
    decoder = SSEDecoder(max_event_chars=1000)
    with pytest.raises(EventTooLarge) as raised:
        decoder.feed(b"data: a\n\nevent: e\ndata: b\n\ndata: " + b"z" * 1200 + b"\n")
    assert raised.value.events == [SSEEvent("", "a"), SSEEvent("e", "b")]


def test_events_up_to_the_limit_pass_and_the_count_starts_again_after_each() -> None:
    decoder = SSEDecoder(max_event_chars=1000)
    body = b"data: " + b"w" * 990 + b"\n\n"
    events = []
    for _ in range(5):  # 5 events, 5 KB in all: only one event counts against the limit
        for i in range(0, len(body), 7):
            events += decoder.feed(body[i : i + 7])
    assert [len(e.data) for e in events] == [990] * 5
    # Comment lines are not kept, so they never count.
    assert decoder.feed(b": keep-alive\n" * 200) == []


def test_the_default_limit_takes_a_10_mb_event() -> None:
    payload = b"q" * 10_000_000
    chunks = [b"data: " + payload[:5_000_000], payload[5_000_000:] + b"\n\n"]
    assert [len(e.data) for e in decode(*chunks)] == [10_000_000]
    assert MAX_EVENT_CHARS >= 3 * 10_000_000


def test_the_limit_counts_every_way_an_event_can_be_split() -> None:
    rng = random.Random(13)
    # Multi-line events just under the limit, and one well over it, as the
    # server may flush them: at any byte, with CRLF or LF, in network-sized
    # pieces (an event that ends in the very piece that crosses the limit may
    # pass: what is held never exceeds the limit by more than one piece).
    under = b"event: e\r\ndata: " + b"a" * 400 + b"\r\ndata: " + b"b" * 500 + b"\r\n\r\n"
    over = b"data: " + b"c" * 600 + b"\ndata: " + b"d" * 700 + b"\n\n"
    body = under * 3 + over
    for _ in range(300):
        cuts = [0]
        while cuts[-1] < len(body):
            cuts.append(cuts[-1] + rng.randint(1, 250))
        pieces = [body[i:j] for i, j in itertools.pairwise(cuts)]
        decoder = SSEDecoder(max_event_chars=1000)
        events: list[SSEEvent] = []
        with pytest.raises(EventTooLarge) as raised:
            for piece in pieces:
                events += decoder.feed(piece)
        events += raised.value.events
        assert events == [SSEEvent("e", "a" * 400 + "\n" + "b" * 500)] * 3, cuts
