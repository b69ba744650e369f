"""One reply being generated: SSE frames appended on a paced schedule.

A :class:`Generation` is the producer; connections are readers that follow
its frame list from some index (a new stream from 0, a resumed Responses
stream from ``starting_after + 1``). Chat Completions and Anthropic replies
belong to their connection and die with it; a Responses reply runs on its own
task, so a client that goes away does not stop it (the real background mode).

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
    """Frames of one reply, produced by :meth:`run` and read by any number of writers.

    ``frames[i]`` is the i-th SSE event; ``texts[i]`` its text delta or None.
    For Responses, ``i`` is also the event's ``sequence_number``.
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
        self.frames: list[bytes] = []
        self.texts: list[str | None] = []
        self.text_parts: list[str] = []
        self.status = GenerationStatus.QUEUED
        self.done = False
        # Faults already injected into this reply, as (kind, position) pairs.
        self.fired_faults: set[tuple[str, int]] = set()
        self._changed = asyncio.Event()

    @property
    def text(self) -> str:
        """The text generated so far."""
        return "".join(self.text_parts)

    @property
    def output_tokens(self) -> int:
        return len(self.text_parts)

    def _notify(self) -> None:
        changed = self._changed
        self._changed = asyncio.Event()
        changed.set()

    def _extend(self, frames: list[bytes]) -> None:
        self.frames.extend(frames)
        self.texts.extend([None] * len(frames))

    def _emit_tokens(self, tokens: list[str]) -> None:
        delta = self.encoder.delta
        self.frames.extend([delta(t) for t in tokens])
        self.texts.extend(tokens)
        self.text_parts.extend(tokens)

    async def wait_beyond(self, index: int) -> None:
        """Return once there is a frame at ``index`` or the generation is done."""
        while index >= len(self.frames) and not self.done:
            await self._changed.wait()

    async def run(self) -> None:
        """Produce every frame. Cancelling it ends the reply as ``cancelled``."""
        loop = asyncio.get_running_loop()
        try:
            self.status = GenerationStatus.IN_PROGRESS
            self._extend(self.encoder.preamble())
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
                self._emit_tokens(tokens[i:due])
                i = due
                self._notify()
                if self.rate <= 0:
                    await asyncio.sleep(0)
            if self.error_after is not None and self.error_after <= total:
                self._extend(self.encoder.error(self.text, self.output_tokens))
                self.status = GenerationStatus.FAILED
            else:
                self._extend(self.encoder.finish(self.text, self.output_tokens, self.truncated))
                self.status = (
                    GenerationStatus.INCOMPLETE if self.truncated else GenerationStatus.COMPLETED
                )
        except asyncio.CancelledError:
            self.status = GenerationStatus.CANCELLED
            raise
        finally:
            self.done = True
            self._notify()
