"""OpenAI Responses as the demo serves it: events, status, background, resume, cancel."""

from __future__ import annotations

import httpx

from desktop.providers.demo import DemoServer, demo_reply, demo_reply_tokens

from .helpers import RESPONSES, responses_body, responses_text, stream

EXPECTED_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 20,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def test_stream_is_the_real_event_sequence(server: DemoServer) -> None:
    got = stream(server.openai_base_url + "/responses", responses_body("events"))
    assert got.error is None and got.status == 200
    assert got.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert got.headers["cache-control"] == "no-cache"
    assert [e.event for e in got.events] == EXPECTED_EVENTS
    bodies = [e.json() for e in got.events]
    assert [b["sequence_number"] for b in bodies] == list(range(len(bodies)))
    assert all(b["type"] == e.event for b, e in zip(bodies, got.events, strict=True))
    created = bodies[0]["response"]
    assert created["id"].startswith("resp_") and created["status"] == "in_progress"
    assert created["object"] == "response" and created["output"] == []
    item_id = bodies[2]["item"]["id"]
    for delta in bodies[4:24]:
        assert (delta["item_id"], delta["output_index"], delta["content_index"]) == (item_id, 0, 0)
    text = demo_reply("events", 20)
    assert responses_text(got.events) == text
    assert bodies[24]["text"] == text
    assert bodies[25]["part"]["text"] == text
    assert bodies[26]["item"]["content"][0] == {
        "type": "output_text",
        "text": text,
        "annotations": [],
        "logprobs": [],
    }
    completed = bodies[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"][0]["content"][0]["text"] == text
    usage = completed["usage"]
    assert usage["output_tokens"] == 20
    assert usage["total_tokens"] == usage["input_tokens"] + 20


def test_status_endpoint_reports_the_stored_response(server: DemoServer) -> None:
    got = stream(server.url + RESPONSES, responses_body("status", background=True))
    response_id = got.events[0].json()["response"]["id"]
    assert got.events[0].json()["response"]["status"] == "queued"
    with httpx.Client() as client:
        body = client.get(f"{server.url}{RESPONSES}/{response_id}").json()
        missing = client.get(f"{server.url}{RESPONSES}/resp_nope")
    assert body["id"] == response_id and body["status"] == "completed"
    assert body["output"] == [
        {
            "id": body["output"][0]["id"],
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": demo_reply("status", 20),
                    "annotations": [],
                    "logprobs": [],
                }
            ],
        }
    ]
    assert body["usage"]["output_tokens"] == 20
    assert missing.status_code == 404 and "error" in missing.json()
    assert server.sent_text(response_id) == demo_reply("status", 20)
    assert server.response_status(response_id) == "completed"


def test_cut_background_stream_resumes_to_the_exact_full_text(server: DemoServer) -> None:
    first = stream(
        server.url + RESPONSES,
        responses_body("cut me", background=True),
        options="tokens=60;cut_after=7",
    )
    assert isinstance(first.error, httpx.RemoteProtocolError), first.error
    assert responses_text(first.events) == "".join(demo_reply_tokens("cut me", 60)[:7])
    assert first.events[-1].event == "response.output_text.delta"
    response_id = first.events[0].json()["response"]["id"]
    cursor = first.events[-1].json()["sequence_number"]
    record = server.last_connection(RESPONSES)
    assert record is not None and record.closed_by == "server"
    assert record.text_sent == responses_text(first.events)
    # The same knob on the resume does not cut again at the same place.
    rest = stream(
        f"{server.url}{RESPONSES}/{response_id}?stream=true&starting_after={cursor}",
        method="GET",
        options="tokens=60;cut_after=7",
    )
    assert rest.error is None
    seqs = [e.json()["sequence_number"] for e in rest.events]
    assert seqs == list(range(cursor + 1, cursor + 1 + len(seqs)))
    assert rest.events[-1].event == "response.completed"
    full = responses_text(first.events) + responses_text(rest.events)
    assert full == demo_reply("cut me", 60)
    assert server.sent_text(response_id) == full


