"""What the StreamManager tells its listeners: plain values, no Qt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop.core.states import FinishReason, MessageStatus

if TYPE_CHECKING:
    from desktop.store import StoreError


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """The live state of one reply at one instant; authoritative over the store.

    Times are wall-clock seconds (``time.time()``). ``waiting_since`` is set
    while the reply waits for its first token (text or reasoning): the view
    shows "Waiting for the model… 1:23" counted from it; it is None once a
    token came, and for a reply resumed after its first token.
    ``reasoning_started_at`` is when the first reasoning came (None: none
    yet); ``reasoning_seconds`` how long the model reasoned before its
    answer began (None while it still reasons, or if it did not reason).
    ``finish`` is why the model ended the reply (a complete one only).
    """

    session_id: int
    message_id: int
    status: MessageStatus
    text: str
    reasoning: str = ""
    error: str | None = None
    reason: str | None = None
    finish: FinishReason | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    waiting_since: float | None = None
    reasoning_started_at: float | None = None
    reasoning_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class StreamProgress:
    """A live reply's state without its text: cheap enough to ask at every frame
    (:meth:`StreamManager.progress`). Fields as in :class:`StreamSnapshot`;
    ``length`` and ``reasoning_length`` are how long its text and reasoning are
    now (read them with ``read_text`` / ``read_reasoning``)."""

    message_id: int
    status: MessageStatus
    length: int
    reasoning_length: int
    waiting_since: float | None = None
    reasoning_started_at: float | None = None
    reasoning_seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class MessageUpdate:
    """What a view is told about one message: its text from ``offset`` on, and
    its state when that changed (``status`` None: unchanged).

    The one shape in which text reaches a view, whatever its source: a live
    reply a frame at a time, its final text, or a stored message. The view
    decides what of it is new (:meth:`desktop.ui.chat_view.ChatView.reconcile`).
    """

    message_id: int
    text: str
    offset: int = 0
    status: MessageStatus | None = None
    error: str | None = None
    reason: str | None = None
    # The reasoning from ``reasoning_offset`` on, as the text; and, when known,
    # why the reply ended, its usage, how long it reasoned and since when it
    # waits for its first token (see StreamSnapshot).
    reasoning: str = ""
    reasoning_offset: int = 0
    finish: FinishReason | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_seconds: float | None = None
    waiting_since: float | None = None

    @property
    def end(self) -> int:
        """Where this text ends in the message."""
        return self.offset + len(self.text)


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """A reply reached a terminal state and that state is on disk (fields as in
    :class:`StreamSnapshot`)."""

    session_id: int
    message_id: int
    status: MessageStatus
    text: str
    error: str | None = None
    reason: str | None = None
    reasoning: str = ""
    finish: FinishReason | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_seconds: float | None = None

    @property
    def first_line(self) -> str:
        for line in self.text.splitlines():
            stripped = line.strip().lstrip("#").strip()
            if stripped:
                return stripped
        return ""


class StreamListener:
    """A subscriber to the StreamManager: a view's feed, the notifications, a test.

    One kind of listener for everything the manager tells: subclass it and
    override what you need (the rest do nothing). A listener attached to one
    chat hears that chat; one attached to every chat (``session_id=None``)
    hears them all.

    Calls arrive on the event loop's thread, synchronously from the manager:
    a listener must only record what happened and return (the Qt bridge
    coalesces per frame), never await or call back into the manager.
    """

    def shows(self, message_id: int) -> bool:
        """Whether this listener shows that reply of its chat when on screen.

        A chat whose message tree branches may stream on a branch its view does
        not show; such a reply counts as hidden (it may be evicted, its end
        is notified). Called rarely (when a slot is needed), never per delta.
        """
        return True

    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        """A reply started (or resumed) in the chat."""

    def on_stream_delta(self, message_id: int, text: str) -> None:
        """Text was appended to the live reply (the hot path: keep it cheap)."""

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        """Reasoning was appended to the live reply (its first call also ends the
        wait for the first token, as the first delta does)."""

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        """Status changed (streaming, resuming, or a terminal state now on disk)."""

    def on_stream_ended(self, ended: StreamEnded) -> None:
        """A reply reached a terminal state and that state is on disk."""

    def on_live_changed(self, session_id: int, live: bool) -> None:
        """A reply of the chat started (``live``), or its last live reply ended."""

    def on_store_refused(self, error: StoreError) -> None:
        """The store refused a write (a full disk, a read-only folder, ...)."""


class Callbacks(StreamListener):
    """A listener of every chat made of plain callables (small wiring, tests,
    benchmarks): ``manager.attach(None, Callbacks(ended=ends.append))``."""

    def __init__(
        self,
        *,
        ended: Callable[[StreamEnded], object] | None = None,
        live_changed: Callable[[int, bool], object] | None = None,
        store_refused: Callable[[StoreError], object] | None = None,
    ) -> None:
        self._ended = ended
        self._live_changed = live_changed
        self._store_refused = store_refused

    def on_stream_ended(self, ended: StreamEnded) -> None:
        if self._ended is not None:
            self._ended(ended)

    def on_live_changed(self, session_id: int, live: bool) -> None:
        if self._live_changed is not None:
            self._live_changed(session_id, live)

    def on_store_refused(self, error: StoreError) -> None:
        if self._store_refused is not None:
            self._store_refused(error)
