"""The app's event loop: qasync with one reusable socket notifier per fd and direction."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PySide6.QtCore import QSocketNotifier
from PySide6.QtWidgets import QApplication

from desktop.ui.event_loop import EventLoop
from tests.support.aio import run_on_qloop

READ = QSocketNotifier.Type.Read


@pytest.fixture
def loop(qloop: EventLoop) -> EventLoop:
    """The ``qloop`` fixture's loop, which is the app's :class:`EventLoop`."""
    assert isinstance(qloop, EventLoop)
    return qloop


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def _spin_until(done: asyncio.Future[object]) -> None:
    run_on_qloop(asyncio.wait_for(asyncio.shield(done), 5))


def test_a_reader_runs_when_data_arrives_and_stops_once_removed(
    loop: EventLoop, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    seen: list[bytes] = []
    got = loop.create_future()

    def on_readable() -> None:
        seen.append(a.recv(100))
        if not got.done():
            got.set_result(None)

    loop.add_reader(a, on_readable)
    b.send(b"one")
    _spin_until(got)
    assert seen == [b"one"]

    assert loop.remove_reader(a) is True
    assert loop.remove_reader(a) is False  # already removed
    b.send(b"two")
    run_on_qloop(asyncio.sleep(0.1))
    assert seen == [b"one"]  # not watching: the data waits in the socket

    # Watching again reuses the notifier and picks up what is waiting.
    notifier = loop._watches[READ][a.fileno()].notifier
    again = loop.create_future()
    loop.add_reader(a, lambda: (seen.append(a.recv(100)), again.set_result(None)))
    _spin_until(again)
    assert seen == [b"one", b"two"]
    assert loop._watches[READ][a.fileno()].notifier is notifier
    loop.remove_reader(a)


def test_a_readiness_queued_before_the_watch_changed_calls_nothing(
    qapp: QApplication, loop: EventLoop, pair: tuple[socket.socket, socket.socket]
) -> None:
    """Qt reported the socket readable, then the watch was removed and added
    again (as anyio does around each read) and the data was taken meanwhile:
    the stale report must not call the reader on an empty socket."""
    a, b = pair
    calls: list[bytes] = []
    loop.add_reader(a, lambda: calls.append(a.recv(10)))
    b.send(b"x")
    watch = loop._watches[READ][a.fileno()]
    deadline = loop.time() + 5
    while watch.notifier.isEnabled() and loop.time() < deadline:
        qapp.processEvents()  # until Qt reports it (the notifier turns itself off)
    assert not watch.notifier.isEnabled(), "Qt never reported the socket readable"
    assert calls == []  # reported, queued, not run yet

    loop.remove_reader(a)
    assert a.recv(10) == b"x"  # taken by someone else
    loop.add_reader(a, lambda: calls.append(a.recv(10)))
    run_on_qloop(asyncio.sleep(0.2))
    assert calls == []
    loop.remove_reader(a)


def test_a_writer_runs_while_the_socket_can_take_data(
    loop: EventLoop, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _b = pair
    ran = loop.create_future()

    def on_writable() -> None:
        loop.remove_writer(a)
        ran.set_result(a.send(b"hello"))

    loop.add_writer(a, on_writable)
    _spin_until(ran)
    assert ran.result() == 5


def test_a_reader_keeps_running_while_data_keeps_coming(
    loop: EventLoop, pair: tuple[socket.socket, socket.socket]
) -> None:
    """After each callback the notifier is switched back on (level-triggered reads)."""
    a, b = pair
    received = bytearray()
    all_in = loop.create_future()

    def on_readable() -> None:
        received.extend(a.recv(3))  # less than is waiting: must be called again
        if len(received) == 30 and not all_in.done():
            all_in.set_result(None)

    loop.add_reader(a, on_readable)
    b.send(b"0123456789" * 3)
    _spin_until(all_in)
    assert bytes(received) == b"0123456789" * 3
    loop.remove_reader(a)


class _Chunks(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(300):
            chunk = f"line {i}\n".encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def chunk_server() -> Iterator[str]:
    """A local HTTP server answering any GET with 300 chunks; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chunks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_an_httpx_stream_reads_every_chunk_without_a_notifier_per_read(loop: EventLoop) -> None:
    """httpx (through anyio) pauses and resumes the transport around every read."""
    created = 0
    original = loop._watch

    def counting_watch(kind, fd, callback, args):  # type: ignore[no-untyped-def]
        nonlocal created
        before = sum(len(t) for t in loop._watches.values())
        original(kind, fd, callback, args)
        created += sum(len(t) for t in loop._watches.values()) - before

    loop._watch = counting_watch  # type: ignore[method-assign]

    async def fetch(url: str) -> tuple[str, int]:
        reads = 0
        text = ""
        async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
            async for piece in response.aiter_text():
                text += piece
                reads += 1
        return text, reads

    with chunk_server() as url:
        text, reads = run_on_qloop(fetch(url))
    assert text == "".join(f"line {i}\n" for i in range(300))
    assert reads > 10  # many reads, so the transport was paused and resumed
    assert created <= 2  # one notifier each way for the connection


def test_delayed_callbacks_run_in_order_never_early_and_cancelled_ones_are_dropped(
    loop: EventLoop,
) -> None:
    ran: list[tuple[str, float, float]] = []
    live_before = loop._timers.pending

    def note(name: str, when: float) -> None:
        ran.append((name, when, loop.time()))

    now = loop.time()
    loop.call_later(0.03, note, "b", now + 0.03)
    loop.call_at(now + 0.01, note, "a", now + 0.01)
    cancelled = [loop.call_later(60, note, "never", 0.0) for _ in range(1000)]
    assert loop._timers.pending == live_before + 1002
    for handle in cancelled:
        handle.cancel()
    assert loop._timers.pending == live_before + 2  # their Qt timers are gone at once
    run_on_qloop(asyncio.sleep(0.1))
    assert [name for name, _when, _at in ran] == ["a", "b"]
    assert all(at >= when for _name, when, at in ran)
    assert loop._timers.pending == live_before


def test_timeouts_fire_and_reading_a_stream_leaves_no_timers_behind(loop: EventLoop) -> None:
    async def too_slow() -> None:
        await asyncio.wait_for(asyncio.sleep(10), 0.05)

    with pytest.raises(TimeoutError):
        run_on_qloop(too_slow())

    async def fetch(url: str) -> int:
        reads = 0
        timeout = httpx.Timeout(60.0)  # armed and cancelled around every read
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", url) as response,
        ):
            async for _piece in response.aiter_raw():
                reads += 1
        return reads

    with chunk_server() as url:
        reads = run_on_qloop(fetch(url))
    assert reads > 10
    assert loop._timers.pending <= 2, loop._timers.pending
