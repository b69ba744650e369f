"""NotificationService on real services: a real StreamManager, a store in tmp_path and
the real demo server. Notifications go to a recorder; which chat is visible is
injected, except where the real MainWindow's answer is the point."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import qasync
from pytestqt.qtbot import QtBot

from desktop.core.models import ProviderKind
from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.streaming.events import Callbacks, StreamEnded
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import (
    DO_NOT_DISTURB_KEY,
    DesktopNotifier,
    FallbackNotifier,
    NotificationService,
    NotifierUnavailable,
    RecordingNotifier,
    TrayBalloonNotifier,
    notification_body,
    notification_service_missing,
    safe_body,
)
from desktop.ui.tray import Tray
from tests.support.aio import run_on_qloop

WAIT_MS = 15_000


class Visible:
    """The injected answer to "which chat is the user looking at?"."""

    def __init__(self) -> None:
        self.session: int | None = None

    def __call__(self) -> int | None:
        return self.session


@pytest.fixture
def visible() -> Visible:
    return Visible()


class Harness:
    """The service under test plus what it and the manager said."""

    def __init__(self, qtbot: QtBot, services: Services) -> None:
        self.qtbot = qtbot
        self.services = services
        self.ended: list[StreamEnded] = []
        self.unseen: list[int] = []
        self.clicked: list[int] = []

    def attach(self, service: NotificationService) -> NotificationService:
        self.service = service
        service.finished_unseen.connect(self.unseen.append)
        service.clicked.connect(self.clicked.append)
        # Added after the service's own listener, so the service has decided by then.
        self.services.manager.attach(None, Callbacks(ended=self.ended.append))
        return service

    def new_chat(self) -> int:
        return self.services.chat.create_chat().id

    def reply(self, session_id: int, text: str = "Tell me something") -> StreamEnded:
        """Send, wait until the reply ended and every notification was handed over."""
        before = len(self.ended)
        run_on_qloop(self.services.chat.send(session_id, text))
        return self.wait_ended(before)

    def wait_ended(self, before: int) -> StreamEnded:
        self.qtbot.waitUntil(lambda: len(self.ended) > before, timeout=WAIT_MS)
        self.qtbot.waitUntil(lambda: self.service.pending() == 0, timeout=WAIT_MS)
        return self.ended[-1]


@pytest.fixture
def harness(
    qtbot: QtBot,
    services: Services,
    recorder: RecordingNotifier,
    visible: Visible,
) -> Harness:
    h = Harness(qtbot, services)
    h.attach(
        NotificationService(services.manager, services.chat, services.settings, recorder, visible)
    )
    return h


# ------------------------------------------------------------------ the rules
def test_a_reply_finishing_in_a_hidden_chat_notifies_once(
    harness: Harness, recorder: RecordingNotifier, visible: Visible
) -> None:
    shown, hidden = harness.new_chat(), harness.new_chat()
    visible.session = shown
    ended = harness.reply(hidden, "What is a monad?")
    assert ended.status is MessageStatus.COMPLETE
    title = harness.services.chat.chat(hidden).title  # type: ignore[union-attr]
    assert recorder.sent == [(title, ended.first_line, hidden)]
    assert title == "What is a monad?"
    assert ended.first_line and ended.first_line in ended.text
    assert harness.unseen == [hidden]


def test_a_reply_finishing_in_the_visible_chat_notifies_nothing(
    harness: Harness, recorder: RecordingNotifier, visible: Visible
) -> None:
    chat = harness.new_chat()
    visible.session = chat
    assert harness.reply(chat).status is MessageStatus.COMPLETE
    assert recorder.sent == []
    assert harness.unseen == []


def test_a_reply_ending_on_a_branch_left_notifies_like_a_hidden_chat(
    qtbot: QtBot,
    services: Services,
    recorder: RecordingNotifier,
    visible: Visible,
    demo: DemoServer,
) -> None:
    """The chat is on screen but shows another branch (an edit while the
    first reply streamed): that reply's end is notified, the chat on screen
    is not marked unread, and a click names the reply to show."""
    demo.defaults = DemoOptions(rate=100, tokens=120)
    shown_replies: set[int] = set()
    h = Harness(qtbot, services)
    h.attach(
        NotificationService(
            services.manager,
            services.chat,
            services.settings,
            recorder,
            visible,
            shows_message=lambda session_id, message_id: message_id in shown_replies,
        )
    )
    clicked_replies: list[tuple[int, int]] = []
    h.service.reply_clicked.connect(lambda s, m: clicked_replies.append((s, m)))
    chat = h.new_chat()
    visible.session = chat
    left = run_on_qloop(services.chat.send(chat, "the first wording"))
    question = services.chat.messages(chat)[0]
    before = len(h.ended)
    kept = run_on_qloop(services.chat.edit(question.id, "the second wording"))
    shown_replies.add(kept.id)
    qtbot.waitUntil(lambda: len(h.ended) >= before + 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: h.service.pending() == 0, timeout=WAIT_MS)
    assert {e.message_id for e in h.ended[before:]} == {left.id, kept.id}
    title = services.chat.chat(chat).title  # type: ignore[union-attr]
    assert [(t, s) for t, _, s in recorder.sent] == [(title, chat)]  # the branch left, once
    assert h.unseen == []
    recorder.click(chat)
    assert clicked_replies == [(chat, left.id)]


def test_a_muted_chat_gets_the_unread_mark_but_no_notification(
    harness: Harness, recorder: RecordingNotifier
) -> None:
    chat = harness.new_chat()
    harness.services.chat.set_muted(chat, True)
    assert harness.reply(chat).status is MessageStatus.COMPLETE
    assert recorder.sent == []
    assert harness.unseen == [chat]


def test_do_not_disturb_silences_every_chat_and_is_persisted(
    harness: Harness, recorder: RecordingNotifier, services: Services
) -> None:
    harness.service.set_do_not_disturb(True)
    assert services.store.get_setting(DO_NOT_DISTURB_KEY) is True
    chat = harness.new_chat()
    harness.reply(chat)
    assert recorder.sent == []
    assert harness.unseen == [chat]
    harness.service.set_do_not_disturb(False)
    harness.reply(chat, "again")
    assert len(recorder.sent) == 1


def test_a_failed_reply_notifies_with_its_error(
    harness: Harness, recorder: RecordingNotifier, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=20, status=500)
    chat = harness.new_chat()
    ended = harness.reply(chat)
    assert ended.status is MessageStatus.FAILED
    assert ended.error
    [(_title, body, session_id)] = recorder.sent
    assert session_id == chat
    assert body.startswith("The reply failed: ")
    assert " ".join(ended.error.split())[:60] in body
    assert harness.unseen == [chat]


def test_a_stopped_reply_notifies_nothing(
    harness: Harness, recorder: RecordingNotifier, demo: DemoServer, qtbot: QtBot
) -> None:
    demo.defaults = DemoOptions(rate=20, tokens=400)
    chat = harness.new_chat()
    before = len(harness.ended)
    run_on_qloop(harness.services.chat.send(chat, "a long one"))
    assert harness.services.chat.stop(chat)
    ended = harness.wait_ended(before)
    assert ended.status is MessageStatus.STOPPED
    assert recorder.sent == []
    assert harness.unseen == []


def test_an_interrupted_reply_gets_the_unread_mark_but_no_notification(
    harness: Harness, recorder: RecordingNotifier, demo: DemoServer, services: Services
) -> None:
    # Chat Completions cannot resume: a dropped connection leaves the reply interrupted.
    services.settings.add_provider(
        "Demo (chat)", ProviderKind.OPENAI_CHAT, demo.openai_base_url, "sidestream-demo"
    )
    demo.defaults = DemoOptions(rate=0, tokens=60, cut_after=5)
    chat = harness.new_chat()
    ended = harness.reply(chat)
    assert ended.status is MessageStatus.INTERRUPTED
    assert recorder.sent == []
    assert harness.unseen == [chat]


def test_an_interruption_by_quitting_marks_nothing(
    harness: Harness, recorder: RecordingNotifier, demo: DemoServer, services: Services
) -> None:
    demo.defaults = DemoOptions(rate=20, tokens=400)
    chat = harness.new_chat()
    before = len(harness.ended)
    run_on_qloop(services.chat.send(chat, "a long one"))
    run_on_qloop(services.manager.stop_all(MessageStatus.INTERRUPTED, InterruptReason.APP_QUIT))
    ended = harness.wait_ended(before)
    assert ended.status is MessageStatus.INTERRUPTED
    assert recorder.sent == []
    assert harness.unseen == []


def test_two_replies_in_one_hidden_chat_notify_once_each_never_twice(
    harness: Harness, recorder: RecordingNotifier
) -> None:
    chat = harness.new_chat()
    first = harness.reply(chat, "one")
    second = harness.reply(chat, "two")
    assert first.message_id != second.message_id
    assert [s for _, _, s in recorder.sent] == [chat, chat]
    # The same end announced again (a duplicate) is not told again.
    for ended in (first, second):
        harness.service.on_stream_ended(ended)
    harness.qtbot.waitUntil(lambda: harness.service.pending() == 0)
    assert len(recorder.sent) == 2


def test_a_retried_reply_notifies_again(harness: Harness, recorder: RecordingNotifier) -> None:
    chat = harness.new_chat()
    first = harness.reply(chat)
    before = len(harness.ended)
    run_on_qloop(harness.services.chat.retry(first.message_id))
    harness.wait_ended(before)
    assert len(recorder.sent) == 2


def test_clicking_a_notification_reports_its_chat(
    harness: Harness, recorder: RecordingNotifier
) -> None:
    chat = harness.new_chat()
    harness.reply(chat)
    recorder.click(chat)
    assert harness.clicked == [chat]


def test_viewing_the_chat_takes_its_notification_back_once(
    harness: Harness, recorder: RecordingNotifier, visible: Visible
) -> None:
    shown, hidden, quiet = harness.new_chat(), harness.new_chat(), harness.new_chat()
    visible.session = shown
    harness.reply(hidden)
    assert [sent[2] for sent in recorder.sent] == [hidden]
    harness.service.seen(shown)  # another chat, or none: nothing to take back
    harness.service.seen(None)
    harness.service.seen(quiet)
    assert recorder.withdrawn == []
    harness.service.seen(hidden)
    harness.qtbot.waitUntil(lambda: harness.service.pending() == 0, timeout=WAIT_MS)
    assert recorder.withdrawn == [hidden]
    harness.service.seen(hidden)  # once
    harness.qtbot.waitUntil(lambda: harness.service.pending() == 0, timeout=WAIT_MS)
    assert recorder.withdrawn == [hidden]


def test_a_clicked_notification_is_not_taken_back(
    harness: Harness, recorder: RecordingNotifier, visible: Visible
) -> None:
    chat = harness.new_chat()
    harness.reply(chat)
    recorder.click(chat)  # the notification service closes it itself
    harness.service.seen(chat)
    assert recorder.withdrawn == []


def test_the_body_is_the_first_line_kept_short() -> None:
    long = "x" * 500
    ended = StreamEnded(1, 2, MessageStatus.COMPLETE, "\n\n# Heading  one\nrest")
    assert notification_body(ended) == "Heading one"
    assert len(notification_body(StreamEnded(1, 2, MessageStatus.COMPLETE, long))) == 200
    assert notification_body(StreamEnded(1, 2, MessageStatus.COMPLETE, "")) == (
        "The reply is complete."
    )
    failed = StreamEnded(1, 2, MessageStatus.FAILED, "", error="HTTP 500:\nboom")
    assert notification_body(failed) == "The reply failed: HTTP 500: boom"


# --------------------------------------------------------- the real window
def test_main_window_visible_session_follows_tab_state_and_minimising(
    qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services.chat, services.settings)
    qtbot.addWidget(window)
    window.allow_close = True
    first = window.new_chat()
    second = window.new_chat()
    assert first is not None and second is not None
    assert window.visible_session() is None  # not shown yet
    with qtbot.waitActive(window, timeout=5000):
        window.show()
        window.activateWindow()
    assert window.visible_session() == second.session_id
    window.open_chat(first.session_id)
    assert window.visible_session() == first.session_id
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized, timeout=5000)
    assert window.visible_session() is None
    window.showNormal()
    window.hide()
    assert window.visible_session() is None


def test_a_minimised_window_on_the_chat_still_notifies(
    qtbot: QtBot, services: Services, recorder: RecordingNotifier
) -> None:
    window = MainWindow(services.chat, services.settings)
    qtbot.addWidget(window)
    window.allow_close = True
    h = Harness(qtbot, services)
    service = h.attach(
        NotificationService(
            services.manager, services.chat, services.settings, recorder, window.visible_session
        )
    )
    service.finished_unseen.connect(lambda sid: window.mark_unread(sid, True))
    tab = window.new_chat()
    assert tab is not None
    with qtbot.waitActive(window, timeout=5000):
        window.show()
        window.activateWindow()
    h.reply(tab.session_id, "seen")
    assert recorder.sent == []
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized, timeout=5000)
    assert window.current_tab() is tab
    h.reply(tab.session_id, "unseen")
    assert [s for _, _, s in recorder.sent] == [tab.session_id]
    assert window.is_unread(tab.session_id)


# ---------------------------------------------------------------- fallback
def _balloon_tray(qtbot: QtBot) -> tuple[Tray, list[tuple[str, str]]]:
    tray = Tray(lambda: 0, lambda: 0, available=True)
    shown: list[tuple[str, str]] = []
    tray.message_shown.connect(lambda title, body: shown.append((title, body)))
    return tray, shown


async def _no_service() -> str | None:
    return "no notification service on the session bus (test)"


def test_without_a_notification_service_the_tray_balloon_is_used_and_the_reason_logged_once(
    qtbot: QtBot,
    services: Services,
    visible: Visible,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tray, shown = _balloon_tray(qtbot)
    notifier = FallbackNotifier(DesktopNotifier(probe=_no_service), TrayBalloonNotifier(tray))
    h = Harness(qtbot, services)
    h.attach(
        NotificationService(services.manager, services.chat, services.settings, notifier, visible)
    )
    chat = h.new_chat()
    with caplog.at_level(logging.WARNING, logger="sidestream.notify"):
        first = h.reply(chat, "one")
        h.reply(chat, "two")
    title = services.chat.chat(chat).title  # type: ignore[union-attr]
    assert shown[0] == (title, first.first_line)
    assert len(shown) == 2
    warnings = [r for r in caplog.records if r.name == "sidestream.notify"]
    assert len(warnings) == 1
    assert "no notification service" in warnings[0].getMessage()
    assert "tray balloons" in warnings[0].getMessage()
    assert notifier.fallback_reason is not None
    # A click on the balloon opens the chat it was about.
    tray.message_clicked.emit()
    assert h.clicked == [chat]


def test_the_real_probe_reports_a_missing_session_bus(
    qloop: qasync.QEventLoop,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    reason = run_on_qloop(notification_service_missing())
    assert reason is not None and "no D-Bus session bus" in reason
    notifier = DesktopNotifier()
    with pytest.raises(NotifierUnavailable, match="no D-Bus session bus"):
        run_on_qloop(notifier.send("t", "b", 1))


def test_a_balloon_needs_a_tray(qtbot: QtBot, qloop: object) -> None:
    tray = Tray(lambda: 0, lambda: 0, available=False)
    notifier = FallbackNotifier(RecordingUnavailable(), TrayBalloonNotifier(tray))
    with pytest.raises(NotifierUnavailable, match="no system tray"):
        run_on_qloop(notifier.send("t", "b", 1))
    assert notifier.fallback_reason is not None
    assert "notifications are not shown" in notifier.fallback_reason


class RecordingUnavailable(RecordingNotifier):
    async def send(self, title: str, body: str, session_id: int) -> None:
        raise NotifierUnavailable("nothing here")


def test_a_body_is_escaped_for_markup_services_and_stripped_for_link_only_ones() -> None:
    line = 'Hi <b>b</b> <a href="https://evil.example">x</a> <img src="y.png"> & co'
    assert safe_body(line, frozenset({"body", "body-markup"})) == (
        'Hi &lt;b&gt;b&lt;/b&gt; &lt;a href="https://evil.example"&gt;x&lt;/a&gt; '
        '&lt;img src="y.png"&gt; &amp; co'
    )
    assert safe_body(line, frozenset({"body", "body-hyperlinks"})) == "Hi b x  & co"
    assert safe_body(line, frozenset({"body"})) == line
