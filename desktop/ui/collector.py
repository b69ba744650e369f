"""Garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate when a
threshold is crossed. Sidestream has threads of its own (the SQLite writer,
the embedded demo server), and a cycle holding a Qt object collected in one of
them destroys that object off the GUI thread: a crash. So automatic collection
is turned off and the same thresholds are checked from a timer on the GUI
thread (the approach qutebrowser takes for the same reason).
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger("sidestream.ui")

INTERVAL_MS = 1000


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self, *, reenable: bool = True) -> None:
        self._timer.stop()
        if reenable:
            gc.enable()

    def _on_timer_timeout(self) -> None:
        # The counts gc would act on by itself, acted on here instead.
        count0, count1, count2 = gc.get_count()
        threshold0, threshold1, threshold2 = self._thresholds
        if count0 > threshold0:
            generation = 0
            if count1 > threshold1:
                generation = 2 if count2 > threshold2 else 1
            gc.collect(generation)
