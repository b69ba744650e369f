"""The tray and the close/quit flow, on the real app wiring (SidestreamApp) with real
services, the demo server, a recorder for notifications and a stub for the quit
question."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.app import TRAY_HINT_KEY, QuitChoice, SidestreamApp
from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.store import Store
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import DO_NOT_DISTURB_KEY, RecordingNotifier
from desktop.ui.tray import tooltip_text
from tests.support.aio import run_on_qloop
from tests.unit.ui.conftest import WAIT_MS, Asker, has_text, make_app, start_reply

SLOW = DemoOptions(rate=20, tokens=400)


# -------------------------------------------------------------------- state
def test_tooltip_text_counts_replies_and_unread() -> None:
    assert tooltip_text(0, 0) == "Sidestream"
    assert tooltip_text(1, 0) == "Sidestream — 1 reply streaming"
    assert tooltip_text(2, 1) == "Sidestream — 2 replies streaming, 1 unread"
    assert tooltip_text(0, 3) == "Sidestream — 3 unread"


def test_icon_tooltip_and_stop_all_follow_live_replies_and_unread_chats(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    demo: DemoServer,
) -> None:
    tray = app.tray
    assert tray.tooltip() == "Sidestream"
    assert not tray.streaming
    assert not tray.action_stop_all.isEnabled()
    slow = services.chat.create_chat("Slow").id
    quick = services.chat.create_chat("Quick").id
    demo.defaults = SLOW
    start_reply(services, slow)
    # The server reads its defaults when the request arrives: wait for that.
    qtbot.waitUntil(lambda: has_text(services, slow), timeout=WAIT_MS)
    demo.defaults = DemoOptions(rate=40, tokens=40)
    start_reply(services, quick)
    qtbot.waitUntil(lambda: tray.tooltip() == "Sidestream — 2 replies streaming", timeout=WAIT_MS)
    assert tray.streaming
    assert tray.icon.icon().cacheKey() == tray.icon_for(True).cacheKey()
    assert tray.action_stop_all.isEnabled()

    # The quick one ends unseen (another chat is on screen): unread.
    qtbot.waitUntil(
        lambda: tray.tooltip() == "Sidestream — 1 reply streaming, 1 unread", timeout=WAIT_MS
    )
    assert window.is_unread(quick)

    tray.action_stop_all.trigger()
    qtbot.waitUntil(lambda: services.manager.live_count() == 0, timeout=WAIT_MS)
    assert tray.tooltip() == "Sidestream — 1 unread"
    assert not tray.streaming
    assert tray.icon.icon().cacheKey() == tray.icon_for(False).cacheKey()
    assert not tray.action_stop_all.isEnabled()
    [slow_reply] = [m for m in services.chat.messages(slow) if m.role.value == "assistant"]
    assert slow_reply.status is MessageStatus.STOPPED

    window.open_chat(quick)  # viewed: no longer unread
    qtbot.waitUntil(lambda: tray.tooltip() == "Sidestream", timeout=WAIT_MS)


def test_do_not_disturb_is_persisted_and_silences_notifications(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    recorder: RecordingNotifier,
    asker: Asker,
) -> None:
    assert not app.tray.action_dnd.isChecked()
    app.tray.action_dnd.trigger()
    assert app.tray.action_dnd.isChecked()
    assert services.store.get_setting(DO_NOT_DISTURB_KEY) is True
    assert app.notifications.do_not_disturb

    hidden = services.chat.create_chat("Hidden").id
    start_reply(services, hidden)
    qtbot.waitUntil(lambda: window.is_unread(hidden), timeout=WAIT_MS)
    assert recorder.sent == []

    # The next start (a new tray over the same store) shows it checked.
    again = make_app(services, window, RecordingNotifier(), asker)
    assert again.tray.action_dnd.isChecked()
    again.tray.action_dnd.trigger()
    assert services.store.get_setting(DO_NOT_DISTURB_KEY) is False


# ------------------------------------------------------------------ actions
def test_show_and_new_chat_bring_the_window_back(
    qtbot: QtBot, app: SidestreamApp, window: MainWindow
) -> None:
    window.hide()
    app.tray.action_show.trigger()
    assert window.isVisible()
    window.hide()
    tabs = window.tabs.count()
    app.tray.action_new_chat.trigger()
    assert window.isVisible()
    assert window.tabs.count() == tabs + 1


def test_tray_quit_with_nothing_streaming_quits_without_asking(
    app: SidestreamApp, asker: Asker
) -> None:
    app.tray.action_quit.trigger()
    assert app.quitting
    assert asker.asked == []


def test_clicking_a_notification_shows_the_chat_and_clears_its_unread_mark(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    recorder: RecordingNotifier,
) -> None:
    hidden = services.chat.create_chat("Background").id
    window.hide()
    start_reply(services, hidden)
    qtbot.waitUntil(lambda: len(recorder.sent) == 1, timeout=WAIT_MS)
    assert recorder.sent[0][0] == "Background"  # the chat's title
    assert window.is_unread(hidden)
    recorder.click(hidden)
    assert window.isVisible()
    current = window.current_tab()
    assert current is not None and current.session_id == hidden
    assert not window.is_unread(hidden)
    assert window.windowTitle() == "Sidestream — Background"


# --------------------------------------------------------------- close/quit
def test_closing_with_nothing_streaming_quits(app: SidestreamApp, window: MainWindow) -> None:
    window.close()
    assert app.quitting


def test_closing_with_replies_streaming_keeps_them_in_the_tray_and_says_so_once(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    demo: DemoServer,
    asker: Asker,
) -> None:
    balloons: list[tuple[str, str]] = []
    app.tray.message_shown.connect(lambda title, body: balloons.append((title, body)))
    demo.defaults = SLOW
    current = window.current_tab()
    assert current is not None
    start_reply(services, current.session_id)
    window.close()
    assert not window.isVisible()
    assert not app.quitting
    assert asker.asked == []
    assert services.manager.is_live(current.session_id)
    assert balloons == [
        (
            "Sidestream is still running",
            "1 reply keeps streaming in the background. Click the tray icon to come back; "
            "Quit is in its menu.",
        )
    ]
    assert services.store.get_setting(TRAY_HINT_KEY) is True
    app.tray.action_show.trigger()
    window.close()
    assert not window.isVisible()
    assert len(balloons) == 1  # said once, and remembered
    assert services.manager.is_live(current.session_id)


@pytest.mark.parametrize(
    ("answer", "visible", "minimised", "quitting"),
    [
        (QuitChoice.CANCEL, True, False, False),
        (QuitChoice.KEEP_RUNNING, True, True, False),
        (QuitChoice.QUIT, True, False, True),
    ],
)
def test_closing_with_replies_streaming_and_no_tray_asks(
    qtbot: QtBot,
    services: Services,
    window: MainWindow,
    recorder: RecordingNotifier,
    asker: Asker,
    demo: DemoServer,
    answer: QuitChoice,
    visible: bool,
    minimised: bool,
    quitting: bool,
) -> None:
    app = make_app(services, window, recorder, asker, tray_available=False)
    demo.defaults = SLOW
    current = window.current_tab()
    assert current is not None
    start_reply(services, current.session_id)
    asker.answer = answer
    window.close()
    assert asker.asked == [(1, False)]
    assert window.isVisible() is visible
    if minimised:
        qtbot.waitUntil(window.isMinimized, timeout=5000)
    else:
        assert not window.isMinimized()
    assert app.quitting is quitting


@pytest.mark.parametrize(
    ("answer", "visible", "quitting"),
    [
        (QuitChoice.CANCEL, True, False),
        (QuitChoice.KEEP_RUNNING, False, False),
        (QuitChoice.QUIT, True, True),
    ],
)
def test_quit_with_replies_streaming_asks(
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    asker: Asker,
    demo: DemoServer,
    answer: QuitChoice,
    visible: bool,
    quitting: bool,
) -> None:
    demo.defaults = SLOW
    current = window.current_tab()
    assert current is not None
    start_reply(services, current.session_id)
    asker.answer = answer
    window.action_quit.trigger()  # Ctrl+Q
    assert asker.asked == [(1, True)]
    assert window.isVisible() is visible
    assert app.quitting is quitting
    assert services.manager.is_live(current.session_id)  # nothing stopped yet


def test_quitting_flushes_every_partial_text(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    asker: Asker,
    demo: DemoServer,
    tmp_path: Path,
) -> None:
    demo.defaults = SLOW
    current = window.current_tab()
    assert current is not None
    start_reply(services, current.session_id)

    qtbot.waitUntil(lambda: has_text(services, current.session_id, 20), timeout=WAIT_MS)
    snapshot = services.manager.snapshot(current.session_id)
    assert snapshot is not None
    asker.answer = QuitChoice.QUIT
    app.request_quit()
    assert app.quitting
    run_on_qloop(app.shutdown())
    assert not window.isVisible()
    store = Store.open(tmp_path / "data")
    try:
        [reply] = [
            m for m in store.list_messages(current.session_id) if m.role.value == "assistant"
        ]
    finally:
        store.close()
    assert reply.status is MessageStatus.INTERRUPTED
    assert reply.reason == InterruptReason.APP_QUIT.value
    assert len(reply.content) >= len(snapshot.text) >= 20
    assert reply.content.startswith(snapshot.text)
