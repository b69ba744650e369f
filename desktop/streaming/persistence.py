"""Writing live replies to the store: one writer thread, batched flushes, retried final writes.

The :class:`~desktop.streaming.manager.StreamManager` decides when; this
decides how. Every write runs on one writer thread, in order, so the event
loop never waits on SQLite (DESIGN.md invariant 2). A flush appends what each
live reply received since the last one (text and reasoning), for all of them
in one transaction.
A write the store refuses (a full disk, a read-only folder) is reported to the
handler and raised; the text stays in memory (a reply's state holds all of
it; the stream only notes how much of it is on disk), and a final write that
failed is kept in :attr:`StreamPersistence.unsaved` to be retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from desktop.store import Store, StoreError, StreamFlush
from desktop.streaming.stream import FlushStats, LiveStream

log = logging.getLogger("sidestream.stream")


@dataclasses.dataclass(frozen=True, slots=True)
class UnsavedEnd:
    """An ended reply whose final write the store refused, kept to retry."""

    stream: LiveStream
    write: Callable[[], Any]


class UnsaveableText(Exception):
    """The store cannot take these replies' text, and never will (a bug, not a
    full disk): they must end visibly rather than stream on unsaved."""

    def __init__(self, streams: list[LiveStream], cause: str) -> None:
        super().__init__(f"{len(streams)} replies could not be saved ({cause})")
        self.streams = streams
        self.cause = cause


@dataclasses.dataclass(slots=True)
class _Pending:
    """One reply's part of a flush: what it writes, and up to where its text is then saved."""

    stream: LiveStream
    item: StreamFlush
    length: int
    reasoning_length: int

    def saved(self) -> None:
        stream, item = self.stream, self.item
        stream.flushed = self.length
        stream.flushed_reasoning = self.reasoning_length
        stream.flushed_status = item.status
        stream.flushed_cursor = item.cursor


def _flush_of(stream: LiveStream) -> StreamFlush:
    state = stream.state
    return StreamFlush(
        message_id=stream.message_id,
        append_text=state.text_between(stream.flushed),
        append_reasoning=state.reasoning_between(stream.flushed_reasoning),
        status=state.status,
        cursor=state.cursor,
        input_tokens=state.input_tokens,
        output_tokens=state.output_tokens,
        model=state.model,
    )


class StreamPersistence:
    """The store, its writer thread, and the bookkeeping of flushes and refused writes."""

    def __init__(
        self, store: Store, on_store_error: Callable[[StoreError], None] | None = None
    ) -> None:
        self._store = store
        self.on_store_error = on_store_error
        """Who hears that a write was refused."""
        self.unsaved: dict[int, UnsavedEnd] = {}
        """Final writes of ended replies the store refused, by message id."""
        self.refusal: StoreError | None = None
        """The store's last refusal, until a write succeeds again."""
        self.stats = FlushStats()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sidestream-store")
        self._lock = asyncio.Lock()

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the writer thread, after every write queued before it."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the writer thread; a refused write is logged, reported and raised."""
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._writer, fn, *args)
        except StoreError as exc:
            log.error("could not save: %s", exc.message)
            self.refusal = exc
            if self.on_store_error is not None:
                self.on_store_error(exc)
            raise
        self.refusal = None
        return result

    async def flush(self, streams: Iterable[LiveStream]) -> None:
        """Append what each live reply received since its last flush, in one write."""
        async with self._lock:
            started = time.perf_counter()
            batch: list[_Pending] = []
            for stream in streams:
                if stream.ended or stream.end_request is not None:
                    continue  # its terminal write carries the whole text
                state = stream.state
                if (
                    state.length == stream.flushed
                    and state.reasoning_length == stream.flushed_reasoning
                    and state.status is stream.flushed_status
                    and state.cursor == stream.flushed_cursor
                ):
                    continue
                batch.append(
                    _Pending(stream, _flush_of(stream), state.length, state.reasoning_length)
                )
            if not batch:
                return
            self.stats.record(time.perf_counter() - started)
            try:
                await self.write(self._store.flush_streaming, [p.item for p in batch])
            except Exception as exc:
                if isinstance(exc, StoreError):
                    raise  # nothing was written; the next flush writes it all
                # Not the store refusing (that is a StoreError): a write that
                # can never succeed. Find whose it is, save the others.
                await self._isolate(batch, exc)
                return
            started = time.perf_counter()
            for pending in batch:
                pending.saved()
            self.stats.record(time.perf_counter() - started)

    async def _isolate(self, batch: list[_Pending], exc: Exception) -> None:
        """Write a failed batch one reply at a time; raise :class:`UnsaveableText`
        naming the replies whose text cannot be written."""
        log.error(
            "a flush failed unexpectedly (%s); writing its %d replies one by one",
            type(exc).__name__,  # not str(exc): it may quote the chat's text
            len(batch),
        )
        failed: list[LiveStream] = []
        for pending in batch:
            try:
                await self.write(self._store.flush_streaming, [pending.item])
            except StoreError:
                raise
            except Exception:
                failed.append(pending.stream)
            else:
                pending.saved()
        if failed:
            raise UnsaveableText(failed, type(exc).__name__)

    async def write_status(self, stream: LiveStream) -> None:
        """Write a reply's new status (and cursor) at once, without waiting for a flush."""
        state = stream.state
        await self.write(
            self._store.flush_streaming,
            [StreamFlush(stream.message_id, "", state.status, state.cursor, model=state.model)],
        )
        stream.flushed_status = state.status

    async def retry_unsaved(self) -> None:
        """Write the final states the store refused before; raises StoreError again."""
        for message_id, end in list(self.unsaved.items()):
            await self.write(end.write)
            if self.unsaved.get(message_id) is end:
                del self.unsaved[message_id]

    def close(self) -> None:
        """Wait for the writes under way, then stop the writer thread."""
        self._writer.shutdown(wait=True)
