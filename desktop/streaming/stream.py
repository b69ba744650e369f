"""One live reply's state, and the small values the StreamManager hands out (no Qt)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.base import Provider
from desktop.streaming.accumulate import ReplyState
from desktop.streaming.events import StreamListener, StreamSnapshot


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
    it is on disk (:attr:`flushed`), and what a flush would write is always
    ``state.text_between(flushed)``.
    """

    session_id: int
    message_id: int
    provider: Provider
    channel: Channel
    order: int
    state: ReplyState
    flushed: int = 0  # characters of the text on disk (a Continue's partial text counts)
    flushed_status: MessageStatus | None = None
    flushed_cursor: str | None = None
    early_flush: bool = False  # asked for as soon as the first cursor came
    task: asyncio.Task[None] | None = None
    # Set before the task is cancelled: what the cancellation means.
    end_request: tuple[MessageStatus, InterruptReason | None] | None = None
    # Why Sidestream itself ended it (its text could not be saved), if it did.
    end_error: str | None = None
    ended: bool = False

    @property
    def status(self) -> MessageStatus:
        return self.state.status

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

    Linear time (the prefix function of ``continuation + NUL + tail of text``).
    """
    tail = text[-len(continuation) :] if continuation else ""
    joined = continuation + "\0" + tail
    prefix = [0] * len(joined)
    for i in range(1, len(joined)):
        k = prefix[i - 1]
        while k and joined[i] != joined[k]:
            k = prefix[k - 1]
        if joined[i] == joined[k]:
            k += 1
        prefix[i] = k
    return prefix[-1] if joined else 0
