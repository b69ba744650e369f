"""The quit question stays true while it is open: its count follows the replies,
and it closes itself (the quit goes ahead) once no reply streams any more."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import SidestreamApp
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import RecordingNotifier
from desktop.ui.quit_question import QuitChoice, QuitQuestion
from desktop.ui.tray import Tray
from tests.unit.ui.conftest import WAIT_MS, has_text, start_reply

DEADLINE_MS = 30_000


def test_the_count_follows_and_no_reply_streaming_closes_it_as_quit(qtbot: QtBot) -> None:
    question = QuitQuestion(2, True, None)
    assert question.text() == "2 replies are still streaming."
    seen: list[str] = []

    def one_ends() -> None:
        question.set_live(1)
        seen.append(question.text())
        QTimer.singleShot(50, lambda: question.set_live(0))

    QTimer.singleShot(50, one_ends)
    # A deadline: a question that does not close itself is cancelled, and fails.
    QTimer.singleShot(DEADLINE_MS, question.box.reject)
    assert question.ask() is QuitChoice.QUIT
    assert seen == ["1 reply is still streaming."]
    question.box.deleteLater()


def test_the_open_question_follows_the_replies_and_quits_when_they_end(
    qtbot: QtBot, services: Services, window: MainWindow, demo: DemoServer
) -> None:
    tray = Tray(services.manager.live_count, window.unread_count, available=True)
    app = SidestreamApp(services, window, tray=tray, notifier=RecordingNotifier())
    longer = services.chat.create_chat("Longer").id
    shorter = services.chat.create_chat("Shorter").id
    demo.defaults = DemoOptions(rate=40, tokens=120)
    start_reply(services, longer)
    qtbot.waitUntil(lambda: has_text(services, longer), timeout=WAIT_MS)
    demo.defaults = DemoOptions(rate=40, tokens=30)
    start_reply(services, shorter)
    qtbot.waitUntil(lambda: has_text(services, shorter), timeout=WAIT_MS)

    texts: list[str] = []

    def look() -> None:
        question = app.quit_question
        if question is None:
            return
        if not texts or texts[-1] != question.text():
            texts.append(question.text())
        QTimer.singleShot(20, look)

    def give_up() -> None:
        modal = QApplication.activeModalWidget()
        if app.quit_question is not None and modal is not None:
            modal.close()

    QTimer.singleShot(0, look)
    QTimer.singleShot(DEADLINE_MS, give_up)
    app.request_quit()  # the question is open until the replies are over

    assert texts == ["2 replies are still streaming.", "1 reply is still streaming."]
    assert services.manager.streaming_count() == 0
    assert app.quit_question is None
    assert app.quitting  # nothing streams: the quit goes ahead
    qtbot.waitUntil(lambda: app.quit_confirmed, timeout=WAIT_MS)
