"""One reply being generated: SSE frames appended on a paced schedule.

A :class:`Generation` is the producer; connections are readers that follow
its frame list from some index (a new stream from 0, a resumed Responses
stream from ``starting_after + 1``). Chat Completions and Anthropic replies
belong to their connection and die with it; a Responses reply runs on its own
task, so a client that goes away does not stop it (the real background mode).

Frames are not kept: a reply is its planned tokens, how many of them are out,
and the few events before and after them. A text delta's frame is encoded
when a connection sends it (at most once per reader), so a 5 MB reply of
small tokens costs its text, not half a gigabyte of encoded events.

Pacing follows a schedule on the loop clock (token ``i`` is due at
``start + i / rate``), so there is no drift and every token that is due goes
out in one batch. Unpaced (``rate == 0``) replies are produced in large batches
that yield to the loop in between.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum

from desktop.providers.demo.dialects import StreamEncoder

__all__ = ["Generation", "GenerationStatus"]

log = logging.getLogger("sidestream.demo")

UNPACED_BATCH = 2048


class GenerationStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"  # stopped by max tokens
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self not in (GenerationStatus.QUEUED, GenerationStatus.IN_PROGRESS)


class Generation:
    """The frames of one reply, produced by :meth:`run` and read by any number of writers.

    Frame ``i`` is the i-th SSE event (:meth:`frames`); :meth:`text_at` is its
    text delta or None. For Responses, ``i`` is also the event's
    ``sequence_number``.
    """

    def __init__(
        self,
        encoder: StreamEncoder,
        tokens: list[str],
        *,
        rate: float,
        first_token_delay: float = 0.0,
        error_after: int | None = None,
        truncated: bool = False,
    ) -> None:
        self.encoder = encoder
        self.tokens = tokens
        self.rate = rate
        self.first_token_delay = first_token_delay
        self.error_after = error_after
        self.truncated = truncated
        self._head: list[bytes] = []  # the events before the first token
        self._emitted = 0  # tokens out so far, as frames after the head
        self._tail: list[bytes] = []  # the closing (or error) events
        self.status = GenerationStatus.QUEUED
        self.done = False
        # Faults already injected into this reply, as (kind, position) pairs.
        self.fired_faults: set[tuple[str, int]] = set()
        self._changed = asyncio.Event()

    @property
    def text(self) -> str:
        """The text generated so far."""
        return "".join(self.tokens[: self._emitted])

    @property
    def output_tokens(self) -> int:
        return self._emitted

    @property
    def frame_count(self) -> int:
        return len(self._head) + self._emitted + len(self._tail)

    def frames(self, start: int, end: int) -> list[bytes]:
        """Frames ``start`` up to ``end`` (encoded now, not kept)."""
        head, emitted = len(self._head), self._emitted
        out = self._head[start:end] if start < head else []
        first, last = max(start, head) - head, min(end, head + emitted) - head
        if first < last:
            delta_at = self.encoder.delta_at
            tokens = self.tokens
            out.extend(delta_at(head + k, tokens[k]) for k in range(first, last))
        if end > head + emitted:
            out.extend(self._tail[max(start - head - emitted, 0) : end - head - emitted])
        return out

    def text_at(self, index: int) -> str | None:
        """Frame ``index``'s text delta, or None for any other event."""
        token = index - len(self._head)
        return self.tokens[token] if 0 <= token < self._emitted else None

    def texts(self, start: int, end: int) -> list[str]:
        """The text deltas among frames ``start`` up to ``end``."""
        head = len(self._head)
        first, last = max(start - head, 0), min(end - head, self._emitted)
        return self.tokens[first:last] if first < last else []

    def deltas_before(self, index: int) -> int:
        """How many text deltas come before frame ``index``."""
        return min(max(index - len(self._head), 0), self._emitted)

    def _notify(self) -> None:
        changed = self._changed
        self._changed = asyncio.Event()
        changed.set()

    async def wait_beyond(self, index: int) -> None:
        """Return once there is a frame at ``index`` or the generation is done."""
        while index >= self.frame_count and not self.done:
            await self._changed.wait()

    async def run(self) -> None:
        """Produce every frame. Cancelling it ends the reply as ``cancelled``."""
        loop = asyncio.get_running_loop()
        try:
            self.status = GenerationStatus.IN_PROGRESS
            self._head = self.encoder.preamble()
            self._notify()
            if self.first_token_delay > 0:
                await asyncio.sleep(self.first_token_delay)
            start = loop.time()
            tokens = self.tokens
            total = len(tokens)
            stop_at = total if self.error_after is None else min(total, self.error_after)
            i = 0
            while i < stop_at:
                if self.rate > 0:
                    now = loop.time()
                    due = min(stop_at, int((now - start) * self.rate) + 1)
                    if due <= i:
                        await asyncio.sleep(start + i / self.rate - now)
                        continue
                else:
                    due = min(stop_at, i + UNPACED_BATCH)
                self._emitted = i = due
                self._notify()
                if self.rate <= 0:
                    await asyncio.sleep(0)
            # The closing events are numbered after the last delta.
            self.encoder.skip_to(len(self._head) + self._emitted)
            if self.error_after is not None and self.error_after <= total:
                self._tail = self.encoder.error(self.text, self.output_tokens)
                self.status = GenerationStatus.FAILED
            else:
                self._tail = self.encoder.finish(self.text, self.output_tokens, self.truncated)
                self.status = (
                    GenerationStatus.INCOMPLETE if self.truncated else GenerationStatus.COMPLETED
                )
        except asyncio.CancelledError:
            self.status = GenerationStatus.CANCELLED
            raise
        finally:
            self.done = True
            self._notify()
