"""The asyncio event loop the app runs on: qasync's, with socket watches kept.

qasync builds a new ``QSocketNotifier`` (and connects a new lambda to it)
every time asyncio asks to watch a socket, and drops it when asked to stop.
httpx reads through anyio, whose ``receive()`` resumes the transport before
it waits and pauses it after; so every network read made and destroyed one
notifier. With five replies streaming, that was most of the GUI thread's
time spent on the network (measured by sampling the thread in
``benchmarks.bench_ui``'s UI-stall scenario).

:class:`EventLoop` keeps one notifier per file descriptor and direction and
only enables and disables it. What happens when a socket becomes readable is
unchanged: the notifier is switched off, the callback runs from the loop's
ready queue, and the notifier is switched back on unless the callback
changed the watch. A token tells a callback that was queued before its
watch was removed or replaced to do nothing.

It also kills the Qt timer of a delayed callback when the callback is
cancelled. qasync left it running until it fired: anyio arms the read
timeout (60 s) around every read and cancels it after, so a minute of
streaming kept tens of thousands of dead Qt timers, each holding its
callback and everything that callback refers to.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
import os
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimerEvent
from PySide6.QtWidgets import QApplication

log = logging.getLogger("sidestream.ui")

_READ = QSocketNotifier.Type.Read
_WRITE = QSocketNotifier.Type.Write


def _fileno(fd: Any) -> int:
    if isinstance(fd, int):
        return fd
    try:
        return int(fd.fileno())
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"Invalid file object: {fd!r}") from None


class _Watch:
    """One file descriptor in one direction: its notifier and current callback."""

    __slots__ = ("args", "callback", "notifier", "token", "watching")

    def __init__(self, notifier: QSocketNotifier) -> None:
        self.notifier = notifier
        self.callback: Callable[..., object] | None = None
        self.args: tuple[object, ...] = ()
        self.token = 0
        self.watching = False


class _TimerHandle(asyncio.TimerHandle):
    """A delayed callback that knows its Qt timer."""

    __slots__ = ("timer_id",)

    timer_id: int


class _Timers(QObject):
    """One precise Qt timer per delayed callback; a cancelled one is killed."""

    def __init__(self) -> None:
        super().__init__()
        self._handles: dict[int, _TimerHandle] = {}

    def start(self, handle: _TimerHandle, delay: float) -> None:
        # Rounded up: Qt counts whole milliseconds, and asyncio expects a
        # callback no earlier than its time.
        timer_id = self.startTimer(max(0, math.ceil(delay * 1000)), Qt.TimerType.PreciseTimer)
        handle.timer_id = timer_id
        self._handles[timer_id] = handle

    def cancel(self, handle: _TimerHandle) -> None:
        if self._handles.get(handle.timer_id) is handle:
            del self._handles[handle.timer_id]
            self.killTimer(handle.timer_id)

    def stop(self) -> None:
        for timer_id in self._handles:
            self.killTimer(timer_id)
        self._handles.clear()

    @property
    def pending(self) -> int:
        """Delayed callbacks waiting for their time."""
        return len(self._handles)

    def timerEvent(self, event: QTimerEvent) -> None:
        timer_id = event.timerId()
        self.killTimer(timer_id)
        handle = self._handles.pop(timer_id, None)
        if handle is not None and not handle.cancelled():
            handle._run()


class EventLoop(qasync.QSelectorEventLoop):  # type: ignore[misc]
    """qasync's selector event loop with one reusable notifier per socket and direction."""

    def __init__(self, app: QApplication | None = None, **kwargs: Any) -> None:
        # asyncio's constructor already watches its self-pipe.
        self._watches: dict[QSocketNotifier.Type, dict[int, _Watch]] = {_READ: {}, _WRITE: {}}
        self._timers = _Timers()
        super().__init__(app, **kwargs)

    # Delayed callbacks (call_at and call_soon go through call_later).
    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: object,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        if delay <= 0:  # call_soon: qasync's zero timer
            return super().call_later(delay, callback, *args, context=context)  # type: ignore[no-any-return]
        self._check_closed()
        if asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with call_later")
        handle = _TimerHandle(self.time() + delay, callback, args, self, context)
        self._timers.start(handle, delay)
        return handle

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        if isinstance(handle, _TimerHandle):
            self._timers.cancel(handle)

    # asyncio's hooks (BaseSelectorEventLoop calls these for transports).
    def _add_reader(self, fd: Any, callback: Callable[..., object], *args: object) -> None:
        self._watch(_READ, fd, callback, args)

    def _remove_reader(self, fd: Any) -> bool:
        return self._unwatch(_READ, fd)

    def _add_writer(self, fd: Any, callback: Callable[..., object], *args: object) -> None:
        self._watch(_WRITE, fd, callback, args)

    def _remove_writer(self, fd: Any) -> bool:
        return self._unwatch(_WRITE, fd)

    def close(self) -> None:
        was_open = not self.is_closed()
        super().close()
        if not was_open:
            return
        self._timers.stop()
        for table in self._watches.values():
            for watch in table.values():
                watch.watching = False
                watch.notifier.setEnabled(False)
                watch.notifier.activated.disconnect()
            table.clear()

    # ------------------------------------------------------------ internals
    def _watch(
        self,
        kind: QSocketNotifier.Type,
        fd: Any,
        callback: Callable[..., object],
        args: tuple[object, ...],
    ) -> None:
        self._check_closed()
        fileno = _fileno(fd)
        table = self._watches[kind]
        watch = table.get(fileno)
        if watch is None:
            notifier = QSocketNotifier(fileno, kind)
            notifier.setEnabled(False)
            watch = table[fileno] = _Watch(notifier)
            notifier.activated.connect(functools.partial(self._on_activated, watch))
        watch.callback = callback
        watch.args = args
        watch.token += 1
        watch.watching = True
        watch.notifier.setEnabled(True)

    def _unwatch(self, kind: QSocketNotifier.Type, fd: Any) -> bool:
        if self.is_closed():
            return False
        watch = self._watches[kind].get(_fileno(fd))
        if watch is None or not watch.watching:
            return False
        watch.watching = False
        watch.token += 1
        watch.callback, watch.args = None, ()
        watch.notifier.setEnabled(False)
        return True

    def _on_activated(self, watch: _Watch, *_socket: object) -> None:
        # Off until the callback has run, as qasync does: Qt would otherwise
        # report the same readiness again before asyncio has read anything.
        watch.notifier.setEnabled(False)
        if watch.watching:
            self.call_soon(self._run_watch, watch, watch.token)

    def _run_watch(self, watch: _Watch, token: int) -> None:
        if watch.token != token or watch.callback is None:
            return  # removed or replaced since it became ready
        try:
            watch.callback(*watch.args)
        finally:
            if watch.token == token and watch.watching:
                watch.notifier.setEnabled(True)


def new_event_loop(app: QApplication) -> qasync.QEventLoop:
    """The loop for ``app``: :class:`EventLoop`, or plain qasync on Windows
    (whose proactor loop does not watch sockets this way)."""
    if os.name == "nt":
        return qasync.QEventLoop(app)
    return EventLoop(app)
