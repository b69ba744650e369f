"""Server-Sent Events decoding: response bytes in, SSE events out.

This is the layer under every wire dialect and runs once per token, so it is
kept lean. It follows the WHATWG event-stream rules, as httpx-sse does, with
three fixes that real LLM servers need:

* at end of stream the last event is dispatched even without the trailing
  blank line (servers that end with ``data: [DONE]`` and close);
* llama.cpp's legacy, non-standard ``error: {...}`` line is surfaced as an
  event named ``error`` carrying that line's value as data;
* comments and events without data are never dispatched;
* an event may not grow past :data:`MAX_EVENT_CHARS`: a server that sends an
  endless line (or endless data lines with no blank line) would otherwise
  fill the memory without ever tripping the read timeout, since bytes keep
  coming. Past the limit :meth:`SSEDecoder.feed` raises :class:`EventTooLarge`
  and the caller stops reading.

Lines are split on CR, LF and CRLF only. ``httpx.Response.aiter_lines`` is not
used because it splits like ``str.splitlines`` (also on U+2028, U+0085, ...),
which tears apart a JSON payload holding such a character unescaped. Bytes are
decoded as UTF-8 incrementally (the SSE spec fixes the encoding), so a
multi-byte character split across network chunks comes out whole.
"""

from __future__ import annotations

import codecs
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, NamedTuple, NoReturn, cast

import httpx

__all__ = ["MAX_EVENT_CHARS", "EventTooLarge", "SSEDecoder", "SSEEvent", "aiter_sse", "loads"]

_raw_decode = json.JSONDecoder().raw_decode


def loads(data: str) -> Any:
    """``json.loads`` of one event's data, minus its two whitespace scans.

    Runs once per token. Event data has no whitespace around its JSON in
    practice; when it does, or is not JSON, ``json.loads`` decides (and
    raises the same error it always would).
    """
    try:
        value, end = _raw_decode(data)
    except ValueError:
        return json.loads(data)
    if end != len(data):
        return json.loads(data)
    return value


# The largest event accepted, in characters (bytes, for the ASCII of JSON):
# over three times the 10 MB event a reply may legitimately hold (a long answer or
# a big tool result sent in one piece), and small enough that buffering it,
# joining it and parsing its JSON stays within a few hundred MB.
MAX_EVENT_CHARS = 32 * 1024 * 1024


class SSEEvent(NamedTuple):
    """One dispatched event. ``event`` is "" when the stream named none (a "message")."""

    event: str
    data: str
    id: str = ""


class EventTooLarge(Exception):
    """The event being received grew past the decoder's limit.

    ``events`` are the events the same chunk completed before it, which the
    caller should still handle; the decoder holds nothing after this.
    """

    def __init__(self, limit: int, events: list[SSEEvent]) -> None:
        super().__init__(f"an event larger than {limit} characters")
        self.limit = limit
        self.events = events


class SSEDecoder:
    """Incremental bytes -> :class:`SSEEvent` decoder.

    Call :meth:`feed` with each network chunk and :meth:`flush` once at end of
    stream. ``max_event_chars`` bounds what one event may buffer (its data
    lines and its unfinished line): once that passes the limit, :meth:`feed`
    raises :class:`EventTooLarge`. The check runs per chunk, so an event
    that ends inside the very chunk that takes it past the limit still
    passes; the decoder never holds more than the limit plus one chunk.
    """

    __slots__ = (
        "_data",
        "_data_chars",
        "_event",
        "_id",
        "_limit",
        "_skip_lf",
        "_started",
        "_tail",
        "_tail_chars",
        "_utf8",
    )

    def __init__(self, max_event_chars: int = MAX_EVENT_CHARS) -> None:
        # errors="replace": one bad byte from a server must not kill the stream.
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode
        # The start of a line whose end has not arrived yet, in pieces: a
        # 10 MB event arrives in hundreds of chunks, and joining them only
        # once its line ends keeps decoding it linear.
        self._tail: list[str] = []
        # Running sizes, counted as text arrives, never re-measured: of the
        # unfinished line (valid while _tail is not empty) and of the data
        # lines of the event not yet dispatched (valid while _data is not).
        self._tail_chars = 0
        self._data_chars = 0
        self._limit = max_event_chars
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._id = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one chunk of the body; return the events it completed."""
        text = self._utf8(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            tail = self._tail
            if tail:
                self._tail_chars += len(text)
            else:
                self._tail_chars = len(text)
            tail.append(text)
            if self._tail_chars + (self._data_chars if self._data else 0) > self._limit:
                self._overflow([])
            return []
        lines = text.split("\n")
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = "".join(self._tail)
        last = lines.pop()
        events = self._lines(lines)
        # The common chunk ends where an event ends: nothing is pending.
        if last:
            self._tail = [last]
            self._tail_chars = len(last)
            if len(last) + (self._data_chars if self._data else 0) > self._limit:
                self._overflow(events)
        else:
            self._tail = []
            if self._data and self._data_chars > self._limit:
                self._overflow(events)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: finish the last line and dispatch a pending event."""
        lines = ["".join(self._tail) + self._utf8(b"", True), ""]
        self._tail = []
        return self._lines(lines)

    def _overflow(self, events: list[SSEEvent]) -> NoReturn:
        # Let go of the buffered text at once: the caller stops reading.
        self._tail = []
        self._data = []
        raise EventTooLarge(self._limit, events)

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        counted = len(data)  # data lines already in self._data_chars
        for line in lines:
            if not line:
                if data:
                    events.append(SSEEvent(self._event, "\n".join(data), self._id))
                    data = self._data = []
                    counted = 0
                self._event = ""
                continue
            if line.startswith("data:"):
                # The common line first, copied once (a 10 MB event is one line).
                data.append(line[6:] if line[5:6] == " " else line[5:])
                continue
            if line.startswith("event:"):  # the next most common (Responses, Anthropic)
                self._event = line[7:] if line[6:7] == " " else line[6:]
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._id = value
            elif name == "error":
                # llama.cpp (before its OpenAI-compatible error objects) wrote
                # "error: {json}" in place of a data line.
                self._event = "error"
                data.append(value)
            # Comments (name == "") and unknown fields such as "retry" are ignored.
        if data:
            # An event goes on past these lines (rare: servers flush whole
            # events); add only its lines not counted yet.
            known = self._data_chars if counted else 0
            self._data_chars = known + sum(map(len, data[counted:]))
        return events


async def aiter_sse(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    """Iterate the SSE events of a streamed response (convenience wrapper).

    The providers inline this loop instead, to save an async-generator hop per
    event on the hot path. Raises :class:`EventTooLarge` past the size limit.
    """
    decoder = SSEDecoder()
    async with contextlib.aclosing(
        cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
    ) as chunks:
        async for chunk in chunks:
            for event in decoder.feed(chunk):
                yield event
    for event in decoder.flush():
        yield event
