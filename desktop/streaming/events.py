"""What the StreamManager tells its listeners: plain values, no Qt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from desktop.core.states import MessageStatus


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """The live state of one reply at one instant; authoritative over the store."""

    session_id: int
    message_id: int
    status: MessageStatus
    text: str
    reasoning: str = ""
    error: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """A reply reached a terminal state and that state is on disk."""

    session_id: int
    message_id: int
    status: MessageStatus
    text: str
    error: str | None = None
    reason: str | None = None

    @property
    def first_line(self) -> str:
        for line in self.text.splitlines():
            stripped = line.strip().lstrip("#").strip()
            if stripped:
                return stripped
        return ""


class StreamListener(Protocol):
    """A subscriber to one chat's replies (a view, a bridge to Qt, a test).

    Calls arrive on the event loop's thread, synchronously from the manager:
    a listener must only record what happened and return (the Qt bridge
    coalesces per frame), never await or call back into the manager.
    """

    def on_stream_started(self, snapshot: StreamSnapshot) -> None: ...

    def on_stream_delta(self, message_id: int, text: str) -> None: ...

    def on_stream_reasoning(self, message_id: int, text: str) -> None: ...

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        """Status changed (streaming, resuming, or a terminal state now on disk)."""
        ...


class TerminalListener(Protocol):
    def __call__(self, ended: StreamEnded) -> None: ...
