"""One live reply's state, and the small values the StreamManager hands out (no Qt)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.base import Provider
from desktop.streaming.accumulate import ReplyState
from desktop.streaming.events import StreamListener, StreamProgress, StreamSnapshot


class Channel:
    """The listeners of one chat. Copy-on-write so the hot path iterates a tuple.

    ``on_screen`` is the subset whose chat is on screen; a stream with none
    of those may be evicted (a tab that follows in the background does not
    keep its reply alive).
    """

    __slots__ = ("listeners", "on_screen")

    def __init__(self) -> None:
        self.listeners: tuple[StreamListener, ...] = ()
        self.on_screen: tuple[StreamListener, ...] = ()


@dataclass(eq=False)
class LiveStream:
    """One reply the manager is consuming: its folded state and its bookkeeping.

    The text lives in :attr:`state` only; persistence remembers how much of
    it is on disk (:attr:`flushed`, :attr:`flushed_reasoning`), and what a
    flush would write is always ``state.text_between(flushed)`` and
    ``state.reasoning_between(flushed_reasoning)``.

    Times are wall-clock seconds: when the reply started waiting for its
    first token, and when its first reasoning and first text came.
    """

    session_id: int
    message_id: int
    provider: Provider
    channel: Channel
    order: int
    state: ReplyState
    flushed: int = 0  # characters of the text on disk (a Continue's partial text counts)
    flushed_reasoning: int = 0  # likewise of the reasoning
    flushed_status: MessageStatus | None = None
    flushed_cursor: str | None = None
    early_flush: bool = False  # asked for as soon as the first cursor came
    task: asyncio.Task[None] | None = None
    # Set before the task is cancelled: what the cancellation means.
    end_request: tuple[MessageStatus, InterruptReason | None] | None = None
    # Why Sidestream itself ended it (its text could not be saved), if it did.
    end_error: str | None = None
    ended: bool = False
    started_at: float = field(default_factory=time.time)
    # Waiting for the first token (False: it came, or a resume mid-reply).
    waiting: bool = True
    reasoning_started_at: float | None = None
    first_text_at: float | None = None
    ended_at: float | None = None

    @property
    def status(self) -> MessageStatus:
        return self.state.status

    @property
    def waiting_since(self) -> float | None:
        """Since when the reply waits for its first token; None once one came."""
        return self.started_at if self.waiting and not self.ended else None

    @property
    def reasoning_seconds(self) -> float | None:
        """How long the model reasoned before its answer began; None while it still
        reasons (the reply is live and has no text yet) or if it did not."""
        started = self.reasoning_started_at
        if started is None:
            return None
        answered = self.first_text_at
        if answered is None or answered < started:
            answered = self.ended_at  # it ended reasoning, without an answer
        return None if answered is None else round(max(0.0, answered - started), 3)

    def snapshot(self, error: str | None = None, reason: str | None = None) -> StreamSnapshot:
        state = self.state
        return StreamSnapshot(
            session_id=self.session_id,
            message_id=self.message_id,
            status=state.status,
            text=state.text(),
            reasoning=state.reasoning(),
            error=error,
            reason=reason,
            finish=state.finish if state.status is MessageStatus.COMPLETE else None,
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            waiting_since=self.waiting_since,
            reasoning_started_at=self.reasoning_started_at,
            reasoning_seconds=self.reasoning_seconds,
        )

    def progress(self) -> StreamProgress:
        state = self.state
        return StreamProgress(
            message_id=self.message_id,
            status=state.status,
            length=state.length,
            reasoning_length=state.reasoning_length,
            waiting_since=self.waiting_since,
            reasoning_started_at=self.reasoning_started_at,
            reasoning_seconds=self.reasoning_seconds,
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
        )


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    resumed: tuple[int, ...] = ()
    completed: tuple[int, ...] = ()
    interrupted: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class UnsavedReply:
    """A reply whose text is partly not on disk: ``unsaved`` characters would
    be lost by quitting now; ``saved`` are on disk."""

    session_id: int
    message_id: int
    unsaved: int
    saved: int


@dataclass(slots=True)
class FlushStats:
    """Time the flusher spends on the loop thread (the writes run elsewhere)."""

    steps: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def record(self, seconds: float) -> None:
        self.steps += 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)


class ConcurrencyLimitError(RuntimeError):
    """Every live stream is on screen, so none can make room for another."""


def overlap(text: str, continuation: str) -> int:
    """Length of the longest suffix of ``text`` that is a prefix of ``continuation``.

    Linear time: the prefix function of ``continuation``, then a KMP match of
    the tail of ``text`` against it (no separator character, which the texts
    themselves could hold).
    """
    if not text or not continuation:
        return 0
    tail = text[-len(continuation) :]
    prefix = [0] * len(continuation)
    for i in range(1, len(continuation)):
        k = prefix[i - 1]
        while k and continuation[i] != continuation[k]:
            k = prefix[k - 1]
        if continuation[i] == continuation[k]:
            k += 1
        prefix[i] = k
    k = 0
    for char in tail:
        # k < len(continuation) here: it can only reach it with the last character.
        while k and char != continuation[k]:
            k = prefix[k - 1]
        if char == continuation[k]:
            k += 1
    return k
