"""Rendering many messages into an empty document at once (a load, a batch
of earlier messages).

The messages are built as one Markdown text (one sentinel paragraph per
header), imported once into a fresh document that has no layout yet, and
headers, files lines, Thinking sections and status lines are patched in
place; the view lays it out once when it is shown. If the sentinels come
back mangled (Markdown a message left open swallowed one) it falls back to
per-message rendering.

Bodies rendered on their own (live replies on load, huge messages, those
with a table shown as text: see :func:`~desktop.ui.render.region.renders_alone`)
are left empty here, for :class:`~desktop.ui.render.body.BodyRenderer`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from PySide6.QtGui import (
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
)

from desktop.ui.render.attachments import write_files
from desktop.ui.render.blocks import importable
from desktop.ui.render.chrome import Style, fill_header, insert_status, status_for
from desktop.ui.render.code_labels import label_code_blocks, may_hold_code
from desktop.ui.render.edit import (
    KEEP,
    MARKDOWN_FEATURES,
    edit_block,
    insert_markdown,
    lift_first_cells,
    may_follow_block,
    may_hold_action_links,
    strip_action_links,
)
from desktop.ui.render.region import (
    CODE_LANGUAGE,
    Region,
    RenderStats,
    forget_tables,
    renders_alone,
)
from desktop.ui.render.thinking import ThinkingRenderer

log = logging.getLogger("sidestream.ui")


class BulkRenderer:
    """Renders a run of regions into an empty document."""

    def __init__(self, style: Style, stats: RenderStats) -> None:
        self._style = style
        self._stats = stats

    def render_into(
        self, doc: QTextDocument, regions: list[Region], last: Region | None, *, defer_live: bool
    ) -> None:
        """Render regions into the empty ``doc``; their starts count from 0.

        ``last`` is the latest assistant message (its status line offers
        Retry). With ``defer_live`` the bodies of live messages are left empty
        (the caller renders them incrementally).
        """
        if not self._fill_bulk(doc, regions, last, defer_live=defer_live):
            self._stats.bulk_fallbacks += 1
            log.debug("Transcript sentinels did not survive import; rendering one by one")
            cursor = QTextCursor(doc)
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.removeSelectedText()
            cursor.setBlockFormat(QTextBlockFormat())
            self._fill_each(doc, regions, last, defer_live=defer_live)
        for region in regions:
            region.in_document = True

    def render_fragment(
        self, make_document: Callable[[], QTextDocument], regions: list[Region], last: Region | None
    ) -> QTextDocumentFragment:
        """Render regions into a scratch document and return them as a
        fragment led by a paragraph separator (inserted at the end of a block,
        it starts new blocks)."""
        scratch = make_document()
        try:
            scratch.setUndoRedoEnabled(False)
            scratch.setDefaultFont(self._style.font)
            self.render_into(scratch, regions, last, defer_live=False)
            first = scratch.begin()
            cursor = QTextCursor(scratch)
            cursor.insertBlock(first.blockFormat(), first.charFormat())
            cursor.setPosition(0)
            cursor.movePosition(QTextCursor.MoveOperation.End, KEEP)
            return QTextDocumentFragment(cursor)
        finally:
            scratch.deleteLater()

    def _fill_bulk(
        self, doc: QTextDocument, regions: list[Region], last: Region | None, *, defer_live: bool
    ) -> bool:
        """Import regions as one Markdown text; False if the sentinels got mangled."""
        token = "ssmark" + secrets.token_hex(8)
        parts: list[str] = []
        for region in regions:
            parts.append(token)
            if region.text.strip() and not _deferred(region, defer_live):
                # As is, never with a closing fence added: the importer does not
                # always read one as such (after a table row it is a row). An
                # unfinished code block swallows the next sentinel instead, and
                # the check below falls back to rendering one by one.
                parts.append(importable(region.text))
        doc.setMarkdown("\n\n".join(parts), MARKDOWN_FEATURES)
        self._stats.markdown_imports += 1
        self._stats.markdown_chars += sum(len(part) for part in parts)

        positions: list[int] = []
        cursor = QTextCursor(doc)
        flags = QTextDocument.FindFlag.FindCaseSensitively
        while True:
            cursor = doc.find(token, cursor, flags)
            if cursor.isNull():
                break
            block = cursor.block()
            if block.text() != token or not _is_plain_paragraph(block, cursor):
                return False
            positions.append(block.position())
        if len(positions) != len(regions) or positions[0] != 0:
            return False

        style = self._style
        thinking = ThinkingRenderer(doc, style, self._stats)
        ends = [position - 1 for position in positions[1:]] + [doc.characterCount() - 1]
        with edit_block(doc):
            # Back to front, so that the positions still to visit stay valid.
            for index in range(len(regions) - 1, -1, -1):
                region = regions[index]
                position = positions[index]
                body_start = position + len(token)
                body_chars = ends[index] - body_start
                region.splitter = None
                region.code_blocks = 0
                forget_tables(region)
                if body_chars and may_follow_block(region.text):
                    before = doc.characterCount()
                    lift_first_cells(doc, body_start, body_start + body_chars)
                    body_chars += doc.characterCount() - before
                if body_chars and may_hold_action_links(region.text):
                    strip_action_links(doc, body_start, body_start + body_chars)
                if body_chars and may_hold_code(region.text):
                    added, count = label_code_blocks(
                        doc, style, region.message_id, body_start, body_start + body_chars, 0
                    )
                    body_chars += added
                    region.code_blocks = count
                region.done_chars = body_chars
                region.tail_chars = 0
                region.status_shown = status_for(region, last)
                region.status_chars = insert_status(
                    doc, body_start + body_chars, region.status_shown, style
                )
                cursor = QTextCursor(doc)
                cursor.setPosition(position)
                cursor.setPosition(body_start, KEEP)
                region.header_chars = fill_header(cursor, region, style, first=index == 0)
                files_start = position + region.header_chars
                region.files_chars = write_files(doc, region, files_start, style)
                thinking.write(region, files_start + region.files_chars)
        start = 0
        for region in regions:
            region.start = start
            start += region.length + 1
        return True

    def _fill_each(
        self, doc: QTextDocument, regions: list[Region], last: Region | None, *, defer_live: bool
    ) -> None:
        """Render regions one by one (when the one-text import cannot be trusted)."""
        style = self._style
        thinking = ThinkingRenderer(doc, style, self._stats)
        with edit_block(doc):
            for index, region in enumerate(regions):
                cursor = QTextCursor(doc)
                cursor.movePosition(QTextCursor.MoveOperation.End)
                if index:
                    cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
                region.start = cursor.position()
                region.header_chars = fill_header(cursor, region, style, first=index == 0)
                region.files_chars = write_files(doc, region, region.files_start, style)
                thinking.write(region, region.thinking_start)
                region.splitter = None
                region.done_chars = region.tail_chars = region.code_blocks = 0
                forget_tables(region)
                if not _deferred(region, defer_live):
                    added = insert_markdown(doc, region.body_start, region.text, self._stats)
                    labels, count = label_code_blocks(
                        doc,
                        style,
                        region.message_id,
                        region.body_start,
                        region.body_start + added,
                        0,
                    )
                    region.done_chars = added + labels
                    region.code_blocks = count
                region.status_shown = status_for(region, last)
                region.status_chars = insert_status(
                    doc, region.tail_end, region.status_shown, style
                )


def _deferred(region: Region, defer_live: bool) -> bool:
    """Whether a bulk render leaves this body out (it is rendered on its own)."""
    return (defer_live and region.status.is_live) or renders_alone(region)


def _is_plain_paragraph(block: QTextBlock, cursor: QTextCursor) -> bool:
    block_format = block.blockFormat()
    return (
        block.textList() is None
        and not block_format.hasProperty(CODE_LANGUAGE)
        and not block_format.hasProperty(QTextFormat.Property.BlockQuoteLevel)
        and block_format.headingLevel() == 0
        and cursor.currentTable() is None
    )
