"""The bridge from the StreamManager to Qt: one ``ViewFeed`` per open chat view.

A feed is a StreamListener while its tab is open. It coalesces what the
manager tells it into at most one update per frame, on the same path for the
first attach, a reattach and live deltas (DESIGN.md invariant 7): the
snapshot an attach returns is queued exactly like a delta, so a view that
comes back to a chat gets the full text and then live deltas.

A feed follows in one of two modes:

- **on screen** (:meth:`ViewFeed.attach`): one update per ``FRAME_MS``; the
  manager counts the chat as on screen, so its reply is never evicted.
- **in the background** (:meth:`ViewFeed.follow_in_background`): the tab is
  open but not shown. Its view keeps catching up at a low rate (one update
  a second, or every ``CATCH_UP_MS`` while it is behind), so that switching
  back only has the last moment's text to lay out. The manager may evict it.
  Its updates land mid-way between the on-screen chat's frames, so the two
  never add up to one long pause.

Every update is held to a time budget: the feed times what the view did with
its last update, learns how many characters fit in ``budget_ms`` and hands
over no more than that; the rest waits for the next frame. A 10 MB event or a
long catch-up therefore arrives over many frames while the UI keeps
answering, and a terminal status is passed on only once its text is through.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from desktop.core.states import MessageStatus
from desktop.streaming.events import StreamSnapshot
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.ui")

FRAME_MS = 50
# A tab that is open but not shown: an update a second while it keeps up,
# one every CATCH_UP_MS while it has a backlog.
BACKGROUND_FRAME_MS = 1000
CATCH_UP_MS = 100
# How long one update may keep the GUI thread, on screen and in the background.
SCREEN_BUDGET_MS = 12.0
BACKGROUND_BUDGET_MS = 6.0
# Characters per update before the feed has timed one, and the bounds of
# what it learns (the floor guarantees progress whatever a frame costs).
INITIAL_CHARS = 4_000
MIN_CHARS = 1_000
MAX_CHARS = 4_000_000
# Updates shorter than this say little about the cost per character.
_MIN_TIMED_CHARS = 500

# When the last on-screen update started (time.monotonic), shared by every
# feed: background updates go between the frames of the chat on screen, so
# that one never waits for the other.
_screen_frame = [0.0]


def _between_screen_frames_ms(frame_s: float = FRAME_MS / 1000.0) -> int:
    """How long a background update should wait to land mid-way between two
    on-screen updates (0: now is fine, or nothing is updating on screen)."""
    since = time.monotonic() - _screen_frame[0]
    if since > 2 * frame_s:
        return 0
    phase = since % frame_s
    middle = frame_s / 2
    if abs(phase - middle) <= frame_s * 0.2:
        return 0
    return max(1, math.ceil(((middle - phase) % frame_s) * 1000))


class ViewFeed(QObject):
    """Follows one chat's live reply for its view, one budgeted update per frame."""

    # The live state to show, authoritative: the view appends what it lacks.
    # While a backlog drains the text is a prefix of the reply's text so far.
    live = Signal(object)  # StreamSnapshot
    # Text that arrived since the last update, for the message being shown.
    text_appended = Signal(int, str)
    # Status changed (streaming, resuming, or a terminal state that is on disk).
    status_changed = Signal(object)  # StreamSnapshot

    def __init__(
        self,
        manager: StreamManager,
        session_id: int,
        parent: QObject | None = None,
        frame_ms: int = FRAME_MS,
        *,
        shown_length: Callable[[int], int] | None = None,
    ) -> None:
        """``shown_length(message_id)`` says how much of a message's text the
        view already holds, so that a snapshot only costs what is missing."""
        super().__init__(parent)
        self._manager = manager
        self._session_id = session_id
        self._screen_frame_s = frame_ms / 1000.0
        self._shown_length = shown_length
        self._attached = False  # subscribed at all
        self._on_screen = False
        self._snapshot: StreamSnapshot | None = None  # a snapshot waiting for the next frame
        self._message_id: int | None = None
        self._delivered = 0  # characters of the message's text handed over
        self._live_status = MessageStatus.STREAMING
        self._buffer = _Backlog()
        self._terminal: StreamSnapshot | None = None  # waits until its text is through
        self._last_emit = 0.0
        self._chars_per_ms: float | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        # A coarse timer may fire up to 5 % early: more than one update a frame.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.updates = 0  # frames delivered, for benchmarks and tests
        # If the view goes away attached, unsubscribe: the manager must not
        # call into a deleted QObject.
        self.destroyed.connect(lambda: manager.detach(session_id, self))

    @property
    def session_id(self) -> int:
        return self._session_id

    @property
    def attached(self) -> bool:
        """Following on screen (the chat's tab is the one shown)."""
        return self._attached and self._on_screen

    @property
    def following(self) -> bool:
        """Subscribed at all, on screen or in the background."""
        return self._attached

    def attach(self) -> bool:
        """Follow the chat on screen; returns whether a reply is live.

        Idempotent: attaching twice neither duplicates the subscription nor
        re-sends text. Coming from the background, the fresh snapshot
        replaces whatever backlog was waiting (it holds all of it).
        """
        if self._attached and self._on_screen:
            return self._message_id is not None
        return self._subscribe(on_screen=True)

    def follow_in_background(self) -> bool:
        """Keep the view current while its tab is open but not shown."""
        if self._attached and not self._on_screen:
            return self._message_id is not None
        return self._subscribe(on_screen=False)

    def detach(self) -> None:
        """Stop following; the stream goes on (invariant 3)."""
        if not self._attached:
            return
        self._attached = False
        self._on_screen = False
        self._manager.detach(self._session_id, self)
        self._timer.stop()
        self._snapshot = None
        self._set_message(None)
        self._terminal = None
        self._buffer.clear()

    # ------------------------------------------------- StreamListener callbacks
    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        self._finish_previous(snapshot.message_id)
        self._queue_snapshot(snapshot)

    def on_stream_delta(self, message_id: int, text: str) -> None:
        if message_id != self._message_id:
            return
        self._buffer.append(text)
        if not self._timer.isActive():
            self._schedule()

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        pass  # reasoning is kept with the reply; the view shows the answer

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        if snapshot.status.is_terminal:
            # The final text travels like any other text, under the live
            # status; the terminal status follows once it is all through.
            self._finish_previous(snapshot.message_id)
            self._snapshot = replace(snapshot, status=self._live_status, error=None, reason=None)
            self._set_message(snapshot.message_id)
            self._buffer.clear()
            self._terminal = snapshot
            self._flush()
            return
        # Rare: deliver at once, text first so the status never runs ahead of it.
        self._live_status = snapshot.status
        self._flush()
        self.status_changed.emit(snapshot)

    # ----------------------------------------------------------------- internals
    def _subscribe(self, *, on_screen: bool) -> bool:
        self._attached = True
        self._on_screen = on_screen
        snapshot = self._manager.attach(self._session_id, self, on_screen=on_screen)
        if snapshot is not None:
            self._finish_previous(snapshot.message_id)
            self._queue_snapshot(snapshot)
        elif self._buffer or self._snapshot is not None or self._terminal is not None:
            self._schedule()  # a backlog from the background: now at this mode's pace
        return snapshot is not None

    def _finish_previous(self, message_id: int) -> None:
        """A new reply starts while an older one's text is still draining:
        hand the older one over whole, whatever it costs (it is rare)."""
        if self._message_id is None or self._message_id == message_id:
            return
        if self._buffer or self._snapshot is not None or self._terminal is not None:
            self._flush(unbounded=True)

    def _queue_snapshot(self, snapshot: StreamSnapshot) -> None:
        self._snapshot = snapshot
        self._set_message(snapshot.message_id)
        self._live_status = snapshot.status
        self._buffer.clear()
        self._schedule()

    def _set_message(self, message_id: int | None) -> None:
        if message_id != self._message_id:
            self._message_id = message_id
            self._delivered = 0

    def _frame_s(self) -> float:
        if self._on_screen:
            return self._screen_frame_s
        return BACKGROUND_FRAME_MS / 1000.0

    def _schedule(self, frame_s: float | None = None) -> None:
        frame = self._frame_s() if frame_s is None else frame_s
        wait = self._last_emit + frame - time.monotonic()
        self._timer.start(max(0, math.ceil(wait * 1000)))

    def _on_timer_timeout(self) -> None:
        if not self._on_screen:
            wait = _between_screen_frames_ms()
            if wait:
                self._timer.start(wait)
                return
        self._flush()

    def _budget(self) -> int:
        budget_ms = SCREEN_BUDGET_MS if self._on_screen else BACKGROUND_BUDGET_MS
        if self._chars_per_ms is None:
            return INITIAL_CHARS
        return int(min(MAX_CHARS, max(MIN_CHARS, self._chars_per_ms * budget_ms)))

    def _held(self, message_id: int) -> int:
        """How much of the message's text the view holds already."""
        if self._shown_length is not None:
            return self._shown_length(message_id)
        return self._delivered if message_id == self._message_id else 0

    def _flush(self, *, unbounded: bool = False) -> None:
        self._timer.stop()
        budget = self._budget() if not unbounded else MAX_CHARS * 1000
        snapshot = self._snapshot
        if snapshot is not None:
            self._snapshot = None
            known = len(snapshot.text) + self._buffer.size
            held = self._held(snapshot.message_id)
            cut = known if held > known else min(known, held + budget)
            if cut < len(snapshot.text):
                self._buffer.push_front(snapshot.text[cut:])
                snapshot = replace(snapshot, text=snapshot.text[:cut])
            elif cut > len(snapshot.text):
                more = self._buffer.take(cut - len(snapshot.text))
                snapshot = replace(snapshot, text=snapshot.text + more)
            self._delivered = cut
            self._emit(cut - held, lambda: self.live.emit(snapshot))
        elif self._buffer and self._message_id is not None:
            text = self._buffer.take(budget)
            message_id = self._message_id
            self._delivered += len(text)
            self._emit(len(text), lambda: self.text_appended.emit(message_id, text))
        if self._buffer:
            self._schedule(None if self._on_screen else CATCH_UP_MS / 1000.0)
        elif self._terminal is not None:
            terminal, self._terminal = self._terminal, None
            self._set_message(None)
            self._live_status = MessageStatus.STREAMING
            self.status_changed.emit(terminal)

    def _emit(self, chars: int, emit: Callable[[], None]) -> None:
        """Hand an update to the view (synchronously) and learn what it cost."""
        # Frames are counted from the start of an update, so that the view's
        # own work does not stretch them.
        self._last_emit = time.monotonic()
        if self._on_screen:
            _screen_frame[0] = self._last_emit
        start = time.perf_counter()
        emit()
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        self.updates += 1
        if chars >= _MIN_TIMED_CHARS and elapsed_ms > 0:
            rate = chars / elapsed_ms
            # Learn fast when updates get dearer (a Markdown table after plain
            # text), slowly when they get cheaper.
            previous = self._chars_per_ms
            if previous is None or rate < previous:
                self._chars_per_ms = rate
            else:
                self._chars_per_ms = previous + (rate - previous) * 0.25


