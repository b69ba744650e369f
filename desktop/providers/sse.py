"""Server-Sent Events decoding: response bytes in, SSE events out.

This is the layer under every wire dialect and runs once per token, so it is
kept lean. It follows the WHATWG event-stream rules, as httpx-sse does, with
three fixes that real LLM servers need:

* at end of stream the last event is dispatched even without the trailing
  blank line (servers that end with ``data: [DONE]`` and close);
* llama.cpp's legacy, non-standard ``error: {...}`` line is surfaced as an
  event named ``error`` carrying that line's value as data;
* comments and events without data are never dispatched.

Lines are split on CR, LF and CRLF only. ``httpx.Response.aiter_lines`` is not
used because it splits like ``str.splitlines`` (also on U+2028, U+0085, ...),
which tears apart a JSON payload holding such a character unescaped. Bytes are
decoded as UTF-8 incrementally (the SSE spec fixes the encoding), so a
multi-byte character split across network chunks comes out whole.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import NamedTuple, cast

import httpx

__all__ = ["SSEDecoder", "SSEEvent", "aiter_sse"]


class SSEEvent(NamedTuple):
    """One dispatched event. ``event`` is "" when the stream named none (a "message")."""

    event: str
    data: str
    id: str = ""


class SSEDecoder:
    """Incremental bytes -> :class:`SSEEvent` decoder.

    Call :meth:`feed` with each network chunk and :meth:`flush` once at end of
    stream.
    """

    __slots__ = ("_data", "_event", "_id", "_skip_lf", "_started", "_tail", "_utf8")

    def __init__(self) -> None:
        # errors="replace": one bad byte from a server must not kill the stream.
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode
        # The start of a line whose end has not arrived yet, in pieces: a
        # 10 MB event arrives in hundreds of chunks, and joining them only
        # once its line ends keeps decoding it linear.
        self._tail: list[str] = []
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
            self._tail.append(text)
            return []
        lines = text.split("\n")
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = "".join(self._tail)
        last = lines.pop()
        self._tail = [last] if last else []
        return self._lines(lines)

    def flush(self) -> list[SSEEvent]:
        """End of stream: finish the last line and dispatch a pending event."""
        lines = ["".join(self._tail) + self._utf8(b"", True), ""]
        self._tail = []
        return self._lines(lines)

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(SSEEvent(self._event, "\n".join(data), self._id))
                    data = self._data = []
                self._event = ""
                continue
            if line.startswith("data:"):
                # The common line first, copied once (a 10 MB event is one line).
                data.append(line[6:] if line[5:6] == " " else line[5:])
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
        return events


async def aiter_sse(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    """Iterate the SSE events of a streamed response (convenience wrapper).

    The providers inline this loop instead, to save an async-generator hop per
    event on the hot path.
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
