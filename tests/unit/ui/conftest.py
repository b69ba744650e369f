"""Fixtures of the UI tests that need the real app wiring: the window on the real
services (``qloop`` and ``services`` come from ``tests/conftest.py``), and the
app with a recorder for notifications and a stub for the quit question."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.app import QuitChoice, SidestreamApp
from desktop.services import Services
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import RecordingNotifier
from desktop.ui.tray import Tray
from tests.support.aio import run_on_qloop

WAIT_MS = 15_000


class Asker:
    """The quit question, answered by the test."""

    def __init__(self) -> None:
        self.answer = QuitChoice.CANCEL
        self.asked: list[tuple[int, bool]] = []

    def __call__(self, live: int, tray_available: bool) -> QuitChoice:
        self.asked.append((live, tray_available))
        return self.answer


@pytest.fixture
def window(qtbot: QtBot, services: Services) -> Iterator[MainWindow]:
    win = MainWindow(services.chat, services.settings)
    qtbot.addWidget(win)
    win.new_chat()
    show_active(qtbot, win)
    yield win
    # Replies end while the window still exists (their listeners touch it).
    run_on_qloop(services.manager.stop_all())
    win.allow_close = True  # qtbot closes it: that is not the user's close


@pytest.fixture
def recorder() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def asker() -> Asker:
    return Asker()


def make_app(
    services: Services,
    window: MainWindow,
    recorder: RecordingNotifier,
    asker: Asker,
    *,
    tray_available: bool = True,
) -> SidestreamApp:
    tray = Tray(services.manager.live_count, window.unread_count, available=tray_available)
    return SidestreamApp(services, window, tray=tray, notifier=recorder, ask_quit=asker)


@pytest.fixture
def app(
    services: Services, window: MainWindow, recorder: RecordingNotifier, asker: Asker
) -> SidestreamApp:
    return make_app(services, window, recorder, asker)


def show_active(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitActive(window, timeout=5000):
        window.show()
        window.activateWindow()


def start_reply(services: Services, session_id: int) -> None:
    run_on_qloop(services.chat.send(session_id, "Tell me a long story"))


def has_text(services: Services, session_id: int, at_least: int = 1) -> bool:
    snapshot = services.manager.snapshot(session_id)
    return snapshot is not None and len(snapshot.text) >= at_least
