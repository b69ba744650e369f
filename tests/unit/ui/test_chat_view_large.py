"""ChatView with huge messages: Markdown up to a limit, plain text after it,
bounded lines, and a display cap that says what it leaves out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.chat_view import ChatView
from desktop.ui.render.document import (
    DISPLAY_LIMIT,
    MARKDOWN_LIMIT,
    PLAIN_LINE_CHARS,
    wrap_plain,
)
from desktop.ui.render.status import human_size
from tests.unit.ui.test_chat_view import check_regions, lines, plain, stream

S = MessageStatus
PARAGRAPHS = "".join(
    f"Paragraph {n} has **bold** words and `code` in it.\n\n" for n in range(4000)
)  # ~200 KB of Markdown
ONE_LINE = "A single line of text that never ends. " * 20_000  # ~780 KB, no newline


def make_view(qtbot: QtBot) -> ChatView:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    return view


def loaded(qtbot: QtBot, text: str, status: MessageStatus = S.COMPLETE) -> ChatView:
    view = make_view(qtbot)
    view.load_transcript(
        [Message(1, 1, Role.USER, "q", S.COMPLETE), Message(2, 1, Role.ASSISTANT, text, status)]
    )
    return view


def plain_part(view: ChatView, message_id: int = 2) -> list[str]:
    """The lines of the message's plain-text tail, as laid out."""
    region = view.renderer.region(message_id)
    assert region is not None and region.overflow
    doc = view.document()
    block = doc.findBlock(region.done_end + 1)
    out = []
    while block.isValid() and block.position() < region.tail_end:
        out.append(block.text())
        block = block.next()
    return out


def test_a_reply_past_the_markdown_limit_streams_on_as_bounded_plain_lines(
    qtbot: QtBot,
) -> None:
    text = PARAGRAPHS + ONE_LINE
    view = make_view(qtbot)
    view.load_transcript([Message(1, 1, Role.USER, "q", S.COMPLETE)])
    view.add_message(Message(2, 1, Role.ASSISTANT, "", S.STREAMING))
    stats = view.render_stats
    stream(view, 2, text, chunk=7_919)
    region = view.renderer.region(2)
    assert region is not None and region.overflow
    assert view.message_text(2) == text
    # Markdown up to the limit (the last block that fits), plain text after it.
    assert MARKDOWN_LIMIT - 200 < region.plain_from <= MARKDOWN_LIMIT
    assert stats.markdown_chars < MARKDOWN_LIMIT + 20_000
    assert "**bold**" not in plain(view)[: region.done_end]
    tail = plain_part(view)
    assert "".join(tail) == text[region.plain_from :].replace("\n", "")
    assert max(map(len, tail)) <= PLAIN_LINE_CHARS
    check_regions(view)

    # The end re-renders nothing: the overflow stays plain text.
    imported = stats.markdown_chars
    view.set_message_state(2, S.COMPLETE)
    assert stats.markdown_chars == imported
    check_regions(view)
    fresh = loaded(qtbot, text)
    assert lines(fresh) == lines(view)


def test_past_the_display_limit_the_status_line_says_what_is_left_out(
    qtbot: QtBot,
) -> None:
    text = "Intro.\n\n" + ONE_LINE * 2  # ~1.6 MB
    view = make_view(qtbot)
    view.load_transcript([Message(1, 1, Role.USER, "q", S.COMPLETE)])
    view.add_message(Message(2, 1, Role.ASSISTANT, "", S.STREAMING))
    stream(view, 2, text, chunk=250_000)
    region = view.renderer.region(2)
    assert region is not None
    assert region.shown_to == DISPLAY_LIMIT and region.hidden_chars == len(text) - DISPLAY_LIMIT
    note = f"Showing the first {human_size(DISPLAY_LIMIT)} of {human_size(len(text))}"
    assert "streaming…" in plain(view) and note in plain(view)
    assert sum(map(len, plain_part(view))) == DISPLAY_LIMIT - region.plain_from
    view.set_message_state(2, S.COMPLETE)
    assert note in plain(view) and "streaming…" not in plain(view)
    check_regions(view)

    # Copy takes all of it; a fresh load shows the same.
    view.copy_message(2)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == text
    fresh = loaded(qtbot, text)
    assert lines(fresh) == lines(view)


def test_loading_a_ten_megabyte_message_imports_no_more_than_the_limit(qtbot: QtBot) -> None:
    text = "# Title\n\n" + "x" * 10_000_000
    view = loaded(qtbot, text)
    stats = view.render_stats
    assert stats.markdown_chars < MARKDOWN_LIMIT + 100
    assert len(plain(view)) < DISPLAY_LIMIT + 10_000
    assert "of 10.0 MB" in plain(view)
    check_regions(view)


def test_an_oversize_message_brought_in_from_earlier_renders_the_same(qtbot: QtBot) -> None:
    big = PARAGRAPHS + ONE_LINE
    messages = [
        Message(1, 1, Role.USER, "q", S.COMPLETE),
        Message(2, 1, Role.ASSISTANT, big, S.COMPLETE),
    ]
    messages += [Message(n, 1, Role.USER, f"later {n}", S.COMPLETE) for n in range(3, 6)]
    view = make_view(qtbot)
    view.load_transcript(messages)
    while view.hidden_count:
        view.show_earlier()
    check_regions(view)
    assert view.renderer.region(2) is not None
    fresh = make_view(qtbot)
    fresh.renderer.load(messages, window=len(messages))
    fresh._set_document(fresh.renderer.document)
    assert lines(fresh) == lines(view)


@given(
    st.lists(st.text(alphabet="ab\n", max_size=40), max_size=8),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=1, max_value=10),
)
def test_wrap_plain_only_adds_line_breaks_and_bounds_every_line(
    pieces: list[str], column: int, width: int
) -> None:
    out: list[str] = []
    start_column = column
    for piece in pieces:
        wrapped, column = wrap_plain(piece, column, width)
        assert wrapped.replace("\n", "") == piece.replace("\n", "")
        out.append(wrapped)
    joined = "".join(out)
    first, *rest = joined.split("\n")
    assert start_column + len(first) <= max(width, start_column)
    assert all(len(line) <= width for line in rest)
    assert column == len(joined.split("\n")[-1]) + (start_column if "\n" not in joined else 0)


def test_a_view_never_shown_lays_text_out_at_its_own_width(qtbot: QtBot) -> None:
    """Qt holds back a hidden widget's resize events until it is shown; a view
    that follows a chat off screen takes its size before laying text out."""
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(640, 480)  # never shown: the resize event is held back
    view.load_transcript([Message(1, 1, Role.USER, "q", S.COMPLETE)])
    view.add_message(Message(2, 1, Role.ASSISTANT, "", S.STREAMING))
    view.append_text(2, PARAGRAPHS[:5000])
    viewport = view.browser.viewport()
    assert not view.isVisible()
    assert view.document().pageSize().width() == viewport.width() > 500
