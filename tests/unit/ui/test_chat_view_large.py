"""ChatView with huge messages: Markdown up to a limit, plain text after it,
bounded lines, and a display cap that says what it leaves out; tables too
large to lay out shown as text, streamed in row by row."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QGuiApplication, QTextTable
from pytestqt.qtbot import QtBot

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.replies import table_reply
from desktop.ui.chat_view import ChatView
from desktop.ui.render.document import (
    BLOCK_KIND,
    DISPLAY_LIMIT,
    MARKDOWN_LIMIT,
    PLAIN_LINE_CHARS,
    TABLE_TEXT_LABEL,
    TAIL_MARKDOWN_LIMIT,
    WINDOW_CHARS,
    BlockKind,
    wrap_plain,
)
from desktop.ui.render.status import human_size
from desktop.ui.render.tables import (
    CELL_COST_CHARS,
    MESSAGE_TABLE_CELLS,
    TABLE_MAX_CELLS,
    TABLE_MAX_CHARS,
)
from tests.support.view_updates import append_text, set_message_state
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
    set_message_state(view, 2, S.COMPLETE)
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
    set_message_state(view, 2, S.COMPLETE)
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
    append_text(view, 2, PARAGRAPHS[:5000])
    viewport = view.browser.viewport()
    assert not view.isVisible()
    assert view.document().pageSize().width() == viewport.width() > 500


# ------------------------------------------------------------------- big tables
WIDE = table_reply(1, 15_000)  # 90 KB: a header, a delimiter and one row of 30,000 characters
LONG = table_reply(1000, 30)  # 62 KB: 1,000 rows of 30 columns
BIG_TABLES = pytest.mark.parametrize(
    ("text", "note"),
    [
        (WIDE, "A table of 1 row × 15,000 columns is shown as text."),
        (LONG, "A table of 1,000 rows × 30 columns is shown as text."),
    ],
    ids=["wide", "long"],
)


def grid(rows: int, columns: int, cell: str = "x") -> str:
    """A table's source: a header, a delimiter row and ``rows`` rows, no final newline."""
    head = "| " + " | ".join(f"h{c}" for c in range(columns)) + " |\n|" + "---|" * columns
    return head + "".join(
        "\n| " + " | ".join(f"{cell}{r}" for _ in range(columns)) + " |" for r in range(rows)
    )


def laid_out_tables(view: ChatView) -> list[tuple[int, int]]:
    """(rows, columns) of every table Qt lays out in the view's document."""
    found: list[tuple[int, int]] = []
    frames = [view.document().rootFrame()]
    while frames:
        for child in frames.pop().childFrames():
            if isinstance(child, QTextTable):
                found.append((child.rows(), child.columns()))
            frames.append(child)
    return found


def text_tables(view: ChatView) -> list[list[str]]:
    """The lines of each table shown as text, in document order (labels left out)."""
    tables: list[list[str]] = []
    block = view.document().begin()
    while block.isValid():
        if block.blockFormat().property(BLOCK_KIND) == BlockKind.TABLE_TEXT:
            if block.text() == TABLE_TEXT_LABEL:
                tables.append([])
            else:
                tables[-1].append(block.text())
        block = block.next()
    return tables


def streamed(qtbot: QtBot, text: str, chunk: int, per_update: list[tuple[int, int]]) -> ChatView:
    """Stream ``text`` into a fresh view; note (table cells laid out, table
    characters inserted whole) of each update."""
    view = make_view(qtbot)
    view.load_transcript([Message(1, 1, Role.USER, "q", S.COMPLETE)])
    view.add_message(Message(2, 1, Role.ASSISTANT, "", S.STREAMING))
    stats = view.render_stats
    for start in range(0, len(text), chunk):
        cells, chars = stats.table_cells, stats.text_table_chars
        append_text(view, 2, text[start : start + chunk])
        per_update.append((stats.table_cells - cells, stats.text_table_chars - chars))
    return view


@BIG_TABLES
def test_a_huge_table_is_shown_as_text_and_copy_takes_all_of_it(
    qtbot: QtBot, text: str, note: str
) -> None:
    view = loaded(qtbot, text)
    assert laid_out_tables(view) == []
    assert view.render_stats.table_cells == 0
    source = text.split("\n\n")[1]
    (shown,) = text_tables(view)
    assert "".join(shown) == source.replace("\n", "")  # every character, in bounded lines
    assert max(map(len, shown)) <= PLAIN_LINE_CHARS
    assert note in plain(view)
    assert "Here is the table you asked for." in plain(view)
    assert "That is the whole table." in plain(view)
    check_regions(view)
    view.copy_message(2)
    assert QGuiApplication.clipboard().text() == text


