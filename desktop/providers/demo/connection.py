"""One TCP connection of the demo server: read requests, write answers and streams.

A reader task per connection owns the socket's read side: it buffers bytes for
the request parser and sees the client's EOF (or reset) the moment it arrives,
so a client that closes mid-stream is noticed within milliseconds, not at the
next write. Writes go through :meth:`Connection.send_body`, which applies the
byte-level faults (drip) and batches events into one chunk per write.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from desktop.providers.demo.generation import Generation
from desktop.providers.demo.http import (
    LAST_CHUNK,
    MAX_BODY,
    MAX_HEAD,
    HttpError,
    HttpRequest,
    chunk,
    parse_head,
    response_head,
)
from desktop.providers.demo.ledger import ConnectionRecord
from desktop.providers.demo.options import INVALID_UTF8, INVALID_UTF8_TEXT, DemoOptions

__all__ = ["Connection", "StreamCut"]

log = logging.getLogger("sidestream.demo")

READ_SIZE = 256 * 1024
WRITE_HIGH_WATER = 512 * 1024
# At most this many events go into one write when a client lags far behind.
MAX_BATCH = 4096
_CONTINUATION_BYTE = re.compile(rb"[\x80-\xbf]")


class StreamCut(Exception):
    """The server cut the connection on purpose (``cut_after``)."""


def split_frame(frame: bytes) -> tuple[bytes, bytes]:
    """Two non-empty halves, split inside a multi-byte character when there is one."""
    found = _CONTINUATION_BYTE.search(frame, 1)
    at = found.start() if found else len(frame) // 2
    return frame[:at], frame[at:]


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: ConnectionRecord,
        on_client_gone: Callable[[Connection], None],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.record = record
        self._on_client_gone = on_client_gone
        self._buffer = bytearray()
        self._eof = False
        self._data = asyncio.Event()
        self.reader_task: asyncio.Task[None] | None = None
        self.handler_task: asyncio.Task[None] | None = None
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    # --- reading --------------------------------------------------------------------

    async def read_loop(self) -> None:
        """Buffer incoming bytes; on EOF or reset, report the client gone at once."""
        try:
            while True:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    break
                self._buffer += data
                self._data.set()
        except (ConnectionError, OSError):
            pass
        self._eof = True
        self._data.set()
        self._on_client_gone(self)

    async def _more(self) -> None:
        self._data.clear()
        await self._data.wait()

    async def _take(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            if self._eof:
                return None
            await self._more()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _take_line(self) -> bytes | None:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if self._eof or len(self._buffer) > MAX_HEAD:
                return None
            await self._more()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    async def read_request(self) -> HttpRequest | None:
        """The next request, or None when the client closed the connection."""
        while True:
            while self._buffer.startswith(b"\r\n"):  # stray CRLF between requests
                del self._buffer[:2]
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buffer) > MAX_HEAD:
                raise HttpError(431, "request head too large")
            if self._eof:
                return None
            await self._more()
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        method, target, version, headers = parse_head(head)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise HttpError(400, "bad content-length") from None
            if length < 0 or length > MAX_BODY:
                raise HttpError(413, "request body too large")
            if headers.get("expect", "").lower() == "100-continue" and length:
                self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await self._take(length) if length else b""
        if body is None:
            return None
        return HttpRequest(method, target, version, headers, body)

    async def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = await self._take_line()
            if line is None:
                return None
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunk size") from None
            if size == 0:
                while (trailer := await self._take_line()) not in (b"", None):
                    del trailer
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise HttpError(413, "request body too large")
            data = await self._take(size + 2)
            if data is None:
                return None
            parts.append(data[:-2])

    # --- writing --------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self.writer.transport.is_closing()

    def write(self, data: bytes) -> None:
        if data and not self.closing:
            self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    async def send_body(self, data: bytes, options: DemoOptions) -> None:
        """Write body bytes: all at once, or one byte per ``drip`` seconds."""
        if options.drip is None:
            self.write(data)
            await self.drain()
            return
        for k in range(len(data)):
            self.write(data[k : k + 1])
            await self.drain()
            if options.drip > 0:
                await asyncio.sleep(options.drip)

    async def send_response(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        options: DemoOptions,
        keep_alive: bool,
    ) -> None:
        headers = [
            *headers,
            ("content-length", str(len(body))),
            ("connection", "keep-alive" if keep_alive else "close"),
        ]
        self.write(response_head(status, headers))
        await self.send_body(body, options)

    async def flush_all(self) -> None:
        """Wait until every byte written so far has left the process."""
        transport = self.writer.transport
        transport.set_write_buffer_limits(high=0)
        try:
            await self.drain()
        finally:
            if not transport.is_closing():
                transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    # --- streaming ------------------------------------------------------------------

    async def _send_events(
        self, frames: list[bytes], texts: list[str], options: DemoOptions
    ) -> None:
        if not frames:
            return
        if options.chunk_split:
            for frame in frames:
                for half in split_frame(frame):
                    await self.send_body(chunk(half), options)
        else:
            await self.send_body(chunk(b"".join(frames)), options)
        record = self.record
        record.events_sent += len(frames)
        if texts:
            record.text_parts.extend(texts)
            record.sent_log.append((time.monotonic(), len(record.text_parts)))

    async def _at_mark(self, count: int, generation: Generation, options: DemoOptions) -> None:
        """Fire the faults set to go off after the reply's ``count``-th text delta.

        Each fault fires once per reply, so a resumed Responses stream is not
        cut (or stalled) again at the same place.
        """
        fired = generation.fired_faults
        if options.malformed_after == count and ("malformed", count) not in fired:
            fired.add(("malformed", count))
            await self._send_events([generation.encoder.malformed()], [], options)
        if options.invalid_utf8_after == count and ("invalid_utf8", count) not in fired:
            fired.add(("invalid_utf8", count))
            frame = generation.encoder.invalid_utf8(INVALID_UTF8)
            await self._send_events([frame], [INVALID_UTF8_TEXT], options)
        if options.cut_after == count and ("cut", count) not in fired:
            fired.add(("cut", count))
            await self.flush_all()
            raise StreamCut
        if options.stall_after == count and ("stall", count) not in fired:
            fired.add(("stall", count))
            log.debug("connection %d stalls after %d deltas", self.record.id, count)
            if options.stall_seconds is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(options.stall_seconds)

    async def pump(self, generation: Generation, start: int, options: DemoOptions) -> None:
        """Write ``generation``'s frames from ``start`` until it is done, then end the body.

        Fault positions count the reply's text deltas from its start, also on a
        stream resumed mid-reply. Raises :class:`StreamCut` when ``cut_after``
        fires (the chunked body is left unterminated; the caller aborts).
        """
        index = start
        # Text deltas of the reply before this stream's first frame.
        deltas = generation.deltas_before(start)
        self.record.first_delta = deltas
        marks = {
            m
            for m in (
                options.cut_after,
                options.stall_after,
                options.malformed_after,
                options.invalid_utf8_after,
            )
            if m is not None and m >= deltas
        }
        if deltas > 0:
            marks.discard(deltas)  # that point was passed on an earlier connection
        while True:
            available = generation.frame_count
            if index >= available:
                if generation.done:
                    break
                await generation.wait_beyond(index)
                continue
            end = min(available, index + MAX_BATCH)
            frames = generation.frames(index, end)
            if not marks:
                await self._send_events(frames, generation.texts(index, end), options)
                index = end
                continue
            batch: list[bytes] = []
            batch_texts: list[str] = []
            first = index
            while index < end:
                text = generation.text_at(index)
                if text is not None and deltas == 0 and 0 in marks:
                    marks.discard(0)
                    await self._send_events(batch, batch_texts, options)
                    batch, batch_texts = [], []
                    await self._at_mark(0, generation, options)
                batch.append(frames[index - first])
                index += 1
                if text is not None:
                    batch_texts.append(text)
                    deltas += 1
                    if deltas in marks:
                        marks.discard(deltas)
                        await self._send_events(batch, batch_texts, options)
                        batch, batch_texts = [], []
                        await self._at_mark(deltas, generation, options)
            if batch:
                await self._send_events(batch, batch_texts, options)
        await self.send_body(LAST_CHUNK, options)
