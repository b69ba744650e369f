"""ChatView and versions (issue 16): the ``‹ 2/3 ›`` switcher in a message's
header, its keys, Edit on a user message, and what a change of versions costs.

Real widgets on the offscreen platform; links are clicked with the real mouse
and reached with the real keyboard.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QPalette, QTextCursor
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.ui.chat_view import ChatView
from desktop.ui.composer import Composer
from desktop.ui.render.document import BLOCK_KIND, BlockKind
from desktop.ui.render.versions import VersionMark, version_mark
from tests.unit.ui.test_chat_view import anchors, assistant, check_regions, click_anchor, user

ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    with qtbot.waitActive(widget, timeout=5000):
        widget.show()
        widget.activateWindow()
    return widget


def chat() -> list[Message]:
    """1 -> 2 -> 4 -> 6 on screen; 2 has versions 2, 3, 5; 4 has 8, 4."""
    return [user(1, "first question"), assistant(2, "an answer"), user(4, "q"), assistant(6, "ok")]


VERSIONS = {1: (1,), 2: (2, 3, 5), 3: (2, 3, 5), 5: (2, 3, 5), 4: (8, 4), 8: (8, 4), 6: (6,)}


def headers(view: ChatView) -> dict[int, str]:
    """Each rendered message's header line, by message id."""
    doc = view.document()
    return {r.message_id: doc.findBlock(r.start).text() for r in view.renderer.regions()}


def focus(qtbot: QtBot, view: ChatView) -> None:
    view.browser.setFocus()
    qtbot.waitUntil(view.browser.hasFocus, timeout=2000)


# ------------------------------------------------------------- the switcher


def test_the_switcher_shows_each_messages_place_among_its_versions(view: ChatView) -> None:
    view.load_transcript(chat())
    view.set_versions(VERSIONS)
    assert headers(view) == {
        1: "You    Copy  ·  Edit",
        2: "Assistant    Copy    ‹ 1/3 ›",
        4: "You    Copy  ·  Edit    ‹ 2/2 ›",
        6: "Assistant    Copy",
    }
    hrefs = anchors(view)
    # The arrows that lead somewhere are links; the ends are not.
    assert [h for h in hrefs if h.startswith("sidestream:version/")] == [
        "sidestream:version/2/3",
        "sidestream:version/4/8",
    ]
    # Edit on the user's messages only.
    assert [h for h in hrefs if h.startswith("sidestream:edit/")] == [
        "sidestream:edit/1",
        "sidestream:edit/4",
    ]
    check_regions(view)


def test_the_arrows_say_what_they_do() -> None:
    mark = version_mark(3, (2, 3, 5))
    assert mark == VersionMark(3, 2, 3, previous=2, next=5)
    assert mark.text == "2/3"
    assert mark.previous_label() == "Previous version (1 of 3)"
    assert mark.next_label() == "Next version (3 of 3)"
    first = version_mark(2, (2, 3, 5))
    assert first is not None and first.previous is None
    assert first.previous_label() == "No earlier version (this is 1 of 3)"
    assert version_mark(2, (2,)) is None
    assert version_mark(9, (2, 3)) is None


