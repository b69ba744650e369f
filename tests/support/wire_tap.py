"""A wire tap for tests: a TCP relay on loopback that keeps every byte each way.

Put between a client and a server (the client is given the tap's address), it
passes bytes through unchanged and records, per connection, what the client
sent and what the server sent. :meth:`Connection.exchanges` decodes them with
h11 and :func:`sse_data` reads an event stream by the spec, so that a test can
compare what the app made of a reply with what the server really sent, with
none of the app's own decoding in between.

A close passes through as a close: EOF from one side is forwarded as a
half-close (``shutdown(SHUT_WR)``) to the other, a reset or error ends both.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import h11

_ACCEPT_POLL = 0.1


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response as they went over the wire."""

    method: str
    target: str
    request_body: bytes
    status: int | None  # None: no response head arrived
    headers: dict[str, str]
    body: bytes  # de-chunked
    complete: bool  # the response's end arrived


@dataclass
class Connection:
    """What crossed one relayed connection."""

    from_client: bytearray = field(default_factory=bytearray)
    from_server: bytearray = field(default_factory=bytearray)
    client_done: threading.Event = field(default_factory=threading.Event)
    server_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def exchanges(self) -> list[Exchange]:
        with self.lock:
            sent, received = bytes(self.from_client), bytes(self.from_server)
        return _decode(sent, received, server_closed=self.server_done.is_set())


class WireTap:
    """A relay from ``127.0.0.1:<port>`` to ``127.0.0.1:<upstream_port>``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections: list[Connection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_ACCEPT_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name="wire-tap-accept", daemon=True)

    def start(self) -> None:
        self._acceptor.start()

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in threads:
            t.join(timeout=5)

    def exchanges(self) -> list[Exchange]:
        """Every exchange so far, in the order the connections were opened."""
        with self._lock:
            connections = list(self.connections)
        return [e for c in connections for e in c.exchanges()]

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            record = Connection()
            pumps = [
                threading.Thread(
                    target=_pump,
                    args=(client, server, record.from_client, record.lock, record.client_done),
                    name="wire-tap-up",
                    daemon=True,
                ),
                threading.Thread(
                    target=_pump,
                    args=(server, client, record.from_server, record.lock, record.server_done),
                    name="wire-tap-down",
                    daemon=True,
                ),
            ]
            with self._lock:
                self.connections.append(record)
                self._sockets += [client, server]
                self._threads += pumps
            for t in pumps:
                t.start()


def _pump(
    src: socket.socket,
    dst: socket.socket,
    record: bytearray,
    lock: threading.Lock,
    done: threading.Event,
) -> None:
    try:
        while data := src.recv(65536):
            with lock:
                record += data
            dst.sendall(data)
    except OSError:
        # A reset on one side: end the other as abruptly.
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)
    else:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)  # EOF travels on as EOF
    finally:
        done.set()


def _decode(sent: bytes, received: bytes, *, server_closed: bool) -> list[Exchange]:
    """Pair the requests in ``sent`` with the responses in ``received``."""
    requests = _requests(sent)
    client = h11.Connection(our_role=h11.CLIENT)
    client.receive_data(received)
    if server_closed:
        client.receive_data(b"")
    exchanges: list[Exchange] = []
    for method, target, request_body in requests:
        client.send(h11.Request(method=method, target=target, headers=[("Host", "tap")]))
        client.send(h11.EndOfMessage())
        status: int | None = None
        headers: dict[str, str] = {}
        body = bytearray()
        complete = False
        with contextlib.suppress(h11.RemoteProtocolError):  # a response cut short
            while True:
                event = client.next_event()
                if isinstance(event, h11.Response):
                    status = event.status_code
                    headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    complete = True
                    break
                elif event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                    break
        exchanges.append(
            Exchange(method, target, request_body, status, headers, bytes(body), complete)
        )
        if not complete:
            break
        try:
            client.start_next_cycle()
        except h11.LocalProtocolError:  # "Connection: close": no next request on it
            break
    return exchanges


def _requests(sent: bytes) -> list[tuple[str, str, bytes]]:
    server = h11.Connection(our_role=h11.SERVER)
    server.receive_data(sent)
    found: list[tuple[str, str, bytes]] = []
    method = target = ""
    body = bytearray()
    with contextlib.suppress(h11.RemoteProtocolError):
        while True:
            event = server.next_event()
            if isinstance(event, h11.Request):
                method, target, body = event.method.decode(), event.target.decode(), bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                found.append((method, target, bytes(body)))
                # Answer for form's sake so that h11 reads the next request.
                server.send(h11.Response(status_code=204, headers=[]))
                server.send(h11.EndOfMessage())
                server.start_next_cycle()
            else:
                break
    return found


_LINE = re.compile(r"\r\n|\r|\n")


def sse_data(body: bytes) -> Iterator[str]:
    """The ``data`` of each event in an event stream, read by the WHATWG rules."""
    data: list[str] = []
    for line in _LINE.split(body.decode("utf-8")):
        if not line:
            if data:
                yield "\n".join(data)
            data = []
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value.removeprefix(" "))
    # An event with no blank line after it was never dispatched: dropped.
