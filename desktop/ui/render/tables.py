"""Which tables the transcript lays out as tables, and which it shows as text (pure).

Qt lays a table out cell by cell, and again whenever anything in it changes
or the view's width does. Measured here (PySide 6.11, offscreen, 900 px):
about 100-150 µs per cell for import plus layout, 180 µs and more once a
table has hundreds of columns, against about 1 µs per character of prose. A
15,000-column table took 8.2 s to open and 2.4 s per resize; a 1,000-row
table of 30 columns 7.0 s and 1.6 s. So a table is laid out as a table only
while that stays within the cost of an ordinary update:

- at most ``TABLE_MAX_COLUMNS`` columns (more do not fit a chat column
  either), ``TABLE_MAX_CELLS`` cells and ``TABLE_MAX_CHARS`` characters:
  about 25 ms of layout at most, once, when the table is finished;
- at most ``MESSAGE_TABLE_CELLS`` cells in all of one message's tables
  (about 0.25 s, the same order as the Markdown limit of a message).

Any other table is shown as its Markdown source in monospace lines, under a
label, and the status line says so; Copy still takes the whole message.
Decisions are made table by table in text order, so they depend only on the
text: streaming a reply and loading it decide alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.ui.render.blocks import TableSpan, find_tables

__all__ = [
    "CELL_COST_CHARS",
    "MESSAGE_TABLE_CELLS",
    "TABLE_MAX_CELLS",
    "TABLE_MAX_CHARS",
    "TABLE_MAX_COLUMNS",
    "TablePlan",
    "lays_out",
    "plan_tables",
    "plan_text",
]

TABLE_MAX_COLUMNS = 20
TABLE_MAX_CELLS = 200
TABLE_MAX_CHARS = 6_000
MESSAGE_TABLE_CELLS = 2_000
# What one laid-out cell costs, in characters of Markdown (~130 µs against
# the ~3.5 µs per character the render budgets are stated in).
CELL_COST_CHARS = 40


@dataclass(frozen=True, slots=True)
class TablePlan:
    """How the tables of a text are rendered."""

    cells: int = 0  # cells laid out as tables
    as_text: tuple[TableSpan, ...] = ()  # tables shown as text, in order

    @property
    def cost(self) -> int:
        """The layout cost of the tables laid out, in characters of Markdown."""
        return self.cells * CELL_COST_CHARS


def lays_out(table: TableSpan, cells_left: int) -> bool:
    """Whether this table is laid out as a table with ``cells_left`` of the budget."""
    return (
        table.columns <= TABLE_MAX_COLUMNS
        and table.cells <= min(TABLE_MAX_CELLS, cells_left)
        and table.chars <= TABLE_MAX_CHARS
    )


def plan_tables(tables: Sequence[TableSpan], cells_left: int) -> TablePlan:
    """Decide table by table, in order, spending ``cells_left`` on those laid out."""
    cells = 0
    as_text: list[TableSpan] = []
    for table in tables:
        if lays_out(table, cells_left - cells):
            cells += table.cells
        else:
            as_text.append(table)
    return TablePlan(cells, tuple(as_text))


def plan_text(text: str) -> TablePlan:
    """The plan for a whole text: the Markdown part of a message."""
    return plan_tables(find_tables(text), MESSAGE_TABLE_CELLS)
