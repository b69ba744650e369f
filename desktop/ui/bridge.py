"""The bridge from the StreamManager to Qt: one ``ViewFeed`` per open chat view.

A feed is a StreamListener while its tab is open. It hands the view at most
one :class:`MessageUpdate` per frame, on the same path for the first attach,
a reattach and live text (DESIGN.md invariant 7): the manager keeps the text,
the feed reads what its view lacks at each frame, from where it left off.

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
over no more than that, reasoning and text together (the reasoning first);
the rest waits for the next frame. A 10 MB event or a
long catch-up therefore arrives over many frames while the UI keeps
answering, and a terminal status is passed on only once its text is through.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from desktop.core.states import MessageStatus
from desktop.streaming.events import MessageUpdate, StreamListener, StreamSnapshot
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.ui")

FRAME_MS = 50
# A tab that is open but not shown: an update a second while it keeps up,
# one every CATCH_UP_MS while it has a backlog.
BACKGROUND_FRAME_MS = 1000
CATCH_UP_MS = 100
# On screen, while text arrives faster than the view can show it: an update
# every FLOOD_FRAME_MS instead of every frame.
FLOOD_FRAME_MS = 150
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


class Details(NamedTuple):
    """What a view is told of a reply besides its text and state (see
    :class:`MessageUpdate`): passed on when it changed."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_seconds: float | None = None
    waiting_since: float | None = None