class _Backlog:
    """Text waiting for the view, taken a budget at a time without copying the rest."""

    __slots__ = ("_offset", "_pieces", "size")

    def __init__(self) -> None:
        self._pieces: deque[str] = deque()
        self._offset = 0  # characters of the first piece already taken
        self.size = 0

    def __bool__(self) -> bool:
        return self.size > 0

    def append(self, text: str) -> None:
        if text:
            self._pieces.append(text)
            self.size += len(text)

    def push_front(self, text: str) -> None:
        if text:
            if self._offset:
                self._pieces[0] = self._pieces[0][self._offset :]
                self._offset = 0
            self._pieces.appendleft(text)
            self.size += len(text)

    def clear(self) -> None:
        self._pieces.clear()
        self._offset = 0
        self.size = 0

    def take(self, limit: int) -> str:
        """Remove and return up to ``limit`` characters from the front."""
        out: list[str] = []
        need = limit
        pieces = self._pieces
        while need > 0 and pieces:
            first = pieces[0]
            available = len(first) - self._offset
            if available <= need:
                out.append(first[self._offset :] if self._offset else first)
                pieces.popleft()
                self._offset = 0
                need -= available
            else:
                out.append(first[self._offset : self._offset + need])
                self._offset += need
                need = 0
        text = out[0] if len(out) == 1 else "".join(out)
        self.size -= len(text)
        return text