def test_generation_outlives_the_connection_and_resume_catches_up_live(
    server: DemoServer,
) -> None:
    server.defaults.rate = 200
    with httpx.Client() as client:
        with client.stream(
            "POST", server.url + RESPONSES, json=responses_body("outlive", background=True)
        ) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: response.created"
            data_line = next(lines)
        response_id = data_line.split('"id":"', 1)[1].split('"', 1)[0]
        # The client went away; the server keeps generating.
        assert server.wait_until(lambda: server.response_status(response_id) == "completed", 3)
        status = client.get(f"{server.url}{RESPONSES}/{response_id}").json()
    assert status["output"][0]["content"][0]["text"] == demo_reply("outlive", 20)
    whole = stream(f"{server.url}{RESPONSES}/{response_id}?stream=true", method="GET")
    assert [e.event for e in whole.events] == EXPECTED_EVENTS
    assert responses_text(whole.events) == demo_reply("outlive", 20)


def test_resume_of_a_running_response_streams_live_to_the_end(server: DemoServer) -> None:
    with httpx.Client() as client:
        created = client.post(
            server.url + RESPONSES,
            json=responses_body("live", background=True, stream=False),
            headers={"X-Demo-Options": "rate=100;tokens=30"},
        ).json()
    assert created["status"] == "queued" and created["output"] == []
    response_id = created["id"]
    got = stream(
        f"{server.url}{RESPONSES}/{response_id}?stream=true&starting_after=3", method="GET"
    )
    assert got.events[0].json()["sequence_number"] == 4
    assert responses_text(got.events) == demo_reply("live", 30)
    assert got.elapsed > 0.15, "the tokens arrived paced, as they were generated"


def test_cancel_stops_generation(server: DemoServer) -> None:
    with httpx.Client() as client:
        created = client.post(
            server.url + RESPONSES,
            json=responses_body("cancel", background=True, stream=False),
            headers={"X-Demo-Options": "rate=50;tokens=1000"},
        ).json()
        response_id = created["id"]
        assert server.wait_until(lambda: len(server.sent_text(response_id)) > 0, 2)
        cancelled = client.post(f"{server.url}{RESPONSES}/{response_id}/cancel").json()
        assert cancelled["status"] == "cancelled"
        text = server.sent_text(response_id)
        assert demo_reply("cancel", 1000).startswith(text) and len(text) < 1000
        status = client.get(f"{server.url}{RESPONSES}/{response_id}").json()
    assert status["status"] == "cancelled"
    assert status["output"][0]["content"][0]["text"] == text
    assert server.sent_text(response_id) == text


def test_non_streamed_response_and_max_output_tokens(server: DemoServer) -> None:
    with httpx.Client() as client:
        done = client.post(server.url + RESPONSES, json=responses_body("plain", stream=False))
        short = client.post(
            server.url + RESPONSES,
            json=responses_body("plain", stream=False, max_output_tokens=3),
        )
    body = done.json()
    assert body["status"] == "completed"
    assert body["output"][0]["content"][0]["text"] == demo_reply("plain", 20)
    truncated = short.json()
    assert truncated["status"] == "incomplete"
    assert truncated["incomplete_details"] == {"reason": "max_output_tokens"}
    assert truncated["usage"]["output_tokens"] == 3


def test_truncated_stream_ends_with_response_incomplete(server: DemoServer) -> None:
    got = stream(server.url + RESPONSES, responses_body("trunc", max_output_tokens=2))
    assert got.events[-1].event == "response.incomplete"
    assert got.events[-1].json()["response"]["status"] == "incomplete"
    assert responses_text(got.events) == "".join(demo_reply_tokens("trunc", 20)[:2])


def test_delete_forgets_the_response(server: DemoServer) -> None:
    got = stream(server.url + RESPONSES, responses_body("gone", background=True))
    response_id = got.events[0].json()["response"]["id"]
    with httpx.Client() as client:
        deleted = client.delete(f"{server.url}{RESPONSES}/{response_id}").json()
        after = client.get(f"{server.url}{RESPONSES}/{response_id}")
    assert deleted == {"id": response_id, "object": "response", "deleted": True}
    assert after.status_code == 404
    assert response_id not in server.response_ids()