@BIG_TABLES
@pytest.mark.parametrize("chunk", [200, 4_999])
def test_a_huge_table_streams_in_by_rows_and_is_never_laid_out_whole(
    qtbot: QtBot, text: str, note: str, chunk: int
) -> None:
    per_update: list[tuple[int, int]] = []
    view = streamed(qtbot, text, chunk, per_update)
    stats = view.render_stats
    # Inserted whole once, when it is recognised (a wide table: once its
    # delimiter row is in); from then on each update appends its rows.
    assert stats.text_tables == 1
    header_and_delimiter = len("\n".join(text.split("\n\n")[1].split("\n")[:2]))
    assert stats.text_table_chars <= header_and_delimiter + TABLE_MAX_CHARS + chunk
    # No update lays out more cells than a table may have.
    assert max(cells for cells, _chars in per_update) <= TABLE_MAX_CELLS
    assert laid_out_tables(view) == []
    assert note in plain(view) and "streaming…" in plain(view)
    # Its end changes nothing: what the tail shows is final.
    set_message_state(view, 2, S.COMPLETE)
    assert stats.text_tables == 1
    assert view.message_text(2) == text
    check_regions(view)
    assert lines(view) == lines(loaded(qtbot, text))


def test_a_growing_table_is_laid_out_within_the_tail_budget_and_once_at_its_end(
    qtbot: QtBot,
) -> None:
    table = grid(36, 5)  # 185 cells: laid out as a table
    text = "Rows:\n\n" + table + "\n\nAfter the table.\n"
    row = len(table.split("\n")[-1]) + 1
    per_update: list[tuple[int, int]] = []
    view = streamed(qtbot, text, row, per_update)
    cells = [cells for cells, _chars in per_update]
    tail_cells = TAIL_MARKDOWN_LIMIT // CELL_COST_CHARS
    # While it grows, an update lays out no more than the tail's budget (and
    # the row that crosses it); then the rows are appended as plain text, and
    # the table is laid out whole once, when the paragraph after it starts.
    assert max(cells[:-3]) <= tail_cells + 5
    assert sum(1 for c in cells if c == 185) == 1
    assert sum(cells) < 185 + tail_cells * 12
    assert laid_out_tables(view) == [(37, 5)]
    set_message_state(view, 2, S.COMPLETE)
    check_regions(view)
    assert lines(view) == lines(loaded(qtbot, text))


def test_opening_a_chat_whose_newest_reply_is_a_huge_table_renders_a_bounded_window(
    qtbot: QtBot,
) -> None:
    messages = []
    for n in range(1, 400, 2):
        messages.append(Message(n, 1, Role.USER, f"Question {n}?", S.COMPLETE))
        messages.append(Message(n + 1, 1, Role.ASSISTANT, f"Answer **{n}**.", S.COMPLETE))
    messages.append(Message(500, 1, Role.USER, "A long table, please.", S.COMPLETE))
    messages.append(Message(501, 1, Role.ASSISTANT, LONG, S.COMPLETE))
    messages.append(Message(502, 1, Role.USER, "And a wide one.", S.COMPLETE))
    messages.append(Message(503, 1, Role.ASSISTANT, WIDE, S.COMPLETE))
    view = make_view(qtbot)
    view.load_transcript(messages)
    stats = view.render_stats
    # The newest exchange only: the long table waits with the older messages.
    assert [r.message_id for r in view.renderer.regions()] == [502, 503]
    assert view.hidden_count == len(messages) - 2
    assert laid_out_tables(view) == []
    assert stats.table_cells == 0
    assert stats.body_rebuilds == 1  # the reply with the table is rendered on its own
    assert [len("".join(t)) for t in text_tables(view)] == [len(WIDE.split("\n\n")[1]) - 2]
    check_regions(view)
    view.show_earlier()
    assert [len("".join(t)) for t in text_tables(view)] == [
        len(LONG.split("\n\n")[1]) - 1001,
        len(WIDE.split("\n\n")[1]) - 2,
    ]
    assert laid_out_tables(view) == []
    check_regions(view)


def test_a_chat_full_of_tables_lays_out_a_window_of_bounded_cells(qtbot: QtBot) -> None:
    table = grid(36, 5)  # 185 cells each, every one laid out as a table
    messages = []
    for n in range(1, 200, 2):
        messages.append(Message(n, 1, Role.USER, f"Table {n}?", S.COMPLETE))
        messages.append(Message(n + 1, 1, Role.ASSISTANT, f"{table}\n\nDone.", S.COMPLETE))
    view = make_view(qtbot)
    view.load_transcript(messages)
    cells = sum(rows * columns for rows, columns in laid_out_tables(view))
    assert 0 < cells <= WINDOW_CHARS // CELL_COST_CHARS + 2 * TABLE_MAX_CELLS
    assert view.hidden_count > 150
    check_regions(view)


