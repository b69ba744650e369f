"""Every fault knob, in the dialects where it shows differently."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from desktop.providers.demo import DemoServer, demo_reply, demo_reply_tokens
from desktop.providers.demo.options import INVALID_UTF8, INVALID_UTF8_TEXT
from desktop.providers.demo.replies import big_event_text, table_reply, tokenize

from .helpers import (
    CHAT,
    MESSAGES,
    RESPONSES,
    chat_body,
    chat_text,
    messages_body,
    messages_text,
    responses_body,
    responses_text,
    stream,
)


def first(prompt: str, n: int, total: int = 20) -> str:
    return "".join(demo_reply_tokens(prompt, total)[:n])


def test_cut_after_ends_the_body_unterminated(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("cut"), options="cut_after=5")
    assert isinstance(got.error, httpx.RemoteProtocolError), got.error
    assert chat_text(got.events) == first("cut", 5)
    assert "[DONE]" not in got.text
    record = server.last_connection(CHAT)
    assert record is not None
    assert server.wait_until(lambda: record.closed_at is not None, 1)
    assert record.closed_by == "server"
    assert record.text_sent == first("cut", 5) and record.deltas_sent == 5


def test_cut_after_zero_cuts_before_the_first_delta(server: DemoServer) -> None:
    got = stream(server.url + MESSAGES, messages_body("cut0"), options="cut_after=0")
    assert isinstance(got.error, httpx.RemoteProtocolError)
    assert [e.event for e in got.events] == ["message_start", "content_block_start", "ping"]


def test_stall_forever_keeps_the_connection_open_until_the_client_gives_up(
    server: DemoServer,
) -> None:
    got = stream(server.url + CHAT, chat_body("stall"), options="stall_after=3", timeout=0.3)
    assert isinstance(got.error, httpx.ReadTimeout), got.error
    assert chat_text(got.events) == first("stall", 3)
    record = server.last_connection(CHAT)
    assert record is not None
    assert server.wait_until(lambda: record.closed_by == "client", 1)


def test_stall_seconds_pauses_then_goes_on(server: DemoServer) -> None:
    got = stream(
        server.url + MESSAGES, messages_body("pause"), options="stall_after=2;stall_seconds=0.3"
    )
    assert got.error is None
    assert got.elapsed >= 0.3
    assert messages_text(got.events) == demo_reply("pause", 20)


def test_malformed_after_sends_one_bad_data_line_then_goes_on(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("bad"), options="malformed_after=4")
    assert got.error is None
    bad = []
    good = []
    for event in got.events:
        try:
            good.append(event.json() if event.data != "[DONE]" else None)
        except json.JSONDecodeError:
            bad.append(event)
    assert len(bad) == 1
    index = got.events.index(bad[0])
    assert chat_text(got.events[:index]) == first("bad", 4)
    assert chat_text(got.events[index + 1 :]) == demo_reply("bad", 20)[len(first("bad", 4)) :]


def test_error_event_in_chat_completions(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("err"), options="error_event_after=6")
    assert got.error is None
    last = got.events[-1].json()
    assert last["error"]["type"] == "server_error" and last["error"]["message"]
    assert chat_text(got.events[:-1]) == first("err", 6)
    assert "[DONE]" not in got.text


def test_error_event_in_anthropic_is_overloaded(server: DemoServer) -> None:
    got = stream(server.url + MESSAGES, messages_body("err"), options="error_event_after=2")
    assert got.events[-1].event == "error"
    assert got.events[-1].json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert messages_text(got.events) == first("err", 2)


def test_error_event_in_responses_fails_the_response(server: DemoServer) -> None:
    got = stream(
        server.url + RESPONSES,
        responses_body("err", background=True),
        options="error_event_after=3",
    )
    assert [e.event for e in got.events[-2:]] == ["error", "response.failed"]
    error = got.events[-2].json()
    assert error["code"] == "server_error" and error["message"]
    failed = got.events[-1].json()["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert responses_text(got.events) == first("err", 3)
    assert server.response_status(failed["id"]) == "failed"


@pytest.mark.parametrize(
    ("status", "openai_type", "anthropic_type"),
    [
        (401, "invalid_request_error", "authentication_error"),
        (429, "requests", "rate_limit_error"),
        (500, "server_error", "api_error"),
        (503, "server_error", "api_error"),
        (529, "server_error", "overloaded_error"),
    ],
)
def test_status_answers_with_the_dialect_error_body(
    server: DemoServer, status: int, openai_type: str, anthropic_type: str
) -> None:
    server.defaults.status = status
    server.defaults.retry_after = 2.5
    with httpx.Client() as client:
        openai = client.post(server.url + CHAT, json=chat_body())
        anthropic = client.post(server.url + MESSAGES, json=messages_body())
        responses = client.post(server.url + RESPONSES, json=responses_body())
    for response in (openai, anthropic, responses):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        if status in (429, 503, 529):
            assert response.headers["retry-after"] == "2.5"
        else:
            assert "retry-after" not in response.headers
    error = openai.json()["error"]
    assert error["type"] == openai_type and error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    if status == 401:
        assert error["code"] == "invalid_api_key"
    assert responses.json()["error"]["type"] == openai_type
    body = anthropic.json()
    assert body["type"] == "error" and body["error"]["type"] == anthropic_type


def test_content_type_serves_an_html_page(server: DemoServer) -> None:
    with httpx.Client() as client:
        response = client.post(
            server.url + CHAT,
            json=chat_body(),
            headers={"X-Demo-Options": 'content_type="text/html; charset=utf-8"'},
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.lstrip().startswith("<!DOCTYPE html>")


def test_drip_writes_the_body_byte_by_byte(server: DemoServer) -> None:
    got = stream(server.url + "/v1/models", method="GET", options="drip=0.0005")
    assert got.error is None and got.status == 200
    assert json.loads(got.raw)["object"] == "list"
    assert len(got.pieces) > len(got.raw) // 4, (len(got.pieces), len(got.raw))


def test_chunk_split_cuts_characters_across_chunks(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("split"), options="chunk_split=1")
    assert got.error is None
    assert chat_text(got.events) == demo_reply("split", 20)
    assert len(got.pieces) >= 2 * len(got.events)
    torn = 0
    for piece in got.pieces:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            torn += 1
    assert torn > 0, "some chunk ends inside a multi-byte character"


def test_never_answer_reads_the_request_and_stays_silent(server: DemoServer) -> None:
    got = stream(server.url + MESSAGES, messages_body(), options="never_answer", timeout=0.3)
    assert isinstance(got.error, httpx.ReadTimeout)
    assert got.status == 0 and got.raw == b""
    assert server.requests[-1].path == MESSAGES
    record = server.last_connection(MESSAGES)
    assert record is not None
    assert server.wait_until(lambda: record.closed_by == "client", 1)


def test_first_token_delay_holds_the_first_delta(server: DemoServer) -> None:
    start = time.monotonic()
    got = stream(server.url + CHAT, chat_body("late"), options="first_token_delay=0.25")
    assert time.monotonic() - start >= 0.25
    assert got.first_piece_at is not None and got.first_piece_at < 0.2, "headers come at once"
    assert chat_text(got.events) == demo_reply("late", 20)


def test_a_bad_options_header_is_a_400_in_the_dialect_shape(server: DemoServer) -> None:
    with httpx.Client() as client:
        response = client.post(
            server.url + MESSAGES, json=messages_body(), headers={"X-Demo-Options": "nope=1"}
        )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and "nope" in body["error"]["message"]


# -- invalid_utf8_after and big_event -------------------------------------------------


def test_invalid_utf8_after_sends_one_latin1_delta_then_goes_on(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("latin"), options="invalid_utf8_after=4")
    assert got.error is None
    assert INVALID_UTF8 in got.raw
    with pytest.raises(UnicodeDecodeError):
        got.raw.decode("utf-8")
    # Decoded with replacement (as the SSE spec says), the stream reads the
    # extra delta in place and then the whole rest of the reply.
    expected = (
        first("latin", 4) + INVALID_UTF8_TEXT + demo_reply("latin", 20)[len(first("latin", 4)) :]
    )
    assert chat_text(got.events) == expected
    assert got.events[-1].data == "[DONE]"
    record = server.last_connection(CHAT)
    assert record is not None
    assert record.text_sent == expected and record.deltas_sent == 21


@pytest.mark.parametrize("dialect", ["responses", "anthropic"])
def test_invalid_utf8_delta_in_the_other_dialects(server: DemoServer, dialect: str) -> None:
    if dialect == "responses":
        got = stream(
            server.url + RESPONSES, responses_body("bytes"), options="invalid_utf8_after=0"
        )
        text = responses_text(got.events)
        seqs = [e.json().get("sequence_number") for e in got.events]
        # The extra delta carries no sequence number: the response's own
        # numbering (what a resume counts on) is unchanged.
        assert seqs.count(None) == 1
        numbered = [s for s in seqs if s is not None]
        assert numbered == list(range(len(numbered)))
    else:
        got = stream(server.url + MESSAGES, messages_body("bytes"), options="invalid_utf8_after=0")
        text = messages_text(got.events)
    assert got.error is None
    assert text == INVALID_UTF8_TEXT + demo_reply("bytes", 20)


def test_invalid_utf8_fires_once_per_reply_across_a_resume(server: DemoServer) -> None:
    got = stream(
        server.url + RESPONSES,
        responses_body("once", background=True),
        options="invalid_utf8_after=3;cut_after=5",
    )
    assert isinstance(got.error, httpx.RemoteProtocolError)
    response_id = got.events[0].json()["response"]["id"]
    last_seq = got.events[-1].json()["sequence_number"]
    resumed = stream(
        f"{server.url}{RESPONSES}/{response_id}?stream=true&starting_after={last_seq}",
        method="GET",
        options="invalid_utf8_after=3;cut_after=5",
    )
    assert resumed.error is None
    assert INVALID_UTF8 not in resumed.raw
    record = server.last_connection(f"{RESPONSES}/{response_id}")
    assert record is not None and record.first_delta == 5, "the resume starts after delta 5"
    assert responses_text(got.events) + responses_text(resumed.events) == (
        first("once", 3) + INVALID_UTF8_TEXT + demo_reply("once", 20)[len(first("once", 3)) :]
    )


def test_big_event_sends_one_delta_of_that_many_bytes_first(server: DemoServer) -> None:
    size = 1_000_000
    got = stream(server.url + CHAT, chat_body("big"), options=f"big_event={size}")
    assert got.error is None
    deltas = [
        e.json()["choices"][0]["delta"].get("content")
        for e in got.events
        if e.data != "[DONE]" and e.json()["choices"]
    ]
    texts = [d for d in deltas if d]
    assert len(texts[0]) == size and texts[0] == big_event_text(size)
    assert texts[0].isascii() and "\n" not in texts[0]
    assert "".join(texts[1:]) == demo_reply("big", 20)
    record = server.last_connection(CHAT)
    assert record is not None and record.deltas_sent == 21


def test_big_event_counts_as_the_first_delta_for_the_other_knobs(server: DemoServer) -> None:
    got = stream(
        server.url + MESSAGES, messages_body("big cut"), options="big_event=300000;cut_after=1"
    )
    assert isinstance(got.error, httpx.RemoteProtocolError)
    assert messages_text(got.events) == big_event_text(300_000)
    got = stream(server.url + RESPONSES, responses_body("big r"), options="big_event=70000")
    assert responses_text(got.events) == big_event_text(70_000) + demo_reply("big r", 20)
    assert big_event_text(0) == "" and len(big_event_text(7)) == 7


def test_sent_log_times_every_write_of_text(server: DemoServer) -> None:
    started = time.monotonic()
    got = stream(server.url + CHAT, chat_body("timed"), options="rate=200;tokens=10")
    assert got.error is None
    record = server.last_connection(CHAT)
    assert record is not None and record.first_delta == 0
    times = [at for at, _ in record.sent_log]
    counts = [n for _, n in record.sent_log]
    assert times == sorted(times) and started <= times[0] <= times[-1] <= time.monotonic()
    assert counts == sorted(counts) and counts[-1] == 10
    assert record.deltas_sent_by(started) == 0
    assert record.deltas_sent_by(times[-1]) == 10
    # Paced at 200 tokens/s, the ten deltas go out over about 45 ms.
    assert times[-1] - times[0] >= 0.03


# -- table_rows / table_columns ------------------------------------------------------
def test_table_knobs_make_the_reply_one_table_in_every_dialect(server: DemoServer) -> None:
    table = table_reply(3, 4)
    knobs = "table_rows=3;table_columns=4"
    got = stream(server.url + CHAT, chat_body("t"), options=knobs)
    assert got.error is None and chat_text(got.events) == table
    got = stream(server.url + MESSAGES, messages_body("t"), options=knobs)
    assert messages_text(got.events) == table
    got = stream(server.url + RESPONSES, responses_body("t"), options=knobs)
    assert responses_text(got.events) == table
    # Either knob makes a table; the other takes its default.
    got = stream(server.url + CHAT, chat_body("t"), options="table_columns=5")
    assert chat_text(got.events) == table_reply(0, 5)


def test_a_table_reply_is_still_cut_short_by_max_tokens(server: DemoServer) -> None:
    got = stream(server.url + CHAT, chat_body("t", max_tokens=4), options="table_rows=50")
    assert got.error is None
    assert chat_text(got.events) == "".join(tokenize(table_reply(50, None))[:4])
