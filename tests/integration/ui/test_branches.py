"""Branches in the real window on real services (the demo server, a store in
tmp_path): a reply keeps streaming on the branch the user leaves, is shown
live on return, and is told of like a hidden chat's when it ends unseen."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import NotificationService, RecordingNotifier

WAIT = 20_000
TOKENS = 300


def send(qtbot: QtBot, window: MainWindow, text: str) -> ChatTab:
    tab = window.new_chat()
    assert tab is not None
    tab.composer.input.setPlainText(text)
    tab.composer.send_requested.emit(tab.composer.text())
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 2, timeout=WAIT)
    return tab


def reply_on_path(services: Services, tab: ChatTab) -> int:
    path = services.chat.messages(tab.session_id)
    assert path[-1].role is Role.ASSISTANT
    return path[-1].id


def test_leave_a_streaming_branch_and_return_to_it_live(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=60, tokens=TOKENS)
    tab = send(qtbot, window, "the first wording")
    question, first = tab.view.message_ids()
    qtbot.waitUntil(lambda: len(tab.view.message_text(first)) > 20, timeout=WAIT)

    # Edit while the first reply streams: a second reply streams on its own branch.
    tab.edit_message(question, "the second wording")
    qtbot.waitUntil(
        lambda: len(tab.view.message_ids()) == 2 and first not in tab.view.message_ids(),
        timeout=WAIT,
    )
    edited, second = tab.view.message_ids()
    assert services.manager.live_messages(tab.session_id) == [first, second]
    assert tab.composer.is_streaming()  # the branch shown streams
    qtbot.waitUntil(lambda: len(tab.view.message_text(second)) > 20, timeout=WAIT)

    # Back to the first branch while both stream: its reply is there, live,
    # with everything it streamed meanwhile, and it goes on growing on screen.
    tab.switch_version(edited, question)
    qtbot.waitUntil(lambda: tab.view.message_ids() == [question, first], timeout=WAIT)
    assert tab.shows(first) and not tab.shows(second)
    held = len(tab.view.message_text(first))
    qtbot.waitUntil(lambda: len(tab.view.message_text(first)) > held + 20, timeout=WAIT)
    live = services.manager.snapshot_of(first)
    assert live is not None and live.text.startswith(tab.view.message_text(first))
    assert tab.composer.is_streaming()

    # And to the second again: live too, then both complete, each on its branch.
    tab.switch_version(question, edited)
    qtbot.waitUntil(lambda: tab.view.message_ids() == [edited, second], timeout=WAIT)
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)
    qtbot.waitUntil(
        lambda: tab.view.message_text(second) == demo_reply("the second wording", TOKENS),
        timeout=WAIT,
    )
    assert not tab.composer.is_streaming()
    tab.switch_version(edited, question)
    qtbot.waitUntil(lambda: tab.view.message_ids() == [question, first], timeout=WAIT)
    assert tab.view.message_text(first) == demo_reply("the first wording", TOKENS)
    for message_id, prompt in ((first, "the first wording"), (second, "the second wording")):
        stored = services.chat.message(message_id)
        assert stored is not None and stored.status is MessageStatus.COMPLETE
        assert stored.content == demo_reply(prompt, TOKENS)


def test_stop_in_the_window_stops_the_branch_shown_only(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=40, tokens=2000)
    tab = send(qtbot, window, "keep going")
    question, first = tab.view.message_ids()
    tab.edit_message(question, "keep going, differently")
    qtbot.waitUntil(lambda: first not in tab.view.message_ids(), timeout=WAIT)
    second = tab.view.message_ids()[1]
    qtbot.waitUntil(lambda: services.manager.is_message_live(second), timeout=WAIT)
    tab.stop()
    qtbot.waitUntil(lambda: not services.manager.is_message_live(second), timeout=WAIT)
    qtbot.waitUntil(lambda: not tab.composer.is_streaming(), timeout=WAIT)
    assert services.manager.is_message_live(first)
    services.manager.stop(tab.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)


@pytest.mark.parametrize("switch_back", [False, True])
def test_a_branch_left_mid_stream_notifies_when_it_ends(
    qtbot: QtBot,
    window: MainWindow,
    services: Services,
    demo: DemoServer,
    switch_back: bool,
) -> None:
    """The chat is on screen, the reply's branch is not: its end is notified as a
    hidden chat's is (and clicking it shows that branch). Once the user is back
    on that branch before it ends, nothing is notified."""
    demo.defaults = DemoOptions(rate=60, tokens=TOKENS)
    recorder = RecordingNotifier()
    notifications = NotificationService(
        services.manager,
        services.chat,
        services.settings,
        recorder,
        window.visible_session,
        shows_message=window.shows_message,
    )
    clicked: list[tuple[int, int]] = []
    notifications.reply_clicked.connect(lambda s, m: clicked.append((s, m)))
    with qtbot.waitActive(window, timeout=5000):
        window.activateWindow()
    tab = send(qtbot, window, "the long way")
    question, left = tab.view.message_ids()
    assert window.visible_session() == tab.session_id
    tab.edit_message(question, "the short way")
    qtbot.waitUntil(lambda: left not in tab.view.message_ids(), timeout=WAIT)
    edited, shown = tab.view.message_ids()
    assert not window.shows_message(tab.session_id, left)
    if switch_back:
        tab.switch_version(edited, question)
        qtbot.waitUntil(lambda: tab.view.message_ids() == [question, left], timeout=WAIT)
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)
    qtbot.waitUntil(lambda: notifications.pending() == 0, timeout=WAIT)
    # One notification: about the reply whose branch was not shown as it ended.
    unseen, seen = (shown, left) if switch_back else (left, shown)
    assert [sent[2] for sent in recorder.sent] == [tab.session_id]
    recorder.click(tab.session_id)
    assert clicked == [(tab.session_id, unseen)]
    assert seen != unseen
    tab.show_reply(unseen)
    qtbot.waitUntil(lambda: tab.view.message_ids()[-1] == unseen, timeout=WAIT)
    assert not window.is_unread(tab.session_id)  # the chat is on screen
    assert services.chat.versions(tab.session_id)[edited] == (question, edited)
