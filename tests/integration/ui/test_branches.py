"""Branches in the real window on real services (the demo server, a store in
tmp_path): a reply keeps streaming on the branch the user leaves, is shown
live on return, and is told of like a hidden chat's when it ends unseen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.ui.chat_settings_dialog import ChatSettingsDialog
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import NotificationService, RecordingNotifier
from desktop.ui.render.region import BLOCK_KIND, BLOCK_MESSAGE, BlockKind

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


def test_chat_settings_from_the_menu_reach_the_next_reply(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    """Chat → Chat settings… (Ctrl+Shift+S): the system prompt set there is
    sent with the chat's next reply, where the dialect wants it."""
    demo.defaults = DemoOptions(rate=0, tokens=10)
    tab = window.new_chat()
    assert tab is not None
    seen: list[ChatSettingsDialog] = []

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ChatSettingsDialog):
            QTimer.singleShot(20, fill)
            return
        seen.append(dialog)
        dialog.prompt_edit.setPlainText("Answer like a pirate.")
        dialog.ok_button.click()

    QTimer.singleShot(0, fill)
    window.action_chat_settings.trigger()
    assert seen, "the dialog did not open"
    session = services.chat.chat(tab.session_id)
    assert session is not None and session.system_prompt == "Answer like a pirate."
    tab.composer.send_requested.emit("Ahoy?")

    def replied() -> bool:
        path = services.chat.messages(tab.session_id)
        return len(path) == 2 and path[1].status is MessageStatus.COMPLETE

    qtbot.waitUntil(replied, timeout=WAIT)
    (post,) = [r for r in demo.requests if r.method == "POST" and "Ahoy?" in str(r.body)]
    assert post.body["instructions"] == "Answer like a pirate.", post.body  # Responses


def header_of(tab: ChatTab, message_id: int) -> str:
    """The text of a message's header line in the view (where ‹ 2/3 › is)."""
    block = tab.view.document().begin()
    while block.isValid():
        fmt = block.blockFormat()
        if (
            fmt.property(BLOCK_MESSAGE) == message_id
            and fmt.property(BLOCK_KIND) == BlockKind.HEADER
        ):
            return block.text()
        block = block.next()
    return ""


