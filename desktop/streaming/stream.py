"""One live reply's state, and the small values the StreamManager hands out (no Qt)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from desktop.core.states import InterruptReason, MessageStatus
from desktop.core.text import SurrogateMender
from desktop.providers.base import Provider
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
    session_id: int
    message_id: int
    provider: Provider
    channel: Channel
    order: int
    status: MessageStatus
    # The text is saved_text + inflight + "".join(pending): the hot path only
    # appends to ``pending``; a flush moves it to ``inflight`` while the writer
    # thread works, then to ``saved_text`` once it is on disk.
    saved_text: str = ""
    inflight: str = ""
    pending: list[str] = field(default_factory=list)
    cursor: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning: list[str] = field(default_factory=list)
    # Surrogate pairs split across deltas are joined, lone halves replaced.
    text_mender: SurrogateMender = field(default_factory=SurrogateMender)
    reasoning_mender: SurrogateMender = field(default_factory=SurrogateMender)
    flushed_status: MessageStatus | None = None
    flushed_cursor: str | None = None
    early_flush: bool = False  # asked for as soon as the first cursor came
    task: asyncio.Task[None] | None = None
    # Set before the task is cancelled: what the cancellation means.
    end_request: tuple[MessageStatus, InterruptReason | None] | None = None
    # Why Sidestream itself ended it (its text could not be saved), if it did.
    end_error: str | None = None
    ended: bool = False

    def text(self) -> str:
        pending = self.pending
        if len(pending) > 1:
            # Collapse so repeated snapshots stay cheap.
            pending[:] = ["".join(pending)]
        return self.saved_text + self.inflight + (pending[0] if pending else "")

    def text_length(self) -> int:
        return len(self.saved_text) + len(self.inflight) + sum(map(len, self.pending))

    def has_text(self) -> bool:
        return bool(self.saved_text or self.inflight or self.pending)

    def snapshot(self, error: str | None = None, reason: str | None = None) -> StreamSnapshot:
        return StreamSnapshot(
            session_id=self.session_id,
            message_id=self.message_id,
            status=self.status,
            text=self.text(),
            reasoning="".join(self.reasoning),
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
