"""A message's body in its region: rendered whole, then kept up to date as
its text streams in.

While a reply streams, :class:`~desktop.ui.render.blocks.BlockSplitter`
splits its text into finished blocks and the open tail. Finished blocks are
imported once and inserted after the region's done part; the tail is removed
and imported again. An update therefore costs O(new text + tail), never
O(reply). A tail longer than ``TAIL_MARKDOWN_LIMIT`` (a long code block
still open) switches to appending plain text and is imported as Markdown
again only when its fence opens or closes, or when the reply ends. A table
that is laid out counts its cells against the tail's budget, so a growing
one goes to plain appends as a long tail does; one shown as text grows row by
row (see :mod:`desktop.ui.render.text_tables`).

A huge message is Markdown only for its first ``MARKDOWN_LIMIT``
characters (cut where a block ends); the rest is appended as plain text in
lines of at most ``PLAIN_LINE_CHARS``, up to ``DISPLAY_LIMIT`` characters,
and the status line says how much is not shown.

The body renderer changes a region's parts and nothing else: moving the
regions after it and refreshing its status line are the caller's.
"""

from __future__ import annotations

from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

from desktop.ui.render.blocks import BlockSplitter, TableSpan
from desktop.ui.render.chrome import Style
from desktop.ui.render.code_labels import label_code_blocks
from desktop.ui.render.edit import PLAIN_LINE_CHARS, remove, wrap_plain
from desktop.ui.render.region import (
    DISPLAY_LIMIT,
    MARKDOWN_LIMIT,
    Region,
    RenderStats,
    TailTable,
    forget_tables,
    forget_tail_tables,
)
from desktop.ui.render.tables import TablePlan
from desktop.ui.render.text_tables import TextTables, cells_left, tail_tables_unchanged

# The open tail is re-rendered each frame while its cost (characters, and
# cells of tables laid out at CELL_COST_CHARS each) stays under this.
TAIL_MARKDOWN_LIMIT = 4000


