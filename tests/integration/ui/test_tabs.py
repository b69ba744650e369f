"""Tabs that detach and reattach live: the real window, services and demo server.

The chats use the built-in demo provider (OpenAI Responses dialect on the demo
server), whose replies are deterministic: ``demo_reply(prompt, tokens)``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.store import Store
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.render.document import DISPLAY_LIMIT
from tests.support.aio import run_on_qloop
from tests.support.services import services_on
from tests.unit.ui.test_chat_view import anchors, click_anchor

WAIT = 15_000


def send(qtbot: QtBot, tab: ChatTab, text: str) -> None:
    """Type into the composer and press Enter, as a person does."""
    tab.composer.focus_input()
    tab.composer.input.setPlainText(text)
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)


def reply_id(services: Services, session_id: int) -> int:
    messages = services.chat.messages(session_id)
    return [m.id for m in messages if m.role is Role.ASSISTANT][-1]


def live_text(services: Services, session_id: int) -> str:
    snapshot = services.manager.snapshot(session_id)
    return snapshot.text if snapshot else ""


def start_chat(qtbot: QtBot, window: MainWindow, services: Services, prompt: str) -> ChatTab:
    tab = window.new_chat()
    assert tab is not None
    send(qtbot, tab, prompt)
    qtbot.waitUntil(lambda: services.manager.is_live(tab.session_id), timeout=WAIT)
    return tab


def test_a_b_a_shows_live_text_on_return_and_keeps_growing(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=150, tokens=400)
    a = start_chat(qtbot, window, services, "chat A")
    qtbot.waitUntil(lambda: window.windowTitle() == "Sidestream — chat A", timeout=WAIT)
    qtbot.waitUntil(lambda: len(live_text(services, a.session_id)) > 30, timeout=WAIT)
    b = window.new_chat()
    assert b is not None and window.current_tab() is b
    assert not a.feed.attached  # off screen, yet the stream goes on
    assert a.feed.following and services.manager.on_screen_count() == 1  # B only
    updates_from = a.feed.updates
    grown_from = len(live_text(services, a.session_id))
    qtbot.waitUntil(lambda: len(live_text(services, a.session_id)) > grown_from + 100, timeout=WAIT)
    # Off screen the view follows at the background pace: an update a second.
    assert a.feed.updates - updates_from <= 2

    window.open_chat(a.session_id)
    mid = reply_id(services, a.session_id)
    # One frame later the view holds everything streamed so far...
    qtbot.waitUntil(
        lambda: len(a.view.message_text(mid)) >= len(live_text(services, a.session_id)) - 60,
        timeout=1000,
    )
    shown = a.view.message_text(mid)
    assert live_text(services, a.session_id).startswith(shown)
    # ...and keeps growing, live.
    qtbot.waitUntil(lambda: len(a.view.message_text(mid)) > len(shown) + 50, timeout=WAIT)
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=WAIT)
    qtbot.waitUntil(lambda: a.view.message_text(mid) == demo_reply("chat A", 400), timeout=WAIT)


def test_rapid_switching_neither_duplicates_nor_loses_text(
    qtbot: QtBot, qapp: QApplication, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=200, tokens=300)
    a = start_chat(qtbot, window, services, "rapid A")
    b = start_chat(qtbot, window, services, "rapid B")
    for i in range(40):  # tens of switches within a second
        window.open_chat(a.session_id if i % 2 == 0 else b.session_id)
        qapp.processEvents()
        qtbot.wait(10)
        # One subscription per tab; only the tab shown counts as on screen.
        assert services.manager.listener_count() == 2
        assert services.manager.on_screen_count() == 1
        assert a.feed.attached != b.feed.attached
    window.open_chat(a.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=WAIT)
    qtbot.waitUntil(lambda: not services.manager.is_live(b.session_id), timeout=WAIT)
    mid_a = reply_id(services, a.session_id)
    qtbot.waitUntil(lambda: a.view.message_text(mid_a) == demo_reply("rapid A", 300), timeout=WAIT)
    window.open_chat(b.session_id)
    mid_b = reply_id(services, b.session_id)
    qtbot.waitUntil(lambda: b.view.message_text(mid_b) == demo_reply("rapid B", 300), timeout=WAIT)
    assert services.manager.listener_count() == 2
    assert services.manager.on_screen_count() == 1


def test_reply_that_finishes_while_away_is_complete_on_return(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=300, tokens=150)
    a = start_chat(qtbot, window, services, "finish away")
    window.new_chat()
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=WAIT)
    window.open_chat(a.session_id)
    mid = reply_id(services, a.session_id)
    qtbot.waitUntil(
        lambda: a.view.message_text(mid) == demo_reply("finish away", 150), timeout=2000
    )
    message = services.chat.message(mid)
    assert message is not None and message.status is MessageStatus.COMPLETE


def test_a_tab_left_at_once_follows_in_the_background_laid_out_at_its_width(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=400, tokens=600)
    a = window.new_chat()
    window.new_chat()  # A is left at once
    assert a is not None
    a.composer.send_requested.emit("left at once")
    qtbot.waitUntil(lambda: services.manager.is_live(a.session_id), timeout=WAIT)
    mid = reply_id(services, a.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=WAIT)
    # Off screen, A's view got the whole reply and its end, before any return...
    qtbot.waitUntil(
        lambda: a.view.message_text(mid) == demo_reply("left at once", 600), timeout=5000
    )
    region = a.view.renderer.region(mid)
    qtbot.waitUntil(lambda: region is not None and region.status is MessageStatus.COMPLETE)
    assert not a.isVisible()
    # ...laid out at the width it will be shown at, so the return lays out nothing.
    viewport = a.view.browser.viewport()
    assert a.view.document().pageSize().width() == viewport.width() > 300
    updates = a.view.update_count
    window.open_chat(a.session_id)
    assert a.view.document().pageSize().width() == viewport.width()
    assert a.view.update_count == updates


def test_a_ten_megabyte_event_on_screen_arrives_in_slices_and_is_shown_capped(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(big_event=10_000_000, tokens=30, rate=300)
    a = window.new_chat()
    assert a is not None
    sizes: list[int] = []
    a.feed.updated.connect(lambda update: sizes.append(len(update.text)))
    send(qtbot, a, "huge")
    qtbot.waitUntil(lambda: services.manager.is_live(a.session_id), timeout=WAIT)
    mid = reply_id(services, a.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=60_000)
    message = services.chat.message(mid)
    assert message is not None and message.status is MessageStatus.COMPLETE
    assert len(message.content) > 10_000_000

    def shown() -> bool:
        region = a.view.renderer.region(mid)
        return region is not None and region.status is MessageStatus.COMPLETE

    qtbot.waitUntil(shown, timeout=60_000)
    assert a.view.message_text(mid) == message.content
    region = a.view.renderer.region(mid)
    assert region is not None and region.overflow and region.shown_to == DISPLAY_LIMIT
    assert "Showing the first 1.0 MB of 10.0 MB" in a.view.document().toPlainText()
    # The view got the event a budget at a time, never the 10 MB in one go.
    assert sum(sizes) >= 10_000_000 and max(sizes) < 5_000_000, sizes


def test_sixth_stream_evicts_oldest_hidden_chat_which_can_continue_and_retry(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=40, tokens=2000)
    tabs = [start_chat(qtbot, window, services, f"evict {i}") for i in range(6)]
    victim = tabs[0]
    qtbot.waitUntil(lambda: not services.manager.is_live(victim.session_id), timeout=WAIT)
    assert services.manager.live_count() == 5
    mid = reply_id(services, victim.session_id)

    def settled() -> bool:
        message = services.chat.message(mid)
        return message is not None and message.status.is_terminal

    qtbot.waitUntil(settled, timeout=WAIT)
    message = services.chat.message(mid)
    assert message is not None
    assert message.status is MessageStatus.INTERRUPTED
    assert message.reason == InterruptReason.EVICTED.value
    partial = message.content
    assert partial

    # Make room (a chat on screen is never evicted), then Continue on the victim.
    for tab in tabs[1:]:
        services.manager.stop(tab.session_id)
    qtbot.waitUntil(lambda: services.manager.live_count() == 0, timeout=WAIT)
    window.open_chat(victim.session_id)
    qtbot.waitUntil(lambda: victim.view.message_text(mid) == partial, timeout=WAIT)
    demo.defaults = DemoOptions(rate=0, tokens=40)
    victim.view.continue_requested.emit(mid)

    def continued_to_the_end() -> bool:
        # Not "live, then not live": 40 unpaced tokens can come and go between two polls.
        message = services.chat.message(mid)
        return (
            message is not None
            and message.status is MessageStatus.COMPLETE
            and not services.manager.is_live(victim.session_id)
        )

    qtbot.waitUntil(continued_to_the_end, timeout=WAIT)
    continued = services.chat.message(mid)
    assert continued is not None and continued.status is MessageStatus.COMPLETE
    assert continued.content.startswith(partial) and len(continued.content) > len(partial)
    qtbot.waitUntil(lambda: victim.view.message_text(mid) == continued.content, timeout=WAIT)

    victim.view.retry_requested.emit(mid)

    def retried_to_the_end() -> bool:
        # A new version of the reply, on the path the chat shows; the old one stays.
        replies = [m for m in services.chat.messages(victim.session_id) if m.role is Role.ASSISTANT]
        return (
            bool(replies) and replies[-1].id != mid and replies[-1].status is MessageStatus.COMPLETE
        )

    qtbot.waitUntil(retried_to_the_end, timeout=WAIT)
    new_mid = reply_id(services, victim.session_id)
    assert services.chat.message(mid) is not None
    assert services.chat.versions(victim.session_id)[new_mid] == (mid, new_mid)
    qtbot.waitUntil(lambda: mid not in victim.view.message_ids(), timeout=WAIT)
    qtbot.waitUntil(
        lambda: victim.view.message_text(new_mid) == demo_reply("evict 0", 40), timeout=WAIT
    )


def test_stop_works_on_a_reattached_stream_and_closing_a_tab_does_not_stop(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=60, tokens=2000)
    a = start_chat(qtbot, window, services, "stop after return")
    b = start_chat(qtbot, window, services, "closed tab keeps going")
    window.open_chat(a.session_id)  # reattach A
    assert a.composer.is_streaming()
    qtbot.keyClick(a.composer.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=WAIT)
    mid_a = reply_id(services, a.session_id)
    stopped = services.chat.message(mid_a)
    assert stopped is not None and stopped.status is MessageStatus.STOPPED
    qtbot.waitUntil(lambda: not a.composer.is_streaming(), timeout=WAIT)

    window.close_current_tab()  # A's tab
    index = window.tabs.indexOf(b)
    window.tabs.tabCloseRequested.emit(index)
    assert window.tab_for(b.session_id) is None
    before = len(live_text(services, b.session_id))
    qtbot.waitUntil(lambda: len(live_text(services, b.session_id)) > before + 20, timeout=WAIT)
    assert services.manager.is_live(b.session_id)
    reopened = window.open_chat(b.session_id)
    assert reopened is not None
    mid_b = reply_id(services, b.session_id)
    qtbot.waitUntil(lambda: len(reopened.view.message_text(mid_b)) >= before + 20, timeout=WAIT)


def test_remote_image_in_a_reply_is_never_fetched(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    tab = window.new_chat()
    assert tab is not None
    session_id = tab.session_id
    image = f"{demo.url}/images/tracker.png"
    text = f"Here is a picture:\n\n![tracker]({image})\n\nand [a link]({demo.url}/page)."
    message = services.store.add_message(session_id, Role.ASSISTANT, text)
    window.close_current_tab()
    reopened = window.open_chat(session_id)
    assert reopened is not None
    qtbot.waitUntil(lambda: message.id in reopened.view.message_ids(), timeout=WAIT)
    # Painting loads a document's images synchronously (loadResource), so
    # after a grab any fetch would already have been attempted.
    reopened.view.grab()
    assert not [r for r in demo.requests if "/images/" in r.path or r.path == "/page"]


def test_chat_reopened_after_restart_shows_history_and_its_resumed_stream_goes_live(
    qtbot: QtBot, demo: DemoServer, tmp_path: Path, qloop: object, memory_keyring: object
) -> None:
    demo.defaults = DemoOptions(rate=100, tokens=600)
    first = services_on(demo, Store.open(tmp_path / "data"))
    session = first.chat.create_chat()
    run_on_qloop(first.chat.send(session.id, "before the crash"))
    qtbot.waitUntil(lambda: len(live_text(first, session.id)) > 60, timeout=WAIT)
    run_on_qloop(first.manager.flush_now())
    # As after a crash: the reply stays `streaming` on disk with its cursor.
    run_on_qloop(first.aclose(interrupt=False))

    second = services_on(demo, Store.open(tmp_path / "data"))
    try:
        report = run_on_qloop(second.recover())
        assert len(report.resumed) == 1
        win = MainWindow(second.chat, second.settings)
        qtbot.addWidget(win)
        win.allow_close = True
        win.show()
        tab = win.open_chat(session.id)
        assert tab is not None
        mid = reply_id(second, session.id)
        user_turns = [m for m in second.chat.messages(session.id) if m.role is Role.USER]
        assert [m.content for m in user_turns] == ["before the crash"]
        qtbot.waitUntil(lambda: len(tab.view.message_text(mid)) > 60, timeout=WAIT)
        shown = len(tab.view.message_text(mid))
        qtbot.waitUntil(lambda: len(tab.view.message_text(mid)) > shown + 40, timeout=WAIT)
        qtbot.waitUntil(lambda: not second.manager.is_live(session.id), timeout=WAIT)
        expected = demo_reply("before the crash", 600)
        qtbot.waitUntil(lambda: tab.view.message_text(mid) == expected, timeout=WAIT)
    finally:
        run_on_qloop(second.aclose())


def test_retry_on_the_newest_reply_replaces_it_on_screen_with_the_whole_new_text(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    """A Retry deletes the newest reply and adds a new one. When SQLite handed the
    deleted id out again, the tab took the new reply for the old one: the new
    text streamed in after the old, and its last characters were missing."""
    demo.defaults = DemoOptions(rate=0, tokens=60)
    tab = start_chat(qtbot, window, services, "retry me")
    old = reply_id(services, tab.session_id)
    full = demo_reply("retry me", 60)

    def complete(mid: int) -> bool:
        message = services.chat.message(mid)
        return message is not None and message.status is MessageStatus.COMPLETE

    qtbot.waitUntil(lambda: complete(old), timeout=WAIT)
    qtbot.waitUntil(lambda: tab.view.message_text(old) == full, timeout=WAIT)
    retry = f"sidestream:retry/{old}"
    qtbot.waitUntil(lambda: retry in anchors(tab.view), timeout=WAIT)
    click_anchor(qtbot, tab.view, retry)  # the reply's own Retry, as a person clicks it

    def replaced() -> bool:
        replies = [m for m in services.chat.messages(tab.session_id) if m.role is Role.ASSISTANT]
        return len(replies) == 1 and replies[0].id != old and complete(replies[0].id)

    qtbot.waitUntil(replaced, timeout=WAIT)
    new = reply_id(services, tab.session_id)
    qtbot.waitUntil(
        lambda: tab.view.message_ids() == [tab.view.message_ids()[0], new], timeout=WAIT
    )
    qtbot.waitUntil(lambda: tab.view.message_text(new) == full, timeout=WAIT)
    ending = full.rstrip().splitlines()[-1][-40:]  # plain prose, as rendered
    assert tab.view.document().toPlainText().count(ending) == 1, "old text left on screen"


def test_ctrl_r_regenerates_the_newest_reply_and_says_why_when_it_cannot(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=100, tokens=300)
    tab = start_chat(qtbot, window, services, "regenerate me")
    errors: list[str] = []
    tab.error_raised.connect(errors.append)
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert errors == ["A reply is still streaming in this chat: stop it first."]
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Escape)
    old = reply_id(services, tab.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)

    demo.defaults = DemoOptions(rate=0, tokens=60)
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)

    def regenerated() -> bool:
        replies = [m for m in services.chat.messages(tab.session_id) if m.role is Role.ASSISTANT]
        return [m.id == old for m in replies] == [False] and (
            replies[0].status is MessageStatus.COMPLETE
        )

    qtbot.waitUntil(regenerated, timeout=WAIT)
    new = reply_id(services, tab.session_id)
    qtbot.waitUntil(
        lambda: tab.view.message_text(new) == demo_reply("regenerate me", 60), timeout=WAIT
    )
