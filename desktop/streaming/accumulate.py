"""Folding a reply's provider events into its state: ``accumulate(state, event) -> state``.

The one place that decides what an event does to a reply, as the Anthropic
SDK's ``accumulate_event`` does: no I/O, no listeners, no persistence, and the
same final state however the events were split. The StreamManager folds each
event in, then acts on what changed (tells listeners, asks for an early flush,
ends the reply); persistence reads the text and the reasoning from the state
and keeps its own "flushed up to" offsets.

Like the SDK's snapshot, the state is updated in place and returned: a
reply's text grows by appending pieces, so that folding N events costs O(N),
never a copy of the whole text per token.

Reasoning is folded apart from the text. Where a provider signs its
reasoning (Anthropic), each signature closes the thinking block streamed
since the previous one, which is kept whole and unchanged in
:attr:`ReplyState.blocks` to be sent back later; the reasoning shown puts a
blank line between two blocks, outside of either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.core.events import (
    CursorUpdate,
    Failed,
    Finished,
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ReasoningBlock
from desktop.core.states import FinishReason, MessageStatus
from desktop.core.text import SurrogateMender

BLOCK_SEPARATOR = "\n\n"


def _between(parts: list[str], length: int, start: int, stop: int | None) -> str:
    """``"".join(parts)[start:stop]`` for pieces of total ``length``, copying only
    that range; the pieces read are joined into one (see ``text_between``)."""
    stop = length if stop is None else min(stop, length)
    if start >= stop:
        return ""
    # Walk back from the end: readers almost always want the newest text.
    index, part_start = len(parts), length
    while part_start > start:
        index -= 1
        part_start -= len(parts[index])
    if index < len(parts) - 1:
        parts[index:] = ["".join(parts[index:])]
    return parts[index][start - part_start : stop - part_start]


def _joined(parts: list[str]) -> str:
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


@dataclass(slots=True, eq=False)
class ReplyState:
    """Everything a reply's events have said so far.

    ``added`` and ``added_reasoning`` are what the last event folded in added
    to the text and the reasoning (after mending surrogates), "" if nothing:
    what the manager passes on to listeners. ``finish`` is why the model
    ended the reply, once it did; ``blocks`` the reasoning blocks a provider
    wants back unchanged (signed thinking, redacted thinking).
    """

    status: MessageStatus = MessageStatus.STREAMING
    cursor: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    end: Finished | Failed | None = None
    finish: FinishReason | None = None
    blocks: list[ReasoningBlock] = field(default_factory=list)
    added: str = ""
    added_reasoning: str = ""
    _parts: list[str] = field(default_factory=list)
    _length: int = 0
    _reasoning: list[str] = field(default_factory=list)
    _reasoning_length: int = 0
    # Where the thinking block being streamed began in the reasoning; None
    # until a block was closed (before that, nothing is signed).
    _block_start: int | None = None
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
        reasoning: str = "",
        blocks: tuple[ReasoningBlock, ...] = (),
        new_reasoning: bool = False,
    ) -> ReplyState:
        """A reply that already holds ``text`` (and ``reasoning``, ``blocks``):
        a Continue, a resume after a restart. With ``new_reasoning`` (a
        Continue) the reasoning to come starts a block of its own, set apart
        from the earlier one; else (a resume) it goes on with it."""
        state = cls(status=status, cursor=cursor, model=model, blocks=list(blocks))
        if text:
            state._parts.append(text)
            state._length = len(text)
        if reasoning:
            state._reasoning.append(reasoning)
            state._reasoning_length = len(reasoning)
        if new_reasoning or blocks:
            state._block_start = len(reasoning)
        return state

    @property
    def length(self) -> int:
        return self._length

    @property
    def reasoning_length(self) -> int:
        return self._reasoning_length

    def text(self) -> str:
        """The whole text so far (its pieces are joined once, then kept joined)."""
        return _joined(self._parts)

    def text_between(self, start: int, stop: int | None = None) -> str:
        """``text()[start:stop]``, copying only that range.

        The pieces read are joined into one, so that a reader that takes the
        text a frame or a flush at a time keeps few pieces and copies each
        character about once, however long the reply.
        """
        return _between(self._parts, self._length, start, stop)

    def reasoning(self) -> str:
        return _joined(self._reasoning)

    def reasoning_between(self, start: int, stop: int | None = None) -> str:
        """``reasoning()[start:stop]``, copying only that range (as :meth:`text_between`)."""
        return _between(self._reasoning, self._reasoning_length, start, stop)

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
            self._add_reasoning(held)

    def _add_reasoning(self, text: str) -> None:
        """Append reasoning; ``added_reasoning`` is what the reasoning grew by."""
        if self._block_start == self._reasoning_length and self._reasoning_length:
            # The first reasoning after a closed block (or a Continue's earlier
            # reasoning): set apart in what is shown, outside of either block.
            text = BLOCK_SEPARATOR + text
            self._block_start = self._reasoning_length + len(BLOCK_SEPARATOR)
        self._reasoning.append(text)
        self._reasoning_length += len(text)
        self.added_reasoning = text

    def _close_block(self, block: ReasoningBlock) -> None:
        self.blocks.append(block)
        self._block_start = self._reasoning_length


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
            state._add_reasoning(text)
    elif isinstance(event, ReasoningSignature):
        if held := state._reasoning_mender.end():
            state._add_reasoning(held)  # a lone half surrogate, mended: the block's end
        start = state._block_start or 0
        state._close_block(ReasoningBlock.signed(state.reasoning_between(start), event.signature))
    elif isinstance(event, RedactedReasoning):
        state._close_block(ReasoningBlock.redacted(event.data))
    elif isinstance(event, UsageReport):
        if event.input_tokens is not None:
            state.input_tokens = event.input_tokens
        if event.output_tokens is not None:
            state.output_tokens = event.output_tokens
    elif isinstance(event, Finished):
        if event.model:
            state.model = event.model
        state.finish = event.finish
        state.end = event
    elif isinstance(event, Failed):
        state.end = event
    return state
