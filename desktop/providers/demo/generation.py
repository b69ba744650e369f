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
    ``sequence_number``. A reply that reasons sends its reasoning tokens
    first, then the events that close the reasoning and open the answer (the
    encoder's bridge), then its text; reasoning and text share one pace.
    Fault positions and :meth:`deltas_before` count text deltas only.
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
        reasoning: list[str] | None = None,
        keepalive: float | None = None,
    ) -> None:
        self.encoder = encoder
        self.tokens = tokens
        self.reasoning = reasoning or []
        self.rate = rate
        self.first_token_delay = first_token_delay
        self.keepalive = keepalive
        self.error_after = error_after
        self.truncated = truncated
        self._head: list[bytes] = []  # the events before the first token
        self._reasoned = 0  # reasoning tokens out so far, as frames after the head
        self._bridge: list[bytes] = []  # between the reasoning and the text
        self._emitted = 0  # text tokens out so far, as frames after those
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
    def reasoning_text(self) -> str:
        """The reasoning generated so far."""
        return "".join(self.reasoning[: self._reasoned])

    @property
    def output_tokens(self) -> int:
        return self._emitted + self._reasoned

    @property
    def _text_start(self) -> int:
        """The index of the first text delta's frame."""
        return len(self._head) + self._reasoned + len(self._bridge)

    @property
    def frame_count(self) -> int:
        return self._text_start + self._emitted + len(self._tail)

    def frames(self, start: int, end: int) -> list[bytes]:
        """Frames ``start`` up to ``end`` (encoded now, not kept)."""
        head, reasoned, bridge = len(self._head), self._reasoned, len(self._bridge)
        out = self._head[start:end] if start < head else []
        first, last = max(start, head) - head, min(end, head + reasoned) - head
        if first < last:
            reasoning_at = self.encoder.reasoning_delta_at
            reasoning = self.reasoning
            out.extend(reasoning_at(head + k, reasoning[k]) for k in range(first, last))
        at = head + reasoned
        if bridge and start < at + bridge and end > at:
            out.extend(self._bridge[max(start - at, 0) : end - at])
        text_start, emitted = at + bridge, self._emitted
        first, last = (
            max(start, text_start) - text_start,
            min(end, text_start + emitted) - text_start,
        )
        if first < last:
            delta_at = self.encoder.delta_at
            tokens = self.tokens
            out.extend(delta_at(text_start + k, tokens[k]) for k in range(first, last))
        tail_start = text_start + emitted
        if end > tail_start:
            out.extend(self._tail[max(start - tail_start, 0) : end - tail_start])
        return out

    def text_at(self, index: int) -> str | None:
        """Frame ``index``'s text delta, or None for any other event."""
        token = index - self._text_start
        return self.tokens[token] if 0 <= token < self._emitted else None

    def texts(self, start: int, end: int) -> list[str]:
        """The text deltas among frames ``start`` up to ``end``."""
        text_start = self._text_start
        first, last = max(start - text_start, 0), min(end - text_start, self._emitted)
        return self.tokens[first:last] if first < last else []

    def deltas_before(self, index: int) -> int:
        """How many text deltas come before frame ``index``."""
        return min(max(index - self._text_start, 0), self._emitted)

    def _notify(self) -> None:
        changed = self._changed
        self._changed = asyncio.Event()
        changed.set()

    async def wait_beyond(self, index: int) -> None:
        """Return once there is a frame at ``index`` or the generation is done."""
        while index >= self.frame_count and not self.done:
            await self._changed.wait()

    async def _silent(self) -> None:
        """The wait before the first token, with the dialect's keep-alives."""
        remaining = self.first_token_delay
        frame = self.encoder.keepalive() if self.keepalive else None
        loop = asyncio.get_running_loop()
        end = loop.time() + remaining
        while remaining > 0:
            if frame is None or self.keepalive is None:
                await asyncio.sleep(remaining)
                return
            await asyncio.sleep(min(self.keepalive, remaining))
            remaining = end - loop.time()
            if remaining > 0:
                # Only before any token: the frames after the head stay put.
                self._head.append(frame)
                self._notify()

    async def _produce(self, start: float, first: int, count: int, text: bool) -> None:
        """Emit ``count`` tokens, the schedule's ``first`` and on (paced from ``start``)."""
        loop = asyncio.get_running_loop()
        i = 0
        while i < count:
            if self.rate > 0:
                now = loop.time()
                due = min(count, int((now - start) * self.rate) + 1 - first)
                if due <= i:
                    await asyncio.sleep(start + (first + i) / self.rate - now)
                    continue
            else:
                due = min(count, i + UNPACED_BATCH)
            i = due
            if text:
                self._emitted = i
            else:
                self._reasoned = i
            self._notify()
            if self.rate <= 0:
                await asyncio.sleep(0)

    async def run(self) -> None:
        """Produce every frame. Cancelling it ends the reply as ``cancelled``."""
        loop = asyncio.get_running_loop()
        try:
            self.status = GenerationStatus.IN_PROGRESS
            self._head = self.encoder.preamble()
            self._notify()
            if self.first_token_delay > 0:
                await self._silent()
            start = loop.time()
            reasoning = len(self.reasoning)
            if reasoning:
                await self._produce(start, 0, reasoning, text=False)
                # The bridge is numbered after the reasoning.
                self.encoder.skip_to(len(self._head) + self._reasoned)
                self._bridge = self.encoder.bridge(self.reasoning_text)
                self._notify()
            total = len(self.tokens)
            stop_at = total if self.error_after is None else min(total, self.error_after)
            await self._produce(start, reasoning, stop_at, text=True)
            # The closing events are numbered after the last delta.
            self.encoder.skip_to(self._text_start + self._emitted)
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
