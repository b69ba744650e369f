"""The bridge from the StreamManager to Qt: one ``ViewFeed`` per open chat view.

A feed is a StreamListener while its view is on screen. It coalesces what
the manager tells it into at most one update per frame (~50 ms), on the same
path for the first attach, a reattach and live deltas (DESIGN.md invariant 7):
the snapshot an attach returns is queued exactly like a delta, so a view that
comes back to a chat gets the full text in one update and then live deltas.
"""

from __future__ import annotations

import logging
import math
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from desktop.streaming.events import StreamSnapshot
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.ui")

FRAME_MS = 50


class ViewFeed(QObject):
    """Subscribes one chat's view to its live reply, one update per frame at most."""

    # The live state to show, authoritative: the view appends what it lacks.
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
    ) -> None:
        super().__init__(parent)
        self._manager = manager
        self._session_id = session_id
        self._frame_s = frame_ms / 1000.0
        self._attached = False
        self._snapshot: StreamSnapshot | None = None  # a snapshot waiting for the next frame
        self._message_id: int | None = None
        self._buffer: list[str] = []
        self._last_emit = 0.0
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
        return self._attached

    def attach(self) -> bool:
        """Start following the chat; returns whether a reply is live.

        Idempotent: attaching twice neither duplicates the subscription nor
        re-sends text.
        """
        if self._attached:
            return self._message_id is not None
        self._attached = True
        snapshot = self._manager.attach(self._session_id, self)
        if snapshot is not None:
            self._queue_snapshot(snapshot)
        return snapshot is not None

    def detach(self) -> None:
        """Stop following; the stream goes on (invariant 3)."""
        if not self._attached:
            return
        self._attached = False
        self._manager.detach(self._session_id, self)
        self._timer.stop()
        self._snapshot = None
        self._message_id = None
        self._buffer.clear()

    # ------------------------------------------------- StreamListener callbacks
    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
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
        # Rare: deliver at once, text first so the status never runs ahead of it.
        if snapshot.status.is_terminal:
            self._snapshot = snapshot
            self._buffer.clear()
            self._flush()
            self._message_id = None
        else:
            self._flush()
        self.status_changed.emit(snapshot)

    # ----------------------------------------------------------------- internals
    def _queue_snapshot(self, snapshot: StreamSnapshot) -> None:
        self._snapshot = snapshot
        self._message_id = snapshot.message_id
        self._buffer.clear()
        self._schedule()

    def _schedule(self) -> None:
        wait = self._last_emit + self._frame_s - time.monotonic()
        self._timer.start(max(0, math.ceil(wait * 1000)))

    def _on_timer_timeout(self) -> None:
        self._flush()

    def _flush(self) -> None:
        self._timer.stop()
        snapshot = self._snapshot
        if snapshot is not None:
            self._snapshot = None
            if self._buffer:
                text = snapshot.text + "".join(self._buffer)
                self._buffer.clear()
                snapshot = StreamSnapshot(
                    snapshot.session_id,
                    snapshot.message_id,
                    snapshot.status,
                    text,
                    snapshot.reasoning,
                    snapshot.error,
                    snapshot.reason,
                )
            self._emitted()
            self.live.emit(snapshot)
        elif self._buffer and self._message_id is not None:
            text = "".join(self._buffer)
            self._buffer.clear()
            self._emitted()
            self.text_appended.emit(self._message_id, text)

    def _emitted(self) -> None:
        self._last_emit = time.monotonic()
        self.updates += 1
