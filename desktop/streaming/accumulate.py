"""Folding a reply's provider events into its state: ``accumulate(state, event) -> state``.

The one place that decides what an event does to a reply, as the Anthropic
SDK's ``accumulate_event`` does: no I/O, no listeners, no persistence, and the
same final state however the events were split. The StreamManager folds each
event in, then acts on what changed (tells listeners, asks for an early flush,
ends the reply); persistence reads the text from the state and keeps its own
"flushed up to" offset.

Like the SDK's snapshot, the state is updated in place and returned: a
reply's text grows by appending pieces, so that folding N events costs O(N),
never a copy of the whole text per token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.core.events import (
    CursorUpdate,
    Failed,
    Finished,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.states import MessageStatus
from desktop.core.text import SurrogateMender


@dataclass(slots=True, eq=False)
class ReplyState:
    """Everything a reply's events have said so far.

    ``added`` and ``added_reasoning`` are what the last event folded in added
    to the text and the reasoning (after mending surrogates), "" if nothing:
    what the manager passes on to listeners.
    """

    status: MessageStatus = MessageStatus.STREAMING
    cursor: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    end: Finished | Failed | None = None
    added: str = ""
    added_reasoning: str = ""
    _parts: list[str] = field(default_factory=list)
    _length: int = 0
    _reasoning: list[str] = field(default_factory=list)
    _text_mender: SurrogateMender = field(default_factory=SurrogateMender)
    _reasoning_mender: SurrogateMender = field(default_factory=SurrogateMender)

    @classmethod
    def starting(
        cls,
        text: str = "",
        *,
        status: MessageStatus = MessageStatus.STREAMING,
        cursor: str | None = None,
        model: str | None = None,
    ) -> ReplyState:
        """A reply that already holds ``text`` (a Continue, a resume after a restart)."""
        state = cls(status=status, cursor=cursor, model=model)
        if text:
            state._parts.append(text)
            state._length = len(text)
        return state

    @property
    def length(self) -> int:
        return self._length

    def text(self) -> str:
        """The whole text so far (its pieces are joined once, then kept joined)."""
        parts = self._parts
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        return parts[0] if parts else ""

    def text_between(self, start: int, stop: int | None = None) -> str:
        """``text()[start:stop]``, copying only that range.

        The pieces read are joined into one, so that a reader that takes the
        text a frame or a flush at a time keeps few pieces and copies each
        character about once, however long the reply.
        """
        stop = self._length if stop is None else min(stop, self._length)
        if start >= stop:
            return ""
        parts = self._parts
        # Walk back from the end: readers almost always want the newest text.
        index, part_start = len(parts), self._length
        while part_start > start:
            index -= 1
            part_start -= len(parts[index])
        if index < len(parts) - 1:
            parts[index:] = ["".join(parts[index:])]
        return parts[index][start - part_start : stop - part_start]

    def reasoning(self) -> str:
        parts = self._reasoning
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        return parts[0] if parts else ""

    def append(self, text: str) -> None:
        """Add text from outside the events (the remote text a status check returned)."""
        if text:
            self._parts.append(text)
            self._length += len(text)

    def reopen(self) -> None:
        """A new exchange begins (a resume): the last one's end no longer holds."""
        self.end = None

    def close(self) -> None:
        """The stream is over: release what the menders still hold back."""
        if held := self._text_mender.end():
            self.append(held)
        if held := self._reasoning_mender.end():
            self._reasoning.append(held)


def accumulate(state: ReplyState, event: StreamEvent) -> ReplyState:
    """Fold one provider event into ``state``; returns it (updated in place)."""
    if type(event) is TextDelta:  # nearly every event: first, and lean
        text = event.text
        mender = state._text_mender
        if mender._held or not text.isascii():
            text = mender.feed(text)  # a surrogate pair split across events
        state.added_reasoning = ""
        state.added = text
        if text:
            state._parts.append(text)
            state._length += len(text)
        if event.cursor is not None:
            state.cursor = event.cursor
        state.status = MessageStatus.STREAMING
        return state
    state.added = state.added_reasoning = ""
    if isinstance(event, CursorUpdate):
        state.cursor = event.cursor
    elif isinstance(event, ReasoningDelta):
        text = state._reasoning_mender.feed(event.text)
        if text:
            state._reasoning.append(text)
            state.added_reasoning = text
    elif isinstance(event, UsageReport):
        if event.input_tokens is not None:
            state.input_tokens = event.input_tokens
        if event.output_tokens is not None:
            state.output_tokens = event.output_tokens
    elif isinstance(event, Finished):
        if event.model:
            state.model = event.model
        state.end = event
    elif isinstance(event, Failed):
        state.end = event
    return state