def test_regenerate_three_times_and_walk_the_versions_with_the_keyboard(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=12)
    tab = window.new_chat()
    assert tab is not None
    composer = tab.composer.input
    qtbot.keyClicks(composer, "Tell me a story")
    qtbot.keyClick(composer, Qt.Key.Key_Return)

    def settled(count: int) -> bool:
        """The newest reply is the count-th version, complete, and shown."""
        path = services.chat.messages(tab.session_id)
        if len(path) != 2 or path[1].status is not MessageStatus.COMPLETE:
            return False
        versions = services.chat.versions(tab.session_id).get(path[1].id, (path[1].id,))
        # The shown reply must be the newest version: the store's writer thread
        # may add the next one between the two reads above (it is not live yet).
        return (
            len(versions) == count
            and versions[-1] == path[1].id
            and tab.view.message_ids() == [path[0].id, path[1].id]
            and not services.manager.is_live(tab.session_id)
        )

    qtbot.waitUntil(lambda: settled(1), timeout=WAIT)
    for count in (2, 3):
        qtbot.keyClick(composer, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda count=count: settled(count), timeout=WAIT)  # type: ignore[misc]
    question, third = tab.view.message_ids()
    first, second, newest = services.chat.versions(tab.session_id)[third]
    assert newest == third
    assert "‹ 3/3 ›" in header_of(tab, third)

    # Alt+Left from the composer, twice: ‹ 1/3 ›, each version's own text.
    for shown, label in ((second, "2/3"), (first, "1/3")):
        qtbot.keyClick(composer, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(
            lambda shown=shown: tab.view.message_ids() == [question, shown], timeout=WAIT
        )  # type: ignore[misc]
        assert f"‹ {label} ›" in header_of(tab, shown)
        stored = services.chat.message(shown)
        assert stored is not None and tab.view.message_text(shown) == stored.content
    with qtbot.assertNotEmitted(tab.view.version_requested):  # at the end: nothing
        qtbot.keyClick(composer, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert tab.view.message_ids() == [question, first]
    # And back up to ‹ 3/3 ›, the keyboard on the switcher itself this time.
    assert tab.view.focus_versions(first)
    for shown in (second, third):
        qtbot.keyClick(tab.view.browser, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(
            lambda shown=shown: tab.view.message_ids() == [question, shown], timeout=WAIT
        )  # type: ignore[misc]
    assert "‹ 3/3 ›" in header_of(tab, third)
    # Every version is kept, complete.
    for version in (first, second, third):
        stored = services.chat.message(version)
        assert stored is not None and stored.status is MessageStatus.COMPLETE


def test_edit_with_up_while_the_reply_streams_keeps_both_replies(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=80, tokens=TOKENS)
    tab = window.new_chat()
    assert tab is not None
    composer = tab.composer.input
    qtbot.keyClicks(composer, "first try")
    qtbot.keyClick(composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 2, timeout=WAIT)
    question, first = tab.view.message_ids()
    qtbot.waitUntil(lambda: len(tab.view.message_text(first)) > 10, timeout=WAIT)
    assert services.manager.is_message_live(first)

    # Up in the empty composer edits the last message sent; Enter resends it.
    qtbot.keyClick(composer, Qt.Key.Key_Up)
    assert tab.composer.editing == question
    assert composer.toPlainText() == "first try"
    qtbot.keyClicks(composer, ", again")
    qtbot.keyClick(composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: first not in tab.view.message_ids(), timeout=WAIT)
    edited, second = tab.view.message_ids()
    assert tab.composer.editing is None
    assert "‹ 2/2 ›" in header_of(tab, edited)
    assert services.manager.live_messages(tab.session_id) == [first, second]
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)
    for reply, prompt in ((first, "first try"), (second, "first try, again")):
        stored = services.chat.message(reply)
        assert stored is not None and stored.status is MessageStatus.COMPLETE
        assert stored.content == demo_reply(prompt, TOKENS)
    qtbot.waitUntil(
        lambda: tab.view.message_text(second) == demo_reply("first try, again", TOKENS),
        timeout=WAIT,
    )
    # The original, one switch away, with its own complete reply.
    qtbot.keyClick(composer, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: tab.view.message_ids() == [question, first], timeout=WAIT)
    assert tab.view.message_text(first) == demo_reply("first try", TOKENS)


def test_switching_between_two_long_branches_keeps_both_views_and_both_live(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    """Two branches of 60+ messages that share nothing (an edited first
    question): the branch left keeps its laid-out view, so switching back is
    a swap, not a new layout; a reply streaming at the end of each branch is
    shown live and whole on each return."""
    demo.defaults = DemoOptions(rate=50, tokens=TOKENS)
    store = services.store
    session = services.chat.create_chat("two long branches")

    def long_path(first: str) -> list[int]:
        ids: list[int] = []
        parent: int | None = None
        for i in range(30):
            text = first if i == 0 else f"Question {i}"
            ids.append(store.add_message(session.id, Role.USER, text, parent_id=parent).id)
            parent = store.add_message(
                session.id, Role.ASSISTANT, f"Answer **{i}**.", parent_id=ids[-1]
            ).id
            ids.append(parent)
        return ids

    top = long_path("The first question")
    edited = long_path("The first question, edited")
    store.set_active_leaf(session.id, top[-1])
    tab = window.open_chat(session.id)
    assert tab is not None
    tab.composer.send_requested.emit("the end of the first branch")
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 62, timeout=WAIT)
    first_reply = tab.view.message_ids()[-1]
    first_view = tab.view

    tab.switch_version(top[0], edited[0])
    qtbot.waitUntil(lambda: tab.view.message_ids()[:1] == [edited[0]], timeout=WAIT)
    assert tab.view is not first_view
    tab.composer.send_requested.emit("the end of the second branch")
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 62, timeout=WAIT)
    second_reply = tab.view.message_ids()[-1]
    second_view = tab.view
    assert services.manager.live_messages(session.id) == [first_reply, second_reply]

    loads = first_view.render_stats.loads
    for _ in range(2):
        tab.switch_version(edited[0], top[0])
        qtbot.waitUntil(lambda: tab.view is first_view, timeout=WAIT)
        assert tab.view.message_ids()[-1] == first_reply
        held = len(first_view.message_text(first_reply))
        qtbot.waitUntil(
            lambda held=held: (
                len(first_view.message_text(first_reply)) > held
                or not services.manager.is_message_live(first_reply)
            ),
            timeout=WAIT,
        )
        tab.switch_version(top[0], edited[0])
        qtbot.waitUntil(lambda: tab.view is second_view, timeout=WAIT)
    assert first_view.render_stats.loads == loads  # swapped in, never laid out anew

    qtbot.waitUntil(lambda: not services.manager.is_live(session.id), timeout=WAIT)
    expected = demo_reply("the end of the second branch", TOKENS)
    qtbot.waitUntil(lambda: second_view.message_text(second_reply) == expected, timeout=WAIT)
    tab.switch_version(edited[0], top[0])
    qtbot.waitUntil(lambda: tab.view is first_view, timeout=WAIT)
    expected = demo_reply("the end of the first branch", TOKENS)
    qtbot.waitUntil(lambda: first_view.message_text(first_reply) == expected, timeout=WAIT)
    assert not tab.composer.is_streaming()
