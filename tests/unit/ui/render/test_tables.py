"""Where the splitter finds tables, and which of them are laid out as tables (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.core.states import MessageStatus, Role
from desktop.ui.render.blocks import BlockSplitter, TableSpan, find_tables, table_columns
from desktop.ui.render.status import status_line, tables_note
from desktop.ui.render.tables import (
    MESSAGE_TABLE_CELLS,
    TABLE_MAX_CELLS,
    TABLE_MAX_CHARS,
    TABLE_MAX_COLUMNS,
    lays_out,
    plan_tables,
    plan_text,
)

TABLE = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |"


def spans(text: str) -> list[tuple[str, int, int]]:
    """(source, columns, body rows) of each table found."""
    return [(text[t.start : t.end], t.columns, t.rows) for t in find_tables(text)]


def grid(rows: int, columns: int) -> str:
    head = "|" + "h|" * columns + "\n|" + "-|" * columns
    return head + "".join("\n|" + "x|" * columns for _ in range(rows))


# ------------------------------------------------------------------ finding


def test_a_table_spans_its_header_to_its_last_row() -> None:
    text = f"Intro.\n\n{TABLE}\n\nAfter.\n"
    assert spans(text) == [(TABLE, 2, 2)]


@pytest.mark.parametrize(
    ("after", "rows"),
    [
        ("\n\nnext paragraph", 2),
        ("\n```py\nx = 1\n```", 2),  # a fence ends it, as the importer is told
        ("\n## Heading", 2),
        ("\n> quoted", 2),  # so does a change of quote level
        ("\nplain line", 3),  # any other line is one more row
    ],
)
def test_what_ends_a_table(after: str, rows: int) -> None:
    # Whether the last line is finished or not.
    assert [(c, r) for _s, c, r in spans(TABLE + after)] == [(2, rows)]
    assert [(c, r) for _s, c, r in spans(TABLE + after + "\n")] == [(2, rows)]


def test_tables_in_quotes_lists_and_without_outer_pipes() -> None:
    quoted = "> | a | b |\n> |---|---|\n> | 1 | 2 |\nlazy line\n"
    assert spans(quoted) == [("> | a | b |\n> |---|---|\n> | 1 | 2 |", 2, 1)]
    listed = "- item\n\n  | a | b | c |\n  |:--|:-:|--:|\n  | 1 | 2 | 3 |\n"
    assert [(c, r) for _s, c, r in spans(listed)] == [(3, 1)]
    bare = "a | b\n--- | ---\n1 | 2\n"
    assert [(c, r) for _s, c, r in spans(bare)] == [(2, 1)]


def test_no_table_inside_code_after_a_heading_or_without_a_pipe() -> None:
    assert spans("```md\n| a | b |\n|---|---|\n| 1 | 2 |\n```\n") == []
    assert spans("# Title\n|---|---|\n| 1 | 2 |\n") == []
    assert spans("Title\n---\n\ntext\n") == []  # a setext heading, not a table
    assert spans("| a | b |\n\n|---|---|\n") == []  # the header must be right above


def test_delimiter_rows() -> None:
    assert table_columns("|---|:--:|--:|") == 3
    assert table_columns("|-|-|") == 2
    assert table_columns("> | --- | --- |") == 2
    assert table_columns("---") == 0
    assert table_columns("| a | b |") == 0
    assert table_columns("|---|x|") == 0


def test_the_last_table_is_open_and_counts_its_unfinished_row() -> None:
    splitter = BlockSplitter()
    splitter.feed("| a | b |\n|---|---|\n| 1 |")
    (table,) = splitter.tables_in(0)
    assert table.open and table.rows == 1 and table.end == len("| a | b |\n|---|---|\n| 1 |")
    splitter.feed(" 2 |\n")
    (table,) = splitter.tables_in(0)
    assert table.open and table.rows == 1
    assert table.end == len("| a | b |\n|---|---|\n| 1 | 2 |")
    splitter.feed("\nNext")
    (table,) = splitter.tables_in(0)
    assert not table.open and table.rows == 1


def test_tables_in_a_range() -> None:
    text = f"{TABLE}\n\nmiddle\n\n{TABLE}\n\nend"
    splitter = BlockSplitter()
    splitter.feed(text)
    first, second = splitter.tables_in(0)
    assert splitter.tables_in(0, first.end) == [first]
    assert splitter.tables_in(first.start + 1) == [second]
    assert splitter.tables_in(second.end) == []


PIECES = [
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
    "|-|",
    "x",
    "\n",
    "\n\n",
    "> ",
    "  ",
    "```",
    "# ",
    "\r\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=50).map("".join),
    st.integers(min_value=1, max_value=9),
)
def test_feeding_in_chunks_finds_the_same_tables_as_at_once(text: str, chunk: int) -> None:
    splitter = BlockSplitter()
    for start in range(0, len(text), chunk):
        splitter.feed(text[start : start + chunk])
    assert splitter.tables_in(0) == find_tables(text)
    for table in find_tables(text):
        assert 0 <= table.start < table.end <= len(text) and table.columns > 0


# ------------------------------------------------------------------ deciding


def test_caps_on_columns_cells_and_characters() -> None:
    assert lays_out(TableSpan(0, 100, TABLE_MAX_COLUMNS, 3), MESSAGE_TABLE_CELLS)
    assert not lays_out(TableSpan(0, 100, TABLE_MAX_COLUMNS + 1, 1), MESSAGE_TABLE_CELLS)
    rows = TABLE_MAX_CELLS // 4 - 1
    assert lays_out(TableSpan(0, 100, 4, rows), MESSAGE_TABLE_CELLS)
    assert not lays_out(TableSpan(0, 100, 4, rows + 1), MESSAGE_TABLE_CELLS)
    assert not lays_out(TableSpan(0, TABLE_MAX_CHARS + 1, 2, 3), MESSAGE_TABLE_CELLS)
    assert not lays_out(TableSpan(0, 100, 2, 3), 7)  # the message's budget is spent


def test_the_reported_tables_are_shown_as_text() -> None:
    wide = grid(1, 15_000)
    long = grid(1000, 30)
    assert 89_000 < len(wide) < 91_000 and 60_000 < len(long) < 64_000
    for text, rows, columns in ((wide, 1, 15_000), (long, 1000, 30)):
        plan = plan_text(f"Here.\n\n{text}\n\nDone.")
        assert plan.cells == 0
        assert [(t.rows, t.columns) for t in plan.as_text] == [(rows, columns)]


def test_a_message_budget_is_spent_table_by_table_in_order() -> None:
    small = TableSpan(0, 100, 10, 9)  # 100 cells
    tables = [small] * (MESSAGE_TABLE_CELLS // 100 + 2)
    plan = plan_tables(tables, MESSAGE_TABLE_CELLS)
    assert plan.cells == MESSAGE_TABLE_CELLS
    assert len(plan.as_text) == 2
    assert plan.cost > 0 and plan_tables([], MESSAGE_TABLE_CELLS).cost == 0


@given(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=40))
def test_a_growing_table_never_goes_back_to_being_laid_out(rows: int, columns: int) -> None:
    table = TableSpan(0, rows * columns * 3, columns, rows)
    bigger = TableSpan(0, (rows + 1) * columns * 3, columns, rows + 1)
    if not lays_out(table, MESSAGE_TABLE_CELLS):
        assert not lays_out(bigger, MESSAGE_TABLE_CELLS)


# ---------------------------------------------------------------- the status line


def test_the_status_line_says_which_tables_are_shown_as_text() -> None:
    assert tables_note([(1000, 30)]) == "A table of 1,000 rows × 30 columns is shown as text."
    assert tables_note([(1, 15_000)]) == "A table of 1 row × 15,000 columns is shown as text."
    assert tables_note([(1, 2), (3, 4)]) == "2 tables too large to lay out are shown as text."
    line = status_line(
        7, Role.ASSISTANT, MessageStatus.STREAMING, None, None,
        last_assistant=True, text_tables=[(1000, 30)],
    )  # fmt: skip
    assert line.text == "streaming…  A table of 1,000 rows × 30 columns is shown as text."
    line = status_line(
        7, Role.ASSISTANT, MessageStatus.COMPLETE, None, None,
        last_assistant=True, text_tables=[(2, 40)], hidden_chars=10, total_chars=2_000_000,
    )  # fmt: skip
    assert line.text.startswith("A table of 2 rows × 40 columns is shown as text.  Showing")
    assert [label for label, _href in line.actions] == ["Retry"]