class BodyRenderer:
    """Renders message bodies into one document, whole or incrementally."""

    def __init__(self, document: QTextDocument, style: Style, stats: RenderStats) -> None:
        self.document = document
        self._style = style
        self._stats = stats
        self._tables = TextTables(document, style, stats)

    def rebuild(self, region: Region, text: str) -> None:
        """Render a message body from scratch, split for incremental updates."""
        self._stats.body_rebuilds += 1
        remove(self.document, region.body_start, region.done_chars + region.tail_chars)
        region.done_chars = region.tail_chars = region.code_blocks = 0
        region.tail_plain = region.overflow = False
        region.tail_fence = None
        forget_tables(region)
        region.text = text
        region.splitter = BlockSplitter()
        finished = region.splitter.feed(text[:MARKDOWN_LIMIT])
        if finished:
            self._render_done(region, "".join(finished))
        if len(text) > MARKDOWN_LIMIT:
            self._start_overflow(region)
        else:
            self._rerender_tail(region, final=region.status.is_terminal)

    def extend(self, region: Region, text: str) -> None:
        """Add ``text`` to a body rendered by :meth:`rebuild`."""
        assert region.splitter is not None
        if region.overflow:
            region.text += text
            self._show_plain(region)
        elif len(region.text) + len(text) > MARKDOWN_LIMIT:
            finished = region.splitter.feed(text[: MARKDOWN_LIMIT - len(region.text)])
            region.text += text
            if finished:
                self._finish_blocks(region, "".join(finished))
            self._start_overflow(region)
        else:
            region.text += text
            finished = region.splitter.feed(text)
            if finished:
                self._finish_blocks(region, "".join(finished))
                self._rerender_tail(region, final=region.status.is_terminal)
            elif (
                region.tail_table is not None
                and region.status.is_live
                and self._tables.grow_tail_table(region)
            ):
                pass
            elif (
                region.tail_plain
                and region.tail_chars > 0
                and region.splitter.fence == region.tail_fence
                and region.status.is_live
                and tail_tables_unchanged(region)
            ):
                self._append_plain(region, text)
            else:
                self._rerender_tail(region, final=region.status.is_terminal)

    def finish(self, region: Region) -> None:
        """The message ended: a tail shown as plain text becomes Markdown."""
        if region.tail_plain and not region.overflow:
            self._rerender_tail(region, final=True)

    def _start_overflow(self, region: Region) -> None:
        """From MARKDOWN_LIMIT on, show the text as plain text (see the limits).

        The Markdown part ends where the splitter's open tail begins; the
        tail and everything after it become plain lines in a new block.
        """
        assert region.splitter is not None
        if region.tail_chars:
            remove(self.document, region.done_end, region.tail_chars)
            region.tail_chars = 0
        forget_tail_tables(region)
        region.overflow = region.tail_plain = True
        region.tail_fence = None
        region.plain_from = min(len(region.text), MARKDOWN_LIMIT) - len(region.splitter.tail)
        region.shown_to = region.plain_from
        region.plain_column = 0
        self._show_plain(region)

    def _show_plain(self, region: Region) -> None:
        """Show the overflow text that arrived, up to DISPLAY_LIMIT."""
        end = min(len(region.text), DISPLAY_LIMIT)
        if end > region.shown_to:
            self._append_plain(region, region.text[region.shown_to : end])
            region.shown_to = end

    def _append_plain(self, region: Region, text: str) -> None:
        """Add ``text`` to the tail as plain text, in lines of bounded length."""
        lines, region.plain_column = wrap_plain(
            text.replace("\r", ""), region.plain_column, PLAIN_LINE_CHARS
        )
        doc = self.document
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(region.tail_end)
        if not region.tail_chars:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertText(lines)
        region.tail_chars += doc.characterCount() - before
        self._stats.plain_appends += 1

    def _finish_blocks(self, region: Region, markdown: str) -> None:
        """Render newly finished blocks after the done part.

        When the tail shows a table as text and that table is in these
        blocks, what the tail shows is final already: it joins the done part
        as it is, and only what follows the table is rendered.
        """
        if region.tail_table is not None:
            markdown = self._tables.keep_tail_table(region, markdown)
        self._render_done(region, markdown)

    def _render_done(self, region: Region, markdown: str) -> None:
        """Drop the tail and render newly finished blocks (the end of the text
        fed to the splitter) after the done part."""
        splitter = region.splitter
        assert splitter is not None
        position = region.done_end
        remove(self.document, position, region.tail_chars)
        region.tail_chars = 0
        forget_tail_tables(region)
        base = splitter.done_length - len(markdown)
        tables = splitter.tables_in(base, splitter.done_length) if "|" in markdown else []
        added, count, plan, _column = self._insert(region, position, markdown, base, tables)
        region.done_chars += added
        region.code_blocks += count
        region.table_cells += plan.cells
        region.text_tables.extend(plan.as_text)

    def _rerender_tail(self, region: Region, *, final: bool) -> None:
        splitter = region.splitter
        tail = splitter.tail if splitter is not None else ""
        base = splitter.done_length if splitter is not None else 0
        tables = splitter.tables_in(base) if splitter is not None and "|" in tail else []
        position = region.done_end
        remove(self.document, position, region.tail_chars)
        region.tail_chars, region.tail_code_blocks, plan, column = self._insert(
            region, position, tail, base, tables
        )
        region.tail_tables = plan.as_text
        region.tail_table = None
        last = plan.as_text[-1] if plan.as_text else None
        if not final and last is not None and last.open and not tail[last.end - base :].strip():
            # Rows that come next are appended to it (see TextTables.grow_tail_table).
            region.tail_table = TailTable(last.start, last.end, column)
        region.tail_plain = (
            not final and region.tail_table is None and len(tail) + plan.cost > TAIL_MARKDOWN_LIMIT
        )
        region.tail_fence = splitter.fence if splitter is not None else None
        if region.tail_plain:
            region.plain_column = self.document.findBlock(region.tail_end).length() - 1

    def _insert(
        self, region: Region, position: int, text: str, base: int, tables: list[TableSpan]
    ) -> tuple[int, int, TablePlan, int]:
        """Render ``text`` (at ``base`` in the message text) after ``position``
        with its code blocks labelled, numbered on from the done part's.

        Returns the characters added, the code blocks, the tables' plan and
        the length of the last line of a table shown as text that ends it.
        """
        added, plan, column = self._tables.insert_part(
            position, text, base, tables, cells_left(region)
        )
        labels, count = label_code_blocks(
            self.document,
            self._style,
            region.message_id,
            position,
            position + added,
            region.code_blocks,
        )
        return added + labels, count, plan, column