class ViewFeed(QObject, StreamListener):
    """Follows one chat's live reply for its view, one budgeted update per frame.

    It pulls: the manager only wakes it when text or reasoning arrives (one
    flag test per delta); at each frame it asks how the reply stands
    (:meth:`StreamManager.progress`), reads the reasoning and then the text
    the view lacks (:meth:`StreamManager.read_reasoning`,
    :meth:`StreamManager.read_text`), from where it left off in that
    message, and hands them over as one :class:`MessageUpdate` with the
    reply's usage, how long it reasoned and since when it waits for its
    first token.
    """

    # One message's new text and, when it changed, its state.
    updated = Signal(object)  # MessageUpdate

    def __init__(
        self,
        manager: StreamManager,
        session_id: int,
        parent: QObject | None = None,
        frame_ms: int = FRAME_MS,
        shows: Callable[[int], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self._manager = manager
        self._session_id = session_id
        # Which replies of the chat its view shows (the branch shown); None: all.
        self._shows = shows
        self._screen_frame_s = frame_ms / 1000.0
        self._attached = False  # subscribed at all
        self._on_screen = False
        self._message_id: int | None = None  # the reply being followed
        # Characters of each message handed over so far (what the view holds
        # of it from this feed): a return to the screen goes on from there.
        self._delivered: dict[int, int] = {}
        self._reasoning_delivered: dict[int, int] = {}  # likewise of its reasoning
        self._details = Details()  # what the view was last told besides text
        self._status: MessageStatus | None = None  # a state change to pass on
        self._terminal: StreamSnapshot | None = None  # waits until its text is through
        self._scheduled = False
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
        re-sends text. Coming back from the background it goes on from the
        text it had handed over.
        """
        if self._attached and self._on_screen:
            return self._message_id is not None and self._terminal is None
        return self._subscribe(on_screen=True)

    def follow_in_background(self) -> bool:
        """Keep the view current while its tab is open but not shown."""
        if self._attached and not self._on_screen:
            return self._message_id is not None and self._terminal is None
        return self._subscribe(on_screen=False)

    def detach(self) -> None:
        """Stop following; the stream goes on (invariant 3)."""
        if not self._attached:
            return
        self._attached = False
        self._on_screen = False
        self._manager.detach(self._session_id, self)
        self._timer.stop()
        self._scheduled = False
        self._message_id = None
        self._status = None
        self._terminal = None

    def refollow(self) -> bool:
        """The view shows another branch: follow the live reply on it, if one is
        (from what the view holds of it), and leave the one it no longer shows.
        Returns whether a reply it shows is live."""
        if not self._attached:
            return False
        if self._message_id is not None and not self.shows(self._message_id):
            self._timer.stop()
            self._scheduled = False
            self._message_id = None
            self._status = None
            self._terminal = None
        snapshot = self._shown_snapshot()
        if snapshot is not None and snapshot.message_id != self._message_id:
            self._follow(snapshot)
        return self._message_id is not None and self._terminal is None

    def forget(self, message_id: int) -> None:
        """The view dropped this message (another branch is shown): should it
        come back, its text is handed over again from the start."""
        self._delivered.pop(message_id, None)
        self._reasoning_delivered.pop(message_id, None)

    # ------------------------------------------------- StreamListener callbacks
    def shows(self, message_id: int) -> bool:
        return self._shows is None or self._shows(message_id)

    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        if self.shows(snapshot.message_id):
            self._follow(snapshot)

    def on_stream_delta(self, message_id: int, text: str) -> None:
        # The hot path: the text stays in the manager until the next frame.
        if not self._scheduled:
            self._schedule()

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        # Like the text: read from the manager at the next frame.
        if not self._scheduled:
            self._schedule()

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        if snapshot.message_id != self._message_id and not self.shows(snapshot.message_id):
            return  # a reply on a branch the view does not show
        if snapshot.status.is_terminal:
            # The final text travels like any other text, under the live
            # status; the terminal status follows once it is all through.
            self._finish_previous(snapshot.message_id)
            self._message_id = snapshot.message_id
            self._terminal = snapshot
            self._flush()
            return
        # Rare: deliver at once.
        self._message_id = snapshot.message_id
        self._status = snapshot.status
        self._flush()

    # ----------------------------------------------------------------- internals
    def _subscribe(self, *, on_screen: bool) -> bool:
        self._attached = True
        self._on_screen = on_screen
        self._manager.attach(self._session_id, self, on_screen=on_screen)
        snapshot = self._shown_snapshot()
        if snapshot is not None:
            self._follow(snapshot)
        elif self._message_id is not None:
            self._schedule()  # text or an end still to hand over: now at this mode's pace
        return snapshot is not None

    def _shown_snapshot(self) -> StreamSnapshot | None:
        """The newest live reply of the chat that the view shows (in the same
        synchronous step as the subscription: no delta falls between)."""
        shown = [s for s in self._manager.snapshots(self._session_id) if self.shows(s.message_id)]
        return shown[-1] if shown else None

    def _follow(self, snapshot: StreamSnapshot) -> None:
        self._finish_previous(snapshot.message_id)
        self._message_id = snapshot.message_id
        self._status = snapshot.status
        self._delivered.setdefault(snapshot.message_id, 0)
        self._reasoning_delivered.setdefault(snapshot.message_id, 0)
        self._details = Details()  # told again with the first update
        self._schedule()

    def _finish_previous(self, message_id: int) -> None:
        """A new reply starts while an older one's text is still draining:
        hand the older one over whole, whatever it costs (it is rare)."""
        if self._message_id is not None and self._message_id != message_id:
            self._flush(unbounded=True)

    def _frame_s(self) -> float:
        if self._on_screen:
            return self._screen_frame_s
        return BACKGROUND_FRAME_MS / 1000.0

    def _schedule(self, frame_s: float | None = None) -> None:
        self._scheduled = True
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

    def _flush(self, *, unbounded: bool = False) -> None:
        self._timer.stop()
        self._scheduled = False
        message_id = self._message_id
        if message_id is None:
            return
        if not self.shows(message_id):
            # Its branch left the screen before the view said so (refollow):
            # hand nothing over that the view could not hold.
            self._message_id = self._status = self._terminal = None
            return
        budget = MAX_CHARS * 1000 if unbounded else self._budget()
        start = self._delivered.get(message_id, 0)
        reasoning_start = self._reasoning_delivered.get(message_id, 0)
        terminal = self._terminal
        # The reasoning comes before the answer and counts against the same
        # budget: what is left of it goes to the text.
        if terminal is not None:
            reasoning = terminal.reasoning[reasoning_start : reasoning_start + budget]
            text = terminal.text[start : start + budget - len(reasoning)]
            total, reasoning_total = len(terminal.text), len(terminal.reasoning)
            details = Details(
                terminal.input_tokens, terminal.output_tokens, terminal.reasoning_seconds
            )
        else:
            progress = self._manager.progress(self._session_id, message_id)
            if progress is None:
                return  # it ended; its end is on its way (on_stream_status)
            total, reasoning_total = progress.length, progress.reasoning_length
            reasoning = text = ""
            if reasoning_total > reasoning_start:
                read = self._manager.read_reasoning(
                    self._session_id, message_id, reasoning_start, budget
                )
                reasoning = read or ""
            if total > start and budget > len(reasoning):
                read = self._manager.read_text(
                    self._session_id, message_id, start, budget - len(reasoning)
                )
                text = read or ""
            details = Details(
                progress.input_tokens,
                progress.output_tokens,
                progress.reasoning_seconds,
                progress.waiting_since,
            )
        end = start + len(text)
        reasoning_end = reasoning_start + len(reasoning)
        self._delivered[message_id] = end
        self._reasoning_delivered[message_id] = reasoning_end
        status, self._status = self._status, None
        behind = end < total or reasoning_end < reasoning_total
        error = reason = None
        finish = None
        if terminal is not None and not behind:
            status, error, reason, finish = (
                terminal.status,
                terminal.error,
                terminal.reason,
                terminal.finish,
            )
            self._terminal = None
            self._message_id = None
        news = details != self._details
        self._details = details
        if text or reasoning or status is not None or news:
            update = MessageUpdate(
                message_id,
                text,
                start,
                status,
                error,
                reason,
                reasoning=reasoning,
                reasoning_offset=reasoning_start,
                finish=finish,
                input_tokens=details.input_tokens,
                output_tokens=details.output_tokens,
                reasoning_seconds=details.reasoning_seconds,
                waiting_since=details.waiting_since,
            )
            self._emit(len(text) + len(reasoning), update)
        if behind:
            self._schedule(self._next_frame_s(live=terminal is None))

    def _next_frame_s(self, *, live: bool) -> float:
        """When the next update of a view that is behind is due."""
        if not self._on_screen:
            return CATCH_UP_MS / 1000.0
        # Text arriving faster than the view can show it (a local model at
        # full speed): fewer, full updates, so that the window does not
        # take the thread from the stream. Once it has ended, catch up fast.
        return FLOOD_FRAME_MS / 1000.0 if live else self._screen_frame_s

    def _emit(self, chars: int, update: MessageUpdate) -> None:
        """Hand an update to the view (synchronously) and learn what it cost."""
        # Frames are counted from the start of an update, so that the view's
        # own work does not stretch them.
        self._last_emit = time.monotonic()
        if self._on_screen:
            _screen_frame[0] = self._last_emit
        start = time.perf_counter()
        self.updated.emit(update)
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
