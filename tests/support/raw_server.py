"""A tiny real HTTP server on loopback that plays scripted raw answers.

Each answer is a status, headers and a body given as byte chunks, written with
small pauses so that the client reads them as separate network chunks (a test
can split a multi-byte UTF-8 character across two). The body can end
normally, be cut (graceful close or TCP reset) mid-body, stall until the
client gives up, or go on for ever (one chunk repeated until the client
closes). Every request is recorded, and the server notices when a
client closes a connection it is still serving.

It runs in its own thread (``socketserver``), so the asyncio code under test
talks to it over a real socket, exactly as to a provider.
"""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

SSE_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", "text/event-stream"),)

Framing = Literal["chunked", "length", "close"]
Ending = Literal["complete", "close", "reset", "stall"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``framing``: "chunked" (Transfer-Encoding, one HTTP chunk per item),
    "length" (Content-Length) or "close" (body delimited by closing).
    ``ending``: "complete"; "close" or "reset" to cut the connection after the
    chunks (before the chunked terminator); "stall" to send nothing more until
    the client closes.
    ``repeat``: after the chunks, send this one again every ``pause`` until the
    client closes the connection (for at most ``repeat_for`` seconds): an
    endless body; ``ending`` applies if the time runs out.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = SSE_HEADERS
    chunks: Sequence[bytes] = ()
    pause: float = 0.003
    framing: Framing = "chunked"
    ending: Ending = "complete"
    repeat: bytes = b""
    repeat_for: float = 30.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Script = Reply | Sequence[Reply] | Callable[[RecordedRequest], Reply]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


def split_events(body: bytes) -> list[bytes]:
    """Split a recorded stream into one chunk per event (as servers flush them)."""
    sep = b"\r\n\r\n" if b"\r\n\r\n" in body else b"\n\n"
    parts = body.split(sep)
    chunks = [part + sep for part in parts[:-1]]
    if parts[-1]:
        chunks.append(parts[-1])
    return chunks


def unused_port() -> int:
    """A loopback port nothing listens on (for connection-refused tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = _read_request(sock)
        if request is None:
            return
        reply = owner._record(request)
        try:
            self._answer(sock, reply, owner)
        except OSError:
            owner._client_closed()

    def _answer(self, sock: socket.socket, reply: Reply, owner: RawServer) -> None:
        reason = _REASONS.get(reply.status, "Status")
        head = [f"HTTP/1.1 {reply.status} {reason}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
        elif reply.framing == "length":
            head.append(f"Content-Length: {sum(len(c) for c in reply.chunks)}")
        head.append("Connection: close")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for i, chunk in enumerate(reply.chunks):
            if i and reply.pause:
                time.sleep(reply.pause)  # pacing, so the client reads chunks apart
            self._send(sock, reply, chunk, owner)
        if reply.repeat:
            deadline = time.monotonic() + reply.repeat_for
            while time.monotonic() < deadline and not owner._stopping.is_set():
                time.sleep(reply.pause)
                self._send(sock, reply, reply.repeat, owner)
        if reply.ending == "complete":
            if reply.framing == "chunked":
                sock.sendall(b"0\r\n\r\n")
        elif reply.ending == "reset":
            # Give the client time to read what was sent: a reset discards
            # whatever still sits unread in its receive buffer.
            time.sleep(max(reply.pause, 0.05))
            # SO_LINGER 0: close sends RST, as a crashed peer or a middlebox does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif reply.ending == "stall":
            _drain_until_closed(sock, owner, timeout=30.0)
        # "close": fall through; socketserver closes the socket (a FIN).

    def _send(self, sock: socket.socket, reply: Reply, chunk: bytes, owner: RawServer) -> None:
        if reply.framing == "chunked":
            if chunk:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            sock.sendall(chunk)
        owner._sent(len(chunk))


def _drain_until_closed(sock: socket.socket, owner: RawServer, timeout: float) -> None:
    """Wait (bounded) for the client to close its end, and record that it did."""
    sock.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not owner._stopping.is_set():
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            owner._client_closed()
            return
        if not data:
            owner._client_closed()
            return


def _read_request(sock: socket.socket) -> RecordedRequest | None:
    sock.settimeout(5.0)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, body = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            break
        body += data
    return RecordedRequest(method, path, headers, body)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    owner: RawServer


@dataclass
class RawServer:
    """Serves ``script``: one Reply for every request, a list of them in turn
    (the last repeats), or a function of the recorded request."""

    script: Script = field(default_factory=Reply)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = threading.Condition(self._lock)
        self._closed_count = 0
        self._body_bytes_sent = 0
        self._stopping = threading.Event()
        self._server: _TCPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---
    def start(self) -> RawServer:
        server = _TCPServer(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        port: int = self._server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what happened ---
    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            assert self.requests, "no request was received"
            return self.requests[-1]

    @property
    def body_bytes_sent(self) -> int:
        """Body bytes handed to the kernel so far, over every connection."""
        with self._lock:
            return self._body_bytes_sent

    def wait_client_closed(self, count: int = 1, timeout: float = 5.0) -> bool:
        """True once the client has closed ``count`` connections mid-answer."""
        with self._closed:
            return self._closed.wait_for(lambda: self._closed_count >= count, timeout)

    # --- called from handler threads ---
    def _record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
        script = self.script
        if isinstance(script, Reply):
            return script
        if callable(script):
            return script(request)
        return script[min(index, len(script) - 1)]

    def _sent(self, size: int) -> None:
        with self._lock:
            self._body_bytes_sent += size

    def _client_closed(self) -> None:
        with self._closed:
            self._closed_count += 1
            self._closed.notify_all()


def serve(script: Script) -> Iterator[RawServer]:
    """Generator for a pytest fixture: ``yield from serve(Reply(...))``."""
    with RawServer(script) as server:
        yield server
