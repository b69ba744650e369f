"""What the demo server saw and did, for tests to check: requests and connections.

Written on the server's loop thread, read from any thread: lists are only
appended to or replaced under a re-entrant lock, and readers get copies. A
reader that needs several reads to agree holds :attr:`Ledger.lock` around them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ConnectionRecord", "Ledger", "LoggedRequest"]

ClosedBy = Literal["client", "server"]


@dataclass(slots=True)
class LoggedRequest:
    """One request as received. Unpacks as ``method, path, headers, body``.

    ``path`` has no query string (that is in ``query``); ``headers`` names are
    lower-case; ``body`` is the parsed JSON body, or None.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)
    connection_id: int = 0
    at: float = field(default_factory=time.monotonic)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.headers, self.body))


@dataclass(slots=True)
class ConnectionRecord:
    """One TCP connection; ``method``/``path`` are those of its latest request.

    Times are ``time.monotonic()``. ``events_sent`` counts SSE events written;
    ``text_sent`` is the text of the deltas actually written to the socket (an
    ``invalid_utf8_after`` delta as a client decoding with replacement reads
    it). ``first_delta`` is how many of the reply's text deltas came before
    this connection's first one (non-zero for a resumed Responses stream), and
    ``sent_log`` holds ``(time, deltas_sent)`` after each write of text deltas,
    so a test can tell what the client could have had at any instant.
    """

    id: int
    peer: str
    opened_at: float = field(default_factory=time.monotonic)
    method: str = ""
    path: str = ""
    requests: int = 0
    closed_at: float | None = None
    closed_by: ClosedBy | None = None
    events_sent: int = 0
    response_id: str | None = None
    text_parts: list[str] = field(default_factory=list)
    first_delta: int = 0
    sent_log: list[tuple[float, int]] = field(default_factory=list)

    @property
    def text_sent(self) -> str:
        return "".join(self.text_parts)

    def deltas_sent_by(self, when: float) -> int:
        """How many text deltas this connection had written by ``when`` (monotonic)."""
        sent = 0
        for at, count in self.sent_log:
            if at > when:
                break
            sent = count
        return sent

    @property
    def deltas_sent(self) -> int:
        return len(self.text_parts)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._requests: list[LoggedRequest] = []
        self._connections: list[ConnectionRecord] = []
        self._next_id = 1
        self._open = 0

    def open_connection(self, peer: str) -> ConnectionRecord:
        with self.lock:
            record = ConnectionRecord(id=self._next_id, peer=peer)
            self._next_id += 1
            self._connections.append(record)
            self._open += 1
            return record

    def close_connection(self, record: ConnectionRecord, closed_by: ClosedBy) -> bool:
        """Mark ``record`` closed; False when it already was."""
        with self.lock:
            if record.closed_at is not None:
                return False
            record.closed_at = time.monotonic()
            record.closed_by = closed_by
            self._open -= 1
            return True

    def log_request(self, request: LoggedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    @property
    def open_connections(self) -> int:
        return self._open

    def requests(self) -> list[LoggedRequest]:
        with self.lock:
            return list(self._requests)

    def connections(self) -> list[ConnectionRecord]:
        with self.lock:
            return list(self._connections)

    def clear(self) -> None:
        """Forget logged requests and closed connections (live ones stay listed)."""
        with self.lock:
            self._requests = []
            self._connections = [c for c in self._connections if c.closed_at is None]