def test_the_links_say_what_they_do_on_hover(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript(chat())
    view.set_versions({**VERSIONS, 2: (3, 2, 5)})  # 2 is 2/3: both arrows lead somewhere
    expected = {
        "sidestream:version/2/3": "Previous version (1 of 3)",
        "sidestream:version/2/5": "Next version (3 of 3)",
        "sidestream:version/4/8": "Previous version (1 of 2)",
        "sidestream:edit/1": "Edit this message and send it again (a new version)",
    }
    for href, description in expected.items():
        cursor = QTextCursor(view.document())
        cursor.setPosition(anchors(view)[href][0])
        point = view.browser.cursorRect(cursor).center() + QPoint(1, 0)
        assert view.browser.anchorAt(point) == href
        qtbot.mouseMove(view.browser.viewport(), point)
        qtbot.waitUntil(lambda d=description: view.browser.toolTip() == d, timeout=2000)  # type: ignore[misc]
    assert view.link_description("sidestream:version/2/9") == ""  # not a neighbour
    assert view.link_description("https://example.com") == ""


def test_clicking_the_arrows_asks_for_the_neighbours_and_the_ends_are_inert(
    qtbot: QtBot, view: ChatView
) -> None:
    view.load_transcript(chat())
    view.set_versions({**VERSIONS, 2: (3, 2, 5)})
    with qtbot.waitSignal(view.version_requested) as asked:
        click_anchor(qtbot, view, "sidestream:version/2/3")
    assert asked.args == [2, 3]
    with qtbot.waitSignal(view.version_requested) as asked:
        click_anchor(qtbot, view, "sidestream:version/2/5")
    assert asked.args == [2, 5]

    # Message 4 is 2/2: its "›" is muted text, and a click on it does nothing.
    header = view.document().findBlock(view.renderer.region(4).start)  # type: ignore[union-attr]
    position = header.position() + header.text().index("›")
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    point = view.browser.cursorRect(cursor).center()
    point.setX(point.x() + 2)
    assert view.browser.anchorAt(point) == ""
    with qtbot.assertNotEmitted(view.version_requested):
        qtbot.mouseClick(view.browser.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_a_version_link_that_is_not_a_neighbour_does_nothing(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript(chat())
    view.set_versions(VERSIONS)
    with qtbot.assertNotEmitted(view.version_requested):
        view._on_browser_anchor_clicked(QUrl("sidestream:version/2/5"))  # 2 is 1/3
        view._on_browser_anchor_clicked(QUrl("sidestream:version/6/7"))  # 6 has one
        view._on_browser_anchor_clicked(QUrl("sidestream:version/2"))


def test_version_and_edit_links_in_message_text_are_disarmed(view: ChatView) -> None:
    view.load_transcript(
        [user(1, "[go](sidestream:version/1/2) and [edit](sidestream:edit/1)"), assistant(2, "x")]
    )
    view.set_versions({1: (1, 2)})
    hrefs = anchors(view)
    assert "sidestream:version/1/2" in hrefs  # the header's own arrow
    assert len(hrefs["sidestream:version/1/2"]) == 1
    assert len(hrefs["sidestream:edit/1"]) == 1


# ------------------------------------------------------------------ cost


def test_set_versions_writes_only_the_headers_that_changed(view: ChatView) -> None:
    messages = [
        user(n, f"question {n}") if n % 2 else assistant(n, f"answer {n}") for n in range(1, 1001)
    ]
    view.load_transcript(messages)
    shown = [r.message_id for r in view.renderer.regions()]
    assert view.hidden_count > 0  # a long chat: the older messages wait to be shown
    near, far = shown[-2], shown[0]
    changes: list[tuple[int, int, int]] = []
    view.document().contentsChange.connect(
        lambda at, gone, added: changes.append((at, gone, added))
    )
    stats = view.render_stats

    view.set_versions({near: (near, 5000)})
    assert stats.header_renders == 1
    assert len(changes) == 1
    at, gone, added = changes[0]
    assert at == view.renderer.region(near).start  # type: ignore[union-attr]
    assert added - gone == len("    ‹ 1/2 ›")  # that header's block, nothing else
    check_regions(view)

    # The same versions again: nothing to do.
    changes.clear()
    view.set_versions({near: (near, 5000)})
    assert stats.header_renders == 1 and changes == []

    # Two headers far apart: two small edits, never one spanning the transcript.
    view.set_versions({near: (4000, near, 5000), far: (far, 4001)})
    assert stats.header_renders == 3
    assert len(changes) == 2
    assert all(gone < 80 and added < 80 for _, gone, added in changes)
    assert "‹ 2/3 ›" in headers(view)[near] and "‹ 1/2 ›" in headers(view)[far]
    check_regions(view)

    # A hidden message's switcher is kept, not written, until it is shown.
    hidden = view.message_ids()[0]
    changes.clear()
    view.set_versions({near: (4000, near, 5000), far: (far, 4001), hidden: (4002, hidden)})
    assert stats.header_renders == 3 and changes == []
    while view.hidden_count:
        view.show_earlier()
    assert headers(view)[hidden].endswith("‹ 2/2 ›")
    # Versions left out: the switcher goes.
    view.set_versions({})
    assert not [text for text in headers(view).values() if "‹" in text]
    check_regions(view)


def test_messages_shown_later_take_the_versions_already_set(view: ChatView) -> None:
    view.set_versions(VERSIONS)
    view.load_transcript(chat()[:2])
    assert headers(view)[2].endswith("‹ 1/3 ›")
    view.add_message(user(4, "q"))
    assert headers(view)[4].endswith("‹ 2/2 ›")
    view.remove_message(4)
    view.add_message(user(8, "q, said otherwise"))
    assert headers(view)[8].endswith("‹ 1/2 ›")
    check_regions(view)
    # A new palette renders the transcript anew: the switchers stay.
    palette = QPalette(view.palette())
    palette.setColor(QPalette.ColorRole.Base, Qt.GlobalColor.black)
    palette.setColor(QPalette.ColorRole.Text, Qt.GlobalColor.white)
    view.setPalette(palette)
    assert headers(view)[2].endswith("‹ 1/3 ›")
    assert headers(view)[8].endswith("‹ 1/2 ›")


# -------------------------------------------------------------- keyboard


def test_tab_reaches_the_arrows_and_enter_runs_them(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript(chat())
    view.set_versions(VERSIONS)
    view.browser.setTextCursor(QTextCursor(view.document()))
    focus(qtbot, view)
    href = "sidestream:version/2/3"
    for _ in range(12):
        if view.browser.textCursor().charFormat().anchorHref() == href:
            break
        qtbot.keyClick(view.browser, Qt.Key.Key_Tab)
    assert view.browser.textCursor().selectedText() == "›"
    assert view.browser.accessibleDescription() == "Next version (2 of 3)"
    with qtbot.waitSignal(view.version_requested) as asked:
        qtbot.keyClick(view.browser, Qt.Key.Key_Return)
    assert asked.args == [2, 3]


def test_alt_left_and_right_switch_the_newest_message_with_versions(
    qtbot: QtBot, view: ChatView
) -> None:
    view.load_transcript(chat())
    focus(qtbot, view)
    with qtbot.assertNotEmitted(view.version_requested):  # no versions yet
        qtbot.keyClick(view.browser, Qt.Key.Key_Left, ALT)
        qtbot.keyClick(view.browser, Qt.Key.Key_Right, ALT)
    view.set_versions(VERSIONS)  # the newest with versions: 4, which is 2/2
    with qtbot.waitSignal(view.version_requested) as asked:
        qtbot.keyClick(view.browser, Qt.Key.Key_Left, ALT)
    assert asked.args == [4, 8]
    with qtbot.assertNotEmitted(view.version_requested):  # the end
        qtbot.keyClick(view.browser, Qt.Key.Key_Right, ALT)
    view.set_versions({**VERSIONS, 4: (4, 8)})  # now 1/2
    with qtbot.waitSignal(view.version_requested) as asked:
        qtbot.keyClick(view.browser, Qt.Key.Key_Right, ALT)
    assert asked.args == [4, 8]
    with qtbot.assertNotEmitted(view.version_requested):
        qtbot.keyClick(view.browser, Qt.Key.Key_Left, ALT)


def test_the_keys_work_from_a_widget_the_actions_are_added_to(qtbot: QtBot) -> None:
    """How the tab lets Alt+Left/Right work from the composer too."""
    window = QWidget()
    qtbot.addWidget(window)
    view = ChatView(window)
    composer = Composer(window)
    layout = QVBoxLayout(window)
    layout.addWidget(view)
    layout.addWidget(composer)
    composer.addAction(view.previous_version_action)
    composer.addAction(view.next_version_action)
    window.resize(700, 600)
    with qtbot.waitActive(window, timeout=5000):
        window.show()
        window.activateWindow()
    view.load_transcript(chat())
    view.set_versions(VERSIONS)
    composer.focus_input()
    qtbot.waitUntil(composer.input.hasFocus, timeout=2000)
    with qtbot.waitSignal(view.version_requested) as asked:
        qtbot.keyClick(composer.input, Qt.Key.Key_Left, ALT)
    assert asked.args == [4, 8]
    assert composer.text() == ""


def test_focus_versions_puts_the_keyboard_on_the_switcher(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript(chat())
    view.set_versions({**VERSIONS, 2: (3, 2, 5)})
    assert not view.focus_versions(6)  # one version: no switcher
    assert not view.focus_versions(99)
    assert view.focus_versions(2)
    qtbot.waitUntil(view.browser.hasFocus, timeout=2000)
    cursor = view.browser.textCursor()
    assert cursor.selectedText() == "‹"  # back, by default
    assert cursor.charFormat().anchorHref() == "sidestream:version/2/3"
    # The user goes on (›): the tab shows 5 in 2's place and hands the focus back.
    with qtbot.waitSignal(view.version_requested) as asked:
        qtbot.keyClick(view.browser, Qt.Key.Key_Tab)
        assert view.browser.textCursor().selectedText() == "›"
        qtbot.keyClick(view.browser, Qt.Key.Key_Return)
    assert asked.args == [2, 5]
    view.load_transcript([user(1, "first question"), assistant(5, "another answer")])
    view.set_versions({5: (3, 2, 5)})  # 3/3: "›" is at the end
    assert view.focus_versions(5)
    assert view.browser.textCursor().charFormat().anchorHref() == "sidestream:version/5/2"
    view.set_versions({5: (3, 5, 2)})  # 2/3: the way the user went, again
    assert view.focus_versions(5)
    assert view.browser.textCursor().charFormat().anchorHref() == "sidestream:version/5/2"
    assert view.browser.textCursor().selectedText() == "›"
    with qtbot.waitSignal(view.version_requested) as asked:
        qtbot.keyClick(view.browser, Qt.Key.Key_Return)
    assert asked.args == [5, 2]


def test_focus_versions_shows_an_older_message_first(qtbot: QtBot, view: ChatView) -> None:
    messages = [
        user(n, f"question {n} " * 30) if n % 2 else assistant(n, f"answer {n} " * 30)
        for n in range(1, 601)
    ]
    view.load_transcript(messages)
    oldest = view.message_ids()[0]
    assert view.renderer.region(oldest).in_document is False  # type: ignore[union-attr]
    view.set_versions({oldest: (oldest, 9999)})
    assert view.focus_versions(oldest)
    assert (
        view.browser.textCursor().charFormat().anchorHref() == f"sidestream:version/{oldest}/9999"
    )
    check_regions(view)


# ------------------------------------------------------------------ edit


def test_edit_in_the_header_and_in_the_context_menu(qtbot: QtBot, view: ChatView) -> None:
    view.load_transcript(chat())
    with qtbot.waitSignal(view.edit_requested) as asked:
        click_anchor(qtbot, view, "sidestream:edit/4")
    assert asked.args == [4]

    doc = view.document()
    point = view.browser.cursorRect(doc.find("first question")).center()
    menu = view.context_menu(point)
    actions = {action.text(): action for action in menu.actions() if action.text()}
    assert {"Edit and resend", "Copy message", "Copy selection", "Select all"} <= set(actions)
    with qtbot.waitSignal(view.edit_requested) as asked:
        actions["Edit and resend"].trigger()
    assert asked.args == [1]

    # Over a reply there is nothing to edit.
    point = view.browser.cursorRect(doc.find("an answer")).center()
    texts = [action.text() for action in view.context_menu(point).actions()]
    assert "Edit and resend" not in texts and "Copy message" in texts


def test_headers_are_marked_as_headers(view: ChatView) -> None:
    view.load_transcript(chat())
    view.set_versions(VERSIONS)
    for region in view.renderer.regions():
        block = view.document().findBlock(region.start)
        assert block.blockFormat().property(BLOCK_KIND) == BlockKind.HEADER