STREAMED_TABLES = {
    "mixed": (
        "Intro with **bold**.\n\n"
        + grid(300, 4)
        + "\n\n```python\nx = 1\n```\n\n"
        + grid(2, 25)
        + "\n\n"
        + grid(3, 3)
        + "\n\n> quoted\n\nEnd."
    ),
    "ended by a fence": grid(120, 3) + "\n```py\ncode = 1\n```\n\nAfter.",
    "ended by a heading": grid(120, 3) + "\n## Next\n\nAfter.",
    "indented text right after": grid(120, 3) + "\n\n  indented para\n\nNext.",
    "in a quote": "> Quote:\n>\n> " + grid(120, 3).replace("\n", "\n> ") + "\n\nAfter.",
    "past the message budget": "\n\n".join(grid(36, 5, cell=f"t{n}") for n in range(12)),
    "unfinished last row": "Go:\n\n" + grid(120, 3) + "\n| last | row",
    "a fence as its last line": "Go:\n\n" + grid(120, 3) + "\n```",
}


@pytest.mark.parametrize("name", list(STREAMED_TABLES))
@pytest.mark.parametrize("chunk", [13, 61, 997])
def test_streaming_tables_shows_what_a_fresh_load_shows(
    qtbot: QtBot, name: str, chunk: int
) -> None:
    text = STREAMED_TABLES[name]
    view = streamed(qtbot, text, chunk, [])
    check_regions(view)
    set_message_state(view, 2, S.COMPLETE)
    check_regions(view)
    fresh = loaded(qtbot, text)
    assert lines(view) == lines(fresh)
    assert laid_out_tables(view) == laid_out_tables(fresh)
    assert text_tables(view) == text_tables(fresh)
    assert text_tables(view), "a table is shown as text"
    assert sum(r * c for r, c in laid_out_tables(view)) <= MESSAGE_TABLE_CELLS


def test_the_message_budget_shows_later_tables_as_text(qtbot: QtBot) -> None:
    view = loaded(qtbot, STREAMED_TABLES["past the message budget"])
    assert len(laid_out_tables(view)) == MESSAGE_TABLE_CELLS // 185
    assert len(text_tables(view)) == 12 - MESSAGE_TABLE_CELLS // 185
    assert "tables too large to lay out are shown as text." in plain(view)


def test_a_huge_table_brought_in_from_earlier_renders_the_same(qtbot: QtBot) -> None:
    messages = [
        Message(1, 1, Role.USER, "q", S.COMPLETE),
        Message(2, 1, Role.ASSISTANT, LONG, S.COMPLETE),
    ]
    messages += [Message(n, 1, Role.USER, "later " * 3000, S.COMPLETE) for n in range(3, 12)]
    view = make_view(qtbot)
    view.load_transcript(messages)
    assert view.renderer.region(2) is not None and view.hidden_count
    while view.hidden_count:
        view.show_earlier()
    check_regions(view)
    fresh = make_view(qtbot)
    fresh.renderer.load(messages, window=len(messages))
    fresh._set_document(fresh.renderer.document)
    assert lines(fresh) == lines(view)
    assert laid_out_tables(view) == []
    assert len(text_tables(view)) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(sorted(STREAMED_TABLES)),
    st.lists(st.floats(min_value=0, max_value=1), max_size=60),
    st.booleans(),
)
def test_tables_cut_anywhere_stream_to_what_a_fresh_load_shows(
    qtbot: QtBot, name: str, cuts: list[float], finish: bool
) -> None:
    text = STREAMED_TABLES[name]
    view = make_view(qtbot)
    view.load_transcript([Message(1, 1, Role.USER, "q", S.COMPLETE)])
    view.add_message(Message(2, 1, Role.ASSISTANT, "", S.STREAMING))
    points = sorted({round(cut * len(text)) for cut in cuts} | {0, len(text)})
    for start, end in itertools.pairwise(points):
        append_text(view, 2, text[start:end])
    status = S.COMPLETE if finish else S.STREAMING
    set_message_state(view, 2, status)
    check_regions(view)
    fresh = loaded(qtbot, text, status)
    assert view.message_text(2) == text
    assert lines(view) == lines(fresh)
    assert text_tables(view) == text_tables(fresh)
    assert laid_out_tables(view) == laid_out_tables(fresh)
