"""Every fault knob, in the dialects where it shows differently."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from desktop.providers.demo import DemoServer, demo_reply, demo_reply_tokens

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
