"""Tables too large to lay out, shown as their source in monospace lines.

Which tables these are is decided in :mod:`desktop.ui.render.tables`; the
status line says so. A part of a message is rendered as Markdown with such
tables cut out and inserted as text (:meth:`TextTables.insert_part`).

While such a table streams in, the tail keeps it and appends each frame's
rows (:meth:`TextTables.grow_tail_table`), and when its block is finished
what the tail shows joins the done part as it is
(:meth:`TextTables.keep_tail_table`), so neither a frame nor the table's end
lays the whole table out.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import (
    QFontDatabase,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)

from desktop.ui.render.blocks import TableSpan
from desktop.ui.render.chrome import Style
from desktop.ui.render.edit import PLAIN_LINE_CHARS, insert_markdown, wrap_plain
from desktop.ui.render.region import BLOCK_KIND, BlockKind, Region, RenderStats, forget_tail_tables
from desktop.ui.render.tables import MESSAGE_TABLE_CELLS, TablePlan, plan_tables

TABLE_TEXT_LABEL = "table · too large to lay out, shown as text"


def cells_left(region: Region) -> int:
    """Cells a region's tables may still lay out (see ``MESSAGE_TABLE_CELLS``)."""
    return MESSAGE_TABLE_CELLS - region.table_cells


def tail_tables_unchanged(region: Region) -> bool:
    """Whether the tail's tables are still shown as the tail shows them."""
    splitter = region.splitter
    assert splitter is not None
    tables = splitter.tables_in(splitter.done_length)
    if not tables and not region.tail_tables:
        return True
    plan = plan_tables(tables, cells_left(region))
    return [t.start for t in plan.as_text] == [t.start for t in region.tail_tables]


class TextTables:
    """Writes parts with their tables as text into one document."""

    def __init__(self, document: QTextDocument, style: Style, stats: RenderStats) -> None:
        self.document = document
        self._style = style
        self._stats = stats

    def insert_part(
        self,
        position: int,
        text: str,
        base: int,
        tables: Sequence[TableSpan],
        cells: int,
    ) -> tuple[int, TablePlan, int]:
        """Render ``text`` (at ``base`` in the message text) as new blocks after
        ``position``: Markdown, and the tables too large to lay out as text.

        ``tables`` are those of the splitter from ``base`` on, ``cells`` the
        cells left to lay out. Returns the characters added, the plan, and the
        length of the last line of a table shown as text that ends the part.
        """
        doc = self.document
        stats = self._stats
        plan = plan_tables(tables, cells)
        stats.table_cells += plan.cells
        start = position
        done = 0  # characters of ``text`` rendered
        column = 0
        for table in plan.as_text:
            position += insert_markdown(doc, position, text[done : table.start - base], stats)
            added, column = self._insert_table(
                position, text[table.start - base : table.end - base]
            )
            position += added
            done = table.end - base
        position += insert_markdown(doc, position, text[done:], stats)
        return position - start, plan, column

    def grow_tail_table(self, region: Region) -> bool:
        """Append the rows that arrived to the table the tail shows as text.

        False if the tail has changed otherwise (a table ended and text
        follows it, or the tables' plan changed): it must be rendered again.
        """
        state = region.tail_table
        splitter = region.splitter
        assert state is not None and splitter is not None
        plan = plan_tables(splitter.tables_in(splitter.done_length), cells_left(region))
        if [t.start for t in plan.as_text] != [t.start for t in region.tail_tables]:
            return False
        last = plan.as_text[-1]
        if last.start != state.start or last.end < state.shown_to:
            return False
        if region.text[last.end :].strip():
            return False
        if last.end > state.shown_to:
            self._grow(region, region.text[state.shown_to : last.end])
        region.tail_tables = plan.as_text
        return True

    def keep_tail_table(self, region: Region, markdown: str) -> str:
        """Newly finished blocks (``markdown``) end the table the tail shows as
        text: make what the tail shows part of the done part as it is (after
        the rows it lacks), and return what follows the table. Return
        ``markdown`` itself when the tail must be rendered anew.
        """
        splitter = region.splitter
        state = region.tail_table
        assert splitter is not None and state is not None
        base = splitter.done_length - len(markdown)
        tables = splitter.tables_in(base)
        plan = plan_tables(tables, cells_left(region))
        table = next((t for t in plan.as_text if t.start == state.start), None)
        shown = [t.start for t in region.tail_tables]
        if (
            table is None
            or table.end < state.shown_to
            or [t.start for t in plan.as_text if t.start <= table.start] != shown
        ):
            return markdown
        if table.end > state.shown_to:
            self._grow(region, region.text[state.shown_to : table.end])
        before = plan_tables([t for t in tables if t.start <= table.start], cells_left(region))
        region.done_chars += region.tail_chars
        region.tail_chars = 0
        region.code_blocks += region.tail_code_blocks
        region.table_cells += before.cells
        region.text_tables.extend(before.as_text)
        forget_tail_tables(region)
        return markdown[table.end - base :]

    def _insert_table(self, position: int, source: str) -> tuple[int, int]:
        """A table's source as a label and monospace lines, after ``position``.

        Returns (characters added, length of the last line).
        """
        doc = self.document
        self._stats.text_tables += 1
        self._stats.text_table_chars += len(source)
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        label_format = QTextBlockFormat()
        label_format.setProperty(BLOCK_KIND, int(BlockKind.TABLE_TEXT))
        label_format.setTopMargin(8.0)
        label_format.setBottomMargin(2.0)
        muted = self._style.label()
        cursor.insertBlock(label_format, muted)
        cursor.insertText(TABLE_TEXT_LABEL, muted)
        line_format = QTextBlockFormat()
        line_format.setProperty(BLOCK_KIND, int(BlockKind.TABLE_TEXT))
        line_format.setBottomMargin(0.0)
        mono = _table_text_format(self._style)
        cursor.insertBlock(line_format, mono)
        lines, column = wrap_plain(source.replace("\r", ""), 0, PLAIN_LINE_CHARS)
        cursor.insertText(lines, mono)
        return doc.characterCount() - before, column

    def _grow(self, region: Region, text: str) -> None:
        """Append source text to the table the tail shows as text."""
        state = region.tail_table
        assert state is not None
        lines, state.column = wrap_plain(text.replace("\r", ""), state.column, PLAIN_LINE_CHARS)
        doc = self.document
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(region.tail_end)
        cursor.insertText(lines, _table_text_format(self._style))
        region.tail_chars += doc.characterCount() - before
        state.shown_to += len(text)
        self._stats.plain_appends += 1


def _table_text_format(style: Style) -> QTextCharFormat:
    # The font the importer gives code blocks: the fixed family at the
    # document's size (so that it zooms with the rest of the text).
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    mono = QTextCharFormat()
    mono.setFontFamilies([fixed.family()])
    size = style.font.pointSizeF()
    if size > 0:
        mono.setFontPointSize(size)
    return mono
