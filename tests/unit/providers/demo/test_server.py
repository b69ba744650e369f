"""The demo server itself: life cycle, request log, connections, pacing, speed, CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from desktop.providers.demo import DemoOptions, DemoServer, demo_reply, serve
from tests.support.aio import run

from .helpers import (
    CHAT,
    MESSAGES,
    RESPONSES,
    chat_body,
    chat_text,
    messages_body,
    parse_sse,
    stream,
)

ROOT = Path(__file__).resolve().parents[4]


def test_addresses_and_life_cycle() -> None:
    server = DemoServer()
    server.start()
    assert server.start() is server, "start is idempotent"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.openai_base_url == server.url + "/v1"
    assert server.anthropic_base_url == server.url
    assert server.defaults == DemoOptions() and server.defaults.rate == 40
    server.stop()
    server.stop()
    with pytest.raises(httpx.ConnectError), httpx.Client() as client:
        client.get(server.url + "/v1/models")


def test_every_request_is_logged_even_unknown_paths(server: DemoServer) -> None:
    with httpx.Client() as client:
        image = client.get(server.url + "/images/x.png")
        wrong = client.get(server.url + CHAT)
    assert image.status_code == 404 and "error" in image.json()
    assert wrong.status_code == 405
    method, path, headers, body = server.requests[0]
    assert (method, path, body) == ("GET", "/images/x.png", None)
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert [r.path for r in server.requests] == ["/images/x.png", CHAT]


def test_request_log_keeps_the_json_body_and_query(server: DemoServer) -> None:
    stream(server.url + CHAT, chat_body("logged"))
    with httpx.Client() as client:
        client.get(server.url + RESPONSES + "/resp_x", params={"stream": "true"})
    post, get = server.requests
    assert post.body["messages"][0]["content"] == "logged"
    assert get.query == {"stream": "true"} and get.path == RESPONSES + "/resp_x"


def test_models_in_openai_shape(server: DemoServer) -> None:
    with httpx.Client() as client:
        listed = client.get(server.openai_base_url + "/models").json()
        one = client.get(server.openai_base_url + "/models/sidestream-demo").json()
    assert listed["object"] == "list"
    assert all(m["object"] == "model" for m in listed["data"])
    assert "sidestream-demo" in [m["id"] for m in listed["data"]]
    assert one["id"] == "sidestream-demo"


def test_non_streamed_requests_share_a_keep_alive_connection(server: DemoServer) -> None:
    with httpx.Client() as client:
        for _ in range(3):
            assert client.get(server.openai_base_url + "/models").status_code == 200
        assert server.open_connections == 1
    (record,) = server.connections
    assert record.requests == 3
    assert server.wait_until(lambda: record.closed_by == "client", 1)


def test_a_client_closing_mid_stream_is_noticed_at_once(server: DemoServer) -> None:
    # At 2 tokens/s the next write is 0.5 s away: only a reader sees the close in time.
    with (
        httpx.Client() as client,
        client.stream(
            "POST", server.url + CHAT, json=chat_body("bye"), headers={"X-Demo-Options": "rate=2"}
        ) as response,
    ):
        # Keep the iterator: a discarded one is finalised, and that closes the response.
        pieces = response.iter_raw()
        next(pieces)
        record = server.last_connection(CHAT)
        assert record is not None and record.is_open
        assert server.generating == 1
        closed = time.monotonic()  # leaving the block closes the response and its socket
    assert server.wait_until(lambda: record.closed_at is not None, 1)
    assert record.closed_at is not None
    assert record.closed_at - closed < 0.1
    assert record.closed_by == "client"
    assert server.wait_until(lambda: server.open_connections == 0, 1)
    assert server.wait_until(lambda: server.generating == 0, 1), "generation stopped"
    assert demo_reply("bye", 20).startswith(record.text_sent)


def test_pacing_follows_the_rate(server: DemoServer) -> None:
    got = stream(server.url + MESSAGES, messages_body("paced"), options="rate=100")
    # 20 tokens at 100/s: the last one is due 0.19 s after the first.
    assert 0.15 <= got.elapsed < 1.5, got.elapsed
    assert len(got.pieces) >= 10, "tokens go out as they become due, not in one burst"


def test_unpaced_stream_is_fast(server: DemoServer) -> None:
    n = 20_000
    got = stream(server.url + CHAT, chat_body("fast"), options=f"rate=0;tokens={n}")
    assert got.error is None
    assert chat_text(got.events) == demo_reply("fast", n)
    # Loose: client and server share one process (and its GIL) here.
    assert got.elapsed < 3.0, got.elapsed


def test_concurrent_streams_each_get_their_own_reply(server: DemoServer) -> None:
    async def one(client: httpx.AsyncClient, i: int) -> str:
        async with client.stream(
            "POST",
            server.url + CHAT,
            json=chat_body(f"many {i}"),
            headers={"X-Demo-Options": "rate=200"},
        ) as response:
            raw = b"".join([piece async for piece in response.aiter_raw()])
        return chat_text(parse_sse(raw.decode()))

    async def main() -> list[str]:
        async with httpx.AsyncClient() as client:
            return await asyncio.gather(*(one(client, i) for i in range(5)))

    start = time.monotonic()
    assert run(main()) == [demo_reply(f"many {i}", 20) for i in range(5)]
    assert time.monotonic() - start < 0.5, "the five paced streams ran side by side"
    assert server.wait_until(lambda: server.open_connections == 0, 1)
    assert len(server.connections) == 5


def test_stop_closes_live_streams() -> None:
    server = DemoServer(defaults=DemoOptions(rate=0, tokens=20, stall_after=2)).start()
    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", server.url + CHAT, json=chat_body()) as response,
    ):
        pieces = response.iter_raw()
        next(pieces)
        server.stop()
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in pieces:
                pass
    (record,) = server.connections
    assert record.closed_by == "server"
    assert server.open_connections == 0 and server.errors == []


def test_serve_runs_on_the_callers_loop() -> None:
    async def main() -> str:
        service = await serve(defaults=DemoOptions(rate=0, tokens=8))
        try:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    service.url + CHAT, json=chat_body("async", stream=False)
                )
            return str(response.json()["choices"][0]["message"]["content"])
        finally:
            await service.aclose()

    assert run(main()) == demo_reply("async", 8)


def test_command_line_prints_the_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "desktop.providers.demo", "--rate", "0", "--tokens", "6"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            with httpx.Client() as client:
                body = client.post(url + CHAT, json=chat_body("cli", stream=False)).json()
            assert body["choices"][0]["message"]["content"] == demo_reply("cli", 6)
            process.send_signal(signal.SIGTERM)
            assert process.wait(5) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_wait_until_async_polls_without_blocking_the_loop(server: DemoServer) -> None:
    async def main() -> tuple[bool, bool]:
        flag: list[bool] = []
        asyncio.get_running_loop().call_later(0.02, flag.append, True)
        seen = await server.wait_until_async(lambda: flag, timeout=1.0)
        never = await server.wait_until_async(lambda: False, timeout=0.02)
        return seen, never

    assert run(main()) == (True, False)


def test_a_malformed_json_body_is_a_400(server: DemoServer) -> None:
    with httpx.Client() as client:
        response = client.post(
            server.url + CHAT, content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert server.requests[-1].body is None
