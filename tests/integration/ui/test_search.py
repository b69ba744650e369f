"""Full-text search in the real window (issue 17): the sidebar finds messages
and opens a chat at one, highlighted; the in-chat find bar counts and steps
through matches; a reply keeps streaming under the highlights."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.core.search import find_matches, split_marked
from desktop.core.states import Role
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.ui.main_window import MainWindow
from desktop.ui.search_results import snippet_layout

WAIT = 15_000
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def window(qtbot: QtBot, services: Services) -> Iterator[MainWindow]:
    """The window as the app builds it, search included."""
    win = MainWindow(
        services.chat,
        services.settings,
        demo_only=services.demo_only,
        presets=services.presets,
        imports=services.imports,
        search=services.search,
    )
    qtbot.addWidget(win)
    win.allow_close = True
    win.show()
    qtbot.waitExposed(win)
    yield win


def press(qtbot: QtBot, window: MainWindow, key: Qt.Key, modifiers: object = CTRL) -> None:
    target = window.focusWidget() or window
    qtbot.keyClick(target, key, modifiers)  # type: ignore[arg-type]


def seed(services: Services) -> tuple[int, int]:
    """Two chats; returns (the chat, the message) about the lighthouse."""
    store = services.store
    other = store.create_session("Baking")
    store.add_message(other.id, Role.USER, "Bread needs flour, water and time.")
    chat = store.create_session("Coast trip")
    store.add_message(chat.id, Role.USER, "Where should we stop on the way?")
    store.add_message(chat.id, Role.ASSISTANT, "Stop at the harbour for lunch.")
    found = store.add_message(
        chat.id, Role.USER, "Is the Lighthouse open? I read lighthouses close in winter."
    )
    store.add_message(chat.id, Role.ASSISTANT, "The old lighthouse opens at ten.")
    return chat.id, found.id


def highlighted(window: MainWindow, session_id: int) -> list[str]:
    tab = window.tab_for(session_id)
    assert tab is not None
    selections = tab.view.browser.extraSelections()
    return [s.cursor.selectedText() for s in selections]


def test_typing_in_the_sidebar_shows_message_hits_and_enter_opens_the_chat_at_one(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    session_id, message_id = seed(services)
    press(qtbot, window, Qt.Key.Key_F)
    assert window.sidebar.search.hasFocus()
    qtbot.keyClicks(window.sidebar.search, "lightho")
    results = window.sidebar.results
    qtbot.waitUntil(lambda: results.model_.rowCount() == 2, timeout=WAIT)
    assert results.isVisible() and window.sidebar.results_label.text() == "Messages (2)"
    hits = results.model_.hits()
    assert {hit.session_id for hit in hits} == {session_id}
    first_text, ranges = split_marked(hits[0].snippet)
    assert ranges and all(first_text[a:b].lower().startswith("lightho") for a, b in ranges)
    # The snippet is laid out as plain text, its matches as formats.
    layout = snippet_layout(hits[0].snippet, window.font(), 200)
    assert layout.text() == first_text
    assert [(f.start, f.start + f.length) for f in layout.formats()] == ranges

    # No title matches, so Down goes to the hits; Enter opens the chat there.
    target = next(i for i, hit in enumerate(hits) if hit.message_id == message_id)
    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Down)
    assert results.hasFocus()
    for _ in range(target):
        qtbot.keyClick(results, Qt.Key.Key_Down)
    qtbot.keyClick(results, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.tab_for(session_id) is not None, timeout=WAIT)
    tab = window.tab_for(session_id)
    assert tab is not None and window.current_tab() is tab
    view = tab.view
    qtbot.waitUntil(lambda: len(highlighted(window, session_id)) == 3, timeout=WAIT)
    assert highlighted(window, session_id) == ["Lighthouse", "lighthouses", "lighthouse"]
    current, total = view.find_status
    assert (total, view.matches()[current].message_id) == (3, message_id)
    assert view.find_bar.isVisible() and view.find_bar.count.text() == "1 of 3"
    assert not view.following  # scrolled to the message, not pinned to the end
    # The document's text is untouched by the highlights.
    assert "Lighthouse" in view.document().toPlainText()

    # F3 / Shift+F3 step through the chat's matches, round the end.
    press(qtbot, window, Qt.Key.Key_F3, NONE)
    assert view.find_status == (1, 3) and view.find_bar.count.text() == "2 of 3"
    press(qtbot, window, Qt.Key.Key_F3, NONE)
    press(qtbot, window, Qt.Key.Key_F3, NONE)
    assert view.find_status == (0, 3)
    press(qtbot, window, Qt.Key.Key_F3, SHIFT)
    assert view.find_status == (2, 3) and view.find_bar.count.text() == "3 of 3"


def test_a_search_finding_no_message_says_so(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    seed(services)
    window.sidebar.focus_search()
    qtbot.keyClicks(window.sidebar.search, "zebra")
    label = window.sidebar.results_label
    qtbot.waitUntil(lambda: label.text() == "No messages match “zebra”", timeout=WAIT)
    # Hostile text is words or nothing, never an error.
    for text in ['"', "NEAR(", "col:", "-", "*", "AND"]:
        window.sidebar.search.setText(text)
        assert "Could not" not in label.text()
    window.sidebar.search.clear()
    assert not window.sidebar.results.isVisible()


def test_ctrl_shift_f_finds_in_the_chat_counts_and_esc_closes(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    session_id, _ = seed(services)
    tab = window.open_chat(session_id)
    assert tab is not None
    press(qtbot, window, Qt.Key.Key_F, CTRL | SHIFT)
    bar = tab.view.find_bar
    qtbot.waitUntil(lambda: bar.field.hasFocus(), timeout=WAIT)
    qtbot.keyClicks(bar.field, "stop")
    assert bar.count.text() == "1 of 2"
    assert highlighted(window, session_id) == ["stop", "Stop"]
    qtbot.keyClick(bar.field, Qt.Key.Key_Return)
    assert bar.count.text() == "2 of 2"
    qtbot.keyClick(bar.field, Qt.Key.Key_Return, SHIFT)
    assert bar.count.text() == "1 of 2"
    bar.field.clear()
    qtbot.keyClicks(bar.field, "nothinghere")
    assert bar.count.text() == "No matches" and highlighted(window, session_id) == []
    bar.field.clear()
    qtbot.keyClicks(bar.field, "harb")
    assert highlighted(window, session_id) == ["harbour"]
    # Esc closes the bar and clears the highlights; it stops nothing.
    qtbot.keyClick(bar.field, Qt.Key.Key_Escape)
    assert not bar.isVisible() and highlighted(window, session_id) == []


def test_a_reply_keeps_streaming_under_the_highlights(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=120, tokens=300)
    tab = window.new_chat()
    assert tab is not None
    tab.composer.focus_input()
    tab.composer.input.setPlainText("every word please")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: services.manager.is_live(tab.session_id), timeout=WAIT)
    view = tab.view
    reply = [m.id for m in services.chat.messages(tab.session_id) if m.role is Role.ASSISTANT][-1]
    view.open_find_bar()
    qtbot.keyClicks(view.find_bar.field, "every")
    first_count = view.find_status[1]
    assert first_count >= 1  # the question's own "every"
    grown_from = len(view.message_text(reply))
    # The reply grows in the view while the highlights are there, and the
    # new text's matches are highlighted too.
    qtbot.waitUntil(lambda: len(view.message_text(reply)) > grown_from + 200, timeout=WAIT)
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)
    expected = demo_reply("every word please", 300)
    qtbot.waitUntil(lambda: view.message_text(reply) == expected, timeout=WAIT)
    expected_count = 1 + len(find_matches(expected, ["every"]))
    assert expected_count > first_count

    def all_matches_highlighted() -> bool:
        # A re-rendered block is searched again within FIND_REFRESH_MS.
        texts = highlighted(window, tab.session_id)
        return len(texts) == expected_count and all(t.lower().startswith("every") for t in texts)

    qtbot.waitUntil(all_matches_highlighted, timeout=WAIT)
    assert view.find_status[1] == expected_count
    # Once it has ended, the reply is in the index too.
    assert reply in services.search.search_chat(tab.session_id, "every")


def test_a_hit_on_a_version_not_shown_opens_the_chat_and_says_so(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    store = services.store
    chat = store.create_session("Versions")
    question = store.add_message(chat.id, Role.USER, "Tell me about penguins")
    hidden = store.add_message(chat.id, Role.ASSISTANT, "An old answer about walruses.")
    store.add_message(chat.id, Role.ASSISTANT, "A new answer.", parent_id=question.id)
    window.sidebar.focus_search()
    qtbot.keyClicks(window.sidebar.search, "walrus")
    qtbot.waitUntil(lambda: window.sidebar.results.model_.rowCount() == 1, timeout=WAIT)
    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.tab_for(chat.id) is not None, timeout=WAIT)
    tab = window.tab_for(chat.id)
    assert tab is not None and hidden.id not in tab.view.message_ids()
    assert "another version" in window.statusBar().currentMessage()
    assert tab.view.find_bar.count.text() == "No matches"
