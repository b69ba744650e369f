"""The transcript of one chat as one QTextDocument, updated incrementally.

Every message owns a contiguous *region* of the document::

    header      "Assistant · model   Copy"             (one block)
    done        finished Markdown blocks, rendered once (0..n blocks)
    tail        the open tail, re-rendered per update   (0..n blocks)
    status      "streaming…" / "Stopped · Continue · Retry" (0..1 block)

and the renderer keeps, per region, its start position and the length of
each part in document positions. Parts other than the header carry their
leading paragraph separator, so a part is added or dropped by inserting or
removing exactly its characters, and everything after a changed region moves
by the same known delta (no scanning).

Costs (see DESIGN.md, "Costs measured on these machines"):

- ``load`` renders only the latest ``WINDOW_CHARS`` of the transcript (laying
  out a megabyte of old chat costs seconds whatever the method); older
  messages come in batches when the user scrolls to the top. The window is
  built as one Markdown text (one sentinel paragraph per header), imported
  once into a fresh document that has no layout yet, and headers and status
  lines are patched in place; the view lays it out once when it is shown. If
  the sentinels come back mangled (Markdown a message left open swallowed
  one) it falls back to per-message rendering.
- While a reply streams, :class:`~desktop.ui.render.blocks.BlockSplitter`
  splits its text into finished blocks and the open tail. Finished blocks are
  imported once and inserted after the region's done part; the tail is removed
  and imported again. An update therefore costs O(new text + tail), never
  O(reply). A tail longer than ``TAIL_MARKDOWN_LIMIT`` (a long code block
  still open) switches to appending plain text and is imported as Markdown
  again only when its fence opens or closes, or when the reply ends.
- A table too large to lay out cheaply (see :mod:`desktop.ui.render.tables`)
  is shown as its source in monospace lines; the status line says so. While
  such a table streams in, the tail keeps it and appends each frame's rows,
  and when its block is finished what the tail shows joins the done part as
  it is, so neither a frame nor the table's end lays the whole table out.
  A table that is laid out counts its cells against the tail's budget, so a
  growing one goes to plain appends as a long tail does. A message holding
  such a table is rendered on its own on load, outside the one-text import.
- A huge message is Markdown only for its first ``MARKDOWN_LIMIT``
  characters (cut where a block ends); the rest is appended as plain text in
  lines of at most ``PLAIN_LINE_CHARS``, up to ``DISPLAY_LIMIT`` characters,
  and the status line says how much is not shown. Loading such a message
  renders it the same way, outside the one-text import.
- Markdown is imported straight into a fragment (``fromMarkdown``, no
  layout, no highlighter, no copy out of a scratch document) behind a
  one-letter paragraph; inserted at the end of a block, the letter joins
  that block and is removed, and the paragraph separator after it starts the
  new blocks, which keeps the first block's format (heading, code language)
  intact.
"""

from __future__ import annotations

import enum
import logging
import secrets
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
)

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.render.blocks import BlockSplitter, Fence, TableSpan, end_tables_before_blocks
from desktop.ui.render.highlight import CodeHighlighter
from desktop.ui.render.status import (
    ACTION_SCHEME,
    StatusLine,
    action_url,
    status_line,
)
from desktop.ui.render.tables import MESSAGE_TABLE_CELLS, TablePlan, plan_tables, plan_text
from desktop.ui.render.theme import Theme

log = logging.getLogger("sidestream.ui")

MARKDOWN_FEATURES = (
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub
    | QTextDocument.MarkdownFeature.MarkdownNoHTML
)

# The open tail is re-rendered each frame while its cost (characters, and
# cells of tables laid out at CELL_COST_CHARS each) stays under this.
TAIL_MARKDOWN_LIMIT = 4000
TABLE_TEXT_LABEL = "table · too large to lay out, shown as text"
# A message's first MARKDOWN_LIMIT characters are rendered as Markdown (about
# 0.3 s of layout at most); the rest is shown as plain text, up to
# DISPLAY_LIMIT characters in all. Copy and export always take the whole text.
MARKDOWN_LIMIT = 100_000
DISPLAY_LIMIT = 1_000_000
# Plain text is shown in lines of at most this many characters: Qt lays out a
# whole paragraph again whenever text is added to it, so one 10 MB line
# appended a frame at a time would cost quadratic time.
PLAIN_LINE_CHARS = 2_000
DOCUMENT_MARGIN = 14.0
HEADER_GAP = 20.0
CODE_BOTTOM_MARGIN = 10.0
# The window rendered on load, and the batch "Show earlier messages" adds
# (smaller: it is laid out while the user scrolls).
WINDOW_CHARS = 40_000
EARLIER_BATCH_CHARS = 20_000
WINDOW_MIN_MESSAGES = 2
WINDOW_MAX_MESSAGES = 200
WINDOW_HEADER_COST = 200  # a message's fixed cost, in characters of text

_P = QTextFormat.Property
CODE_LANGUAGE = _P.BlockCodeLanguage
CODE_FENCE = _P.BlockCodeFence
BLOCK_KIND = _P.UserProperty.value + 1
BLOCK_MESSAGE = _P.UserProperty.value + 2

_KEEP = QTextCursor.MoveMode.KeepAnchor


class BlockKind(enum.IntEnum):
    """What the renderer put in a block (the ``BLOCK_KIND`` property)."""

    HEADER = 1
    STATUS = 2
    CODE_LABEL = 3
    EARLIER = 4
    TABLE_TEXT = 5  # a table shown as text: its label and its lines


@dataclass
class RenderStats:
    """Counters the tests and the benchmark read."""

    updates: int = 0  # public calls that changed the document
    markdown_imports: int = 0  # Markdown fragments imported
    markdown_chars: int = 0  # characters of Markdown imported
    plain_appends: int = 0  # tail updates done by appending plain text
    body_rebuilds: int = 0  # message bodies re-rendered from scratch
    loads: int = 0
    bulk_fallbacks: int = 0
    table_cells: int = 0  # cells of tables laid out, outside the one-text import
    text_tables: int = 0  # tables inserted whole as text (not those grown row by row)
    text_table_chars: int = 0  # characters of those


@dataclass(eq=False)
class TailTable:
    """The tail ends in a table shown as text that may still grow."""

    start: int  # where the table starts in the message text
    shown_to: int  # the message text up to here is shown
    column: int  # characters in the last line shown


@dataclass(eq=False)
class Region:
    """One message's part of the document (positions in document units)."""

    message_id: int
    session_id: int
    role: Role
    text: str
    status: MessageStatus
    error: str | None = None
    reason: str | None = None
    model: str | None = None
    start: int = 0
    header_chars: int = 0
    done_chars: int = 0
    tail_chars: int = 0
    status_chars: int = 0
    code_blocks: int = 0  # code blocks labelled in the done part
    splitter: BlockSplitter | None = None  # None: the body was rendered whole
    tail_plain: bool = False
    tail_fence: Fence | None = None
    plain_column: int = 0  # characters in the last line of a plain tail
    table_cells: int = 0  # cells of the done part's tables laid out as tables
    text_tables: list[TableSpan] = field(default_factory=list)  # done, shown as text
    tail_tables: tuple[TableSpan, ...] = ()  # the tail's tables shown as text
    tail_code_blocks: int = 0  # code blocks labelled in the tail
    tail_table: TailTable | None = None
    table_plan: tuple[int, int, TablePlan] | None = None  # see _table_plan
    # Past MARKDOWN_LIMIT: text[plain_from:shown_to] is the tail, as plain text.
    overflow: bool = False
    plain_from: int = 0
    shown_to: int = 0
    status_shown: StatusLine = field(default_factory=StatusLine)
    in_document: bool = False

    @classmethod
    def from_message(cls, message: Message) -> Region:
        return cls(
            message_id=message.id,
            session_id=message.session_id,
            role=message.role,
            text=message.content,
            status=message.status,
            error=message.error,
            reason=message.reason,
            model=message.model,
        )

    @property
    def length(self) -> int:
        return self.header_chars + self.done_chars + self.tail_chars + self.status_chars

    @property
    def end(self) -> int:
        """Position just after the region's last character."""
        return self.start + self.length

    @property
    def body_start(self) -> int:
        return self.start + self.header_chars

    @property
    def done_end(self) -> int:
        return self.body_start + self.done_chars

    @property
    def tail_end(self) -> int:
        return self.done_end + self.tail_chars

    @property
    def hidden_chars(self) -> int:
        """Characters of the text past DISPLAY_LIMIT, which the view does not show."""
        return len(self.text) - self.shown_to if self.overflow else 0


class TranscriptDocument:
    """Owns the transcript's QTextDocument and keeps it in step with the messages.

    ``make_document`` creates an empty QTextDocument parented to the view, so
    that images resolve through the view's ``loadResource`` (which blocks
    them). A fresh document is made on every :meth:`load`; read
    :attr:`document` afterwards.

    Only the most recent messages (about ``WINDOW_CHARS`` of text) are put in
    the document on load; older ones stay *hidden* until :meth:`show_earlier`
    prepends them a batch at a time, behind a "Show earlier messages" line.
    Opening a long chat therefore costs the same as opening a short one.
    """

    def __init__(
        self, make_document: Callable[[], QTextDocument], theme: Theme, font: QFont
    ) -> None:
        self._make_document = make_document
        self._theme = theme
        self._font = font
        self._regions: list[Region] = []  # in the document, in order
        self._hidden: list[Region] = []  # older messages not rendered yet, in order
        self._by_id: dict[int, Region] = {}
        self._more_chars = 0  # the "Show earlier messages" block, with its separator
        self.stats = RenderStats()
        self.highlighter: CodeHighlighter
        self.document = self._new_document()

    # ----------------------------------------------------------------- queries

    def message_ids(self) -> list[int]:
        return [region.message_id for region in (*self._hidden, *self._regions)]

    def region(self, message_id: int) -> Region | None:
        """The region of a message, rendered or hidden."""
        return self._by_id.get(message_id)

    def regions(self) -> Sequence[Region]:
        """The regions in the document, in order."""
        return self._regions

    @property
    def hidden_count(self) -> int:
        """How many older messages are not in the document yet."""
        return len(self._hidden)

    def region_at(self, position: int) -> Region | None:
        """The rendered region containing a document position."""
        index = bisect_right(self._regions, position, key=lambda r: r.start) - 1
        if index < 0:
            return None
        region = self._regions[index]
        return region if position <= region.end else None

    def regions_between(self, first: int, last: int) -> list[Region]:
        """Rendered regions that overlap positions ``first..last``."""
        index = max(0, bisect_right(self._regions, first, key=lambda r: r.start) - 1)
        found: list[Region] = []
        for region in self._regions[index:]:
            if region.start > last:
                break
            if region.end >= first:
                found.append(region)
        return found

    def code_text(self, message_id: int, index: int) -> str | None:
        """The text of the ``index``-th code block of a message, as rendered."""
        region = self._by_id.get(message_id)
        if region is None or not region.in_document:
            return None
        seen = -1
        block = self.document.findBlock(region.body_start + 1)
        end = region.tail_end
        while block.isValid() and block.position() < end:
            if block.blockFormat().property(BLOCK_KIND) == BlockKind.CODE_LABEL:
                seen += 1
                if seen == index:
                    lines: list[str] = []
                    block = block.next()
                    while block.isValid() and block.blockFormat().hasProperty(CODE_LANGUAGE):
                        lines.append(block.text())
                        block = block.next()
                    return "\n".join(lines)
            block = block.next()
        return None

    # ----------------------------------------------------------------- updates

    def set_theme(self, theme: Theme, font: QFont) -> None:
        """Re-render with new colours (after a palette change); keeps what is shown."""
        self._theme = theme
        self._font = font
        shown = len(self._regions)
        messages = [self._message_of(region) for region in (*self._hidden, *self._regions)]
        self.load(messages, window=shown)

    def load(self, messages: Sequence[Message], *, window: int | None = None) -> None:
        """Replace the whole transcript; builds a new :attr:`document`.

        ``window`` forces how many of the latest messages to render.
        """
        seen: set[int] = set()
        regions: list[Region] = []
        for message in messages:
            if message.id in seen:
                log.warning("Message %d appears twice in a transcript; keeping one", message.id)
                continue
            seen.add(message.id)
            regions.append(Region.from_message(message))
        self.stats.loads += 1
        self.document = self._new_document()
        self._by_id = {region.message_id: region for region in regions}
        self._more_chars = 0
        split = _window_start(regions) if window is None else max(0, len(regions) - window)
        self._hidden = regions[:split]
        self._regions = regions[split:]
        if not self._regions:
            return
        self._render_into(self.document, self._regions, self._last_assistant(), defer_live=True)
        with self._edit_block(count=False):
            if self._hidden:
                self._insert_more_block()
            for region in self._regions:
                if region.status.is_live or _renders_alone(region):
                    self._rebuild_body(region, region.text)

    def show_earlier(self) -> int:
        """Prepend the next batch of hidden messages; returns how many."""
        if not self._hidden:
            return 0
        split = _window_start(self._hidden, EARLIER_BATCH_CHARS)
        batch = self._hidden[split:]
        scratch = self._make_document()
        try:
            scratch.setUndoRedoEnabled(False)
            self._render_into(scratch, batch, self._last_assistant(), defer_live=False)
            # Lead the batch with a paragraph separator (see _fragment).
            first = scratch.begin()
            cursor = QTextCursor(scratch)
            cursor.insertBlock(first.blockFormat(), first.charFormat())
            cursor.setPosition(0)
            cursor.movePosition(QTextCursor.MoveOperation.End, _KEEP)
            fragment = QTextDocumentFragment(cursor)
        finally:
            scratch.deleteLater()
        with self._edit_block():
            anchor = self._more_chars - 1  # end of the "earlier" line's text
            inserted = self._replace(self.document, anchor, 0, None, fragment=fragment)
            for region in batch:
                region.start += anchor + 1
                region.in_document = True
            for region in self._regions:
                region.start += inserted
            previous_first = self._regions[0] if self._regions else None
            del self._hidden[split:]
            self._regions[:0] = batch
            if previous_first is not None:
                self._set_header_gap(previous_first, first=False)
            if self._hidden:
                self._set_header_gap(batch[0], first=False)
                self._update_more_block()
            else:
                self._remove_more_block()
                self._set_header_gap(batch[0], first=True)
            for region in batch:
                if _renders_alone(region):
                    self._rebuild_body(region, region.text)
        return len(batch)

    def add(self, message: Message) -> bool:
        """Append a message; False if it is shown already (its text and state
        change through :meth:`append`, :meth:`replace_text` and :meth:`set_state`)."""
        if message.id in self._by_id:
            return False
        region = Region.from_message(message)
        previous_last = self._last_assistant()
        with self._edit_block():
            self._append_region(region)
            if region.role is Role.ASSISTANT and previous_last is not None:
                self._refresh_status(previous_last)
        return True

    def remove(self, message_id: int) -> bool:
        region = self._by_id.pop(message_id, None)
        if region is None:
            return False
        was_last_assistant = region is self._last_assistant()
        with self._edit_block():
            if not region.in_document:
                self._hidden.remove(region)
                if self._hidden:
                    self._update_more_block()
                else:
                    self._remove_more_block()
                    if self._regions:
                        self._set_header_gap(self._regions[0], first=True)
            else:
                self._remove_region(region)
            if was_last_assistant:
                new_last = self._last_assistant()
                if new_last is not None and new_last.in_document:
                    self._refresh_status(new_last)
        return True

    def replace_text(self, message_id: int, text: str) -> bool:
        """Make a message show ``text`` instead of what it shows (laid out anew)."""
        region = self._by_id.get(message_id)
        if region is None or text == region.text:
            return False
        if not region.in_document:
            region.text = text
            return False
        with self._edit_block():
            self._rebuild_body(region, text)
        return True

    def append(self, message_id: int, text: str) -> bool:
        region = self._by_id.get(message_id)
        if region is None or not text:
            return False
        if not region.in_document:
            region.text += text
            return False
        with self._edit_block():
            if region.splitter is None:
                self._rebuild_body(region, region.text + text)
            else:
                self._extend(region, text)
        return True

    def set_state(
        self,
        message_id: int,
        status: MessageStatus,
        error: str | None = None,
        reason: str | None = None,
    ) -> bool:
        region = self._by_id.get(message_id)
        if region is None:
            return False
        if (region.status, region.error, region.reason) == (status, error, reason):
            return False
        region.status, region.error, region.reason = status, error, reason
        if not region.in_document:
            return False
        with self._edit_block():
            if status.is_terminal and region.tail_plain and not region.overflow:
                self._rerender_tail(region, final=True)
            self._refresh_status(region)
        return True

    # ------------------------------------------------------------ construction

    def _new_document(self) -> QTextDocument:
        doc = self._make_document()
        doc.setUndoRedoEnabled(False)
        doc.setDocumentMargin(DOCUMENT_MARGIN)
        doc.setDefaultFont(self._font)
        # Attached while the document is empty: attached later, Qt schedules
        # a re-highlight of every block, which on a laid-out document also
        # re-lays out block by block (seconds for a long chat). A document
        # without a layout reports no changes, so the build below highlights
        # nothing; the view's setDocument gives it a layout, which announces
        # the whole content once, and the highlighter does every block then.
        self.highlighter = CodeHighlighter(doc, self._theme.syntax)
        return doc

    def _render_into(
        self, doc: QTextDocument, regions: list[Region], last: Region | None, *, defer_live: bool
    ) -> None:
        """Render regions into the empty ``doc``; their starts count from 0.

        With ``defer_live`` the bodies of live messages are left empty (the
        caller renders them incrementally).
        """
        if not self._fill_bulk(doc, regions, last, defer_live=defer_live):
            self.stats.bulk_fallbacks += 1
            log.debug("Transcript sentinels did not survive import; rendering one by one")
            cursor = QTextCursor(doc)
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.removeSelectedText()
            cursor.setBlockFormat(QTextBlockFormat())
            self._fill_each(doc, regions, last, defer_live=defer_live)
        for region in regions:
            region.in_document = True

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
                parts.append(end_tables_before_blocks(region.text))
        doc.setMarkdown("\n\n".join(parts), MARKDOWN_FEATURES)
        self.stats.markdown_imports += 1
        self.stats.markdown_chars += sum(len(part) for part in parts)

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

        ends = [position - 1 for position in positions[1:]] + [doc.characterCount() - 1]
        with _edit_block(doc):
            # Back to front, so that the positions still to visit stay valid.
            for index in range(len(regions) - 1, -1, -1):
                region = regions[index]
                position = positions[index]
                body_start = position + len(token)
                body_chars = ends[index] - body_start
                region.splitter = None
                region.code_blocks = 0
                _forget_tables(region)
                if body_chars and _may_hold_action_links(region.text):
                    _strip_action_links(doc, body_start, body_start + body_chars)
                if body_chars and _may_hold_code(region.text):
                    added, count = self._label_code_blocks(
                        doc, region.message_id, body_start, body_start + body_chars, 0
                    )
                    body_chars += added
                    region.code_blocks = count
                region.done_chars = body_chars
                region.tail_chars = 0
                region.status_shown = self._status_for(region, last)
                region.status_chars = self._insert_status(
                    doc, body_start + body_chars, region.status_shown
                )
                cursor = QTextCursor(doc)
                cursor.setPosition(position)
                cursor.setPosition(body_start, _KEEP)
                region.header_chars = self._fill_header(cursor, region, first=index == 0)
        start = 0
        for region in regions:
            region.start = start
            start += region.length + 1
        return True

    def _fill_each(
        self, doc: QTextDocument, regions: list[Region], last: Region | None, *, defer_live: bool
    ) -> None:
        """Render regions one by one (when the one-text import cannot be trusted)."""
        with _edit_block(doc):
            for index, region in enumerate(regions):
                cursor = QTextCursor(doc)
                cursor.movePosition(QTextCursor.MoveOperation.End)
                if index:
                    cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
                region.start = cursor.position()
                region.header_chars = self._fill_header(cursor, region, first=index == 0)
                region.splitter = None
                region.done_chars = region.tail_chars = region.code_blocks = 0
                _forget_tables(region)
                if not _deferred(region, defer_live):
                    self._render_static_body(doc, region)
                region.status_shown = self._status_for(region, last)
                region.status_chars = self._insert_status(doc, region.tail_end, region.status_shown)

    def _render_static_body(self, doc: QTextDocument, region: Region) -> None:
        added = self._replace(doc, region.body_start, 0, region.text)
        labels, count = self._label_code_blocks(
            doc, region.message_id, region.body_start, region.body_start + added, 0
        )
        region.done_chars = added + labels
        region.code_blocks = count

    def _append_region(self, region: Region) -> None:
        """Add a region at the end of the document (inside an edit block)."""
        doc = self.document
        first = not self._regions and not self._more_chars
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not first:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        region.start = cursor.position()
        region.in_document = True
        self._regions.append(region)
        self._by_id[region.message_id] = region
        region.header_chars = self._fill_header(cursor, region, first=first)
        region.done_chars = region.tail_chars = region.status_chars = 0
        self._rebuild_body(region, region.text)
        self._refresh_status(region)

    def _remove_region(self, region: Region) -> None:
        index = self._index(region)
        if len(self._regions) == 1:
            # The last region: everything after the "earlier" line goes.
            start = self._more_chars - 1 if self._more_chars else 0
            length = self.document.characterCount() - 1 - start
        elif index == 0 and not self._more_chars:
            start, length = 0, self._regions[1].start
        else:
            start, length = region.start - 1, region.length + 1
        self._replace(self.document, start, length, None)
        del self._regions[index]
        region.in_document = False
        for later in self._regions[index:]:
            later.start -= length
        if not self._regions and not self._more_chars:
            QTextCursor(self.document).setBlockFormat(QTextBlockFormat())
        elif index == 0 and self._regions:
            self._set_header_gap(self._regions[0], first=not self._more_chars)

    def _fill_header(self, cursor: QTextCursor, region: Region, *, first: bool) -> int:
        """Write the header into the block at ``cursor`` (replacing its selection)."""
        theme = self._theme
        start = cursor.selectionStart()
        block_format = QTextBlockFormat()
        block_format.setProperty(BLOCK_KIND, int(BlockKind.HEADER))
        block_format.setProperty(BLOCK_MESSAGE, region.message_id)
        block_format.setTopMargin(0.0 if first else HEADER_GAP)
        block_format.setBottomMargin(4.0)
        name = QTextCharFormat()
        name.setFontWeight(QFont.Weight.Bold)
        name.setForeground(theme.accent if region.role is Role.ASSISTANT else theme.text)
        muted = QTextCharFormat()
        muted.setForeground(theme.muted)
        cursor.insertText(_role_label(region.role), name)
        cursor.setBlockFormat(block_format)
        cursor.setBlockCharFormat(QTextCharFormat())
        if region.model and region.role is Role.ASSISTANT:
            cursor.insertText(f"  ·  {region.model}", muted)
        cursor.insertText("    ", muted)
        cursor.insertText("Copy", self._link_format(action_url("copy", region.message_id)))
        return cursor.position() - start

    def _set_header_gap(self, region: Region, *, first: bool) -> None:
        cursor = QTextCursor(self.document)
        cursor.setPosition(region.start)
        block_format = cursor.blockFormat()
        gap = 0.0 if first else HEADER_GAP
        if block_format.topMargin() != gap:
            block_format.setTopMargin(gap)
            cursor.setBlockFormat(block_format)

    def _link_format(self, href: str) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(href)
        fmt.setForeground(self._theme.link)
        return fmt

    # ------------------------------------------------- the "earlier" line

    def _more_text(self) -> str:
        count = len(self._hidden)
        return f"Show {count} earlier message{'s' if count != 1 else ''}"

    def _insert_more_block(self) -> None:
        doc = self.document
        before = doc.characterCount()
        first = doc.begin()
        cursor = QTextCursor(doc)
        cursor.insertBlock(first.blockFormat(), first.charFormat())
        cursor.setPosition(0)
        block_format = QTextBlockFormat()
        block_format.setProperty(BLOCK_KIND, int(BlockKind.EARLIER))
        block_format.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        block_format.setBottomMargin(6.0)
        cursor.setBlockFormat(block_format)
        cursor.insertText(self._more_text(), self._link_format(action_url("earlier", 0)))
        self._more_chars = doc.characterCount() - before
        for region in self._regions:
            region.start += self._more_chars
        if self._regions:
            self._set_header_gap(self._regions[0], first=False)

    def _update_more_block(self) -> None:
        doc = self.document
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(self._more_chars - 1, _KEEP)
        cursor.insertText(self._more_text(), self._link_format(action_url("earlier", 0)))
        delta = doc.characterCount() - before
        self._more_chars += delta
        for region in self._regions:
            region.start += delta

    def _remove_more_block(self) -> None:
        if not self._more_chars:
            return
        length = self._more_chars
        if not self._regions:
            length -= 1  # nothing after it: keep the document's last block
        self._replace(self.document, 0, length, None)
        self._more_chars = 0
        for region in self._regions:
            region.start -= length
        if not self._regions:
            QTextCursor(self.document).setBlockFormat(QTextBlockFormat())

    # --------------------------------------------------------------- the body

    def _rebuild_body(self, region: Region, text: str) -> None:
        """Render a message body from scratch, split for incremental updates."""
        self.stats.body_rebuilds += 1
        old_length = region.length
        self._replace(self.document, region.body_start, region.done_chars + region.tail_chars, None)
        region.done_chars = region.tail_chars = region.code_blocks = 0
        region.tail_plain = region.overflow = False
        region.tail_fence = None
        _forget_tables(region)
        region.text = text
        region.splitter = BlockSplitter()
        finished = region.splitter.feed(text[:MARKDOWN_LIMIT])
        if finished:
            self._render_done(region, "".join(finished))
        if len(text) > MARKDOWN_LIMIT:
            self._start_overflow(region)
        else:
            self._rerender_tail(region, final=region.status.is_terminal)
        self._shift_after(region, region.length - old_length)
        self._refresh_status(region)

    def _extend(self, region: Region, text: str) -> None:
        assert region.splitter is not None
        old_length = region.length
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
                and self._grow_tail_table(region)
            ):
                pass
            elif (
                region.tail_plain
                and region.tail_chars > 0
                and region.splitter.fence == region.tail_fence
                and region.status.is_live
                and self._tail_tables_unchanged(region)
            ):
                self._append_plain(region, text)
            else:
                self._rerender_tail(region, final=region.status.is_terminal)
        self._shift_after(region, region.length - old_length)
        self._refresh_status(region)

    def _start_overflow(self, region: Region) -> None:
        """From MARKDOWN_LIMIT on, show the text as plain text (see the limits).

        The Markdown part ends where the splitter's open tail begins; the
        tail and everything after it become plain lines in a new block.
        """
        assert region.splitter is not None
        if region.tail_chars:
            self._replace(self.document, region.done_end, region.tail_chars, None)
            region.tail_chars = 0
        _forget_tail_tables(region)
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
        self.stats.plain_appends += 1

    def _finish_blocks(self, region: Region, markdown: str) -> None:
        """Render newly finished blocks after the done part.

        When the tail shows a table as text and that table is in these
        blocks, what the tail shows is final already: it joins the done part
        as it is (after the rows it lacks), and only what follows the table
        is rendered.
        """
        splitter = region.splitter
        state = region.tail_table
        assert splitter is not None
        if state is not None:
            base = splitter.done_length - len(markdown)
            tables = splitter.tables_in(base)
            plan = plan_tables(tables, self._cells_left(region))
            table = next((t for t in plan.as_text if t.start == state.start), None)
            shown = [t.start for t in region.tail_tables]
            if (
                table is not None
                and table.end >= state.shown_to
                and [t.start for t in plan.as_text if t.start <= table.start] == shown
            ):
                if table.end > state.shown_to:
                    self._grow_text_table(region, region.text[state.shown_to : table.end])
                before = plan_tables(
                    [t for t in tables if t.start <= table.start], self._cells_left(region)
                )
                region.done_chars += region.tail_chars
                region.tail_chars = 0
                region.code_blocks += region.tail_code_blocks
                region.table_cells += before.cells
                region.text_tables.extend(before.as_text)
                _forget_tail_tables(region)
                markdown = markdown[table.end - base :]
        self._render_done(region, markdown)

    def _render_done(self, region: Region, markdown: str) -> None:
        """Drop the tail and render newly finished blocks (the end of the text
        fed to the splitter) after the done part."""
        splitter = region.splitter
        assert splitter is not None
        position = region.done_end
        self._replace(self.document, position, region.tail_chars, None)
        region.tail_chars = 0
        _forget_tail_tables(region)
        base = splitter.done_length - len(markdown)
        added, plan, _column = self._insert_part(
            self.document,
            position,
            markdown,
            base,
            splitter.tables_in(base, splitter.done_length) if "|" in markdown else [],
            self._cells_left(region),
        )
        labels, count = self._label_code_blocks(
            self.document, region.message_id, position, position + added, region.code_blocks
        )
        region.done_chars += added + labels
        region.code_blocks += count
        region.table_cells += plan.cells
        region.text_tables.extend(plan.as_text)

    def _rerender_tail(self, region: Region, *, final: bool) -> None:
        splitter = region.splitter
        tail = splitter.tail if splitter is not None else ""
        base = splitter.done_length if splitter is not None else 0
        tables = splitter.tables_in(base) if splitter is not None and "|" in tail else []
        position = region.done_end
        self._replace(self.document, position, region.tail_chars, None)
        added, plan, column = self._insert_part(
            self.document, position, tail, base, tables, self._cells_left(region)
        )
        labels, count = self._label_code_blocks(
            self.document, region.message_id, position, position + added, region.code_blocks
        )
        region.tail_chars = added + labels
        region.tail_code_blocks = count
        region.tail_tables = plan.as_text
        region.tail_table = None
        last = plan.as_text[-1] if plan.as_text else None
        if not final and last is not None and last.open and not tail[last.end - base :].strip():
            # Rows that come next are appended to it (see _grow_tail_table).
            region.tail_table = TailTable(last.start, last.end, column)
        region.tail_plain = (
            not final and region.tail_table is None and len(tail) + plan.cost > TAIL_MARKDOWN_LIMIT
        )
        region.tail_fence = splitter.fence if splitter is not None else None
        if region.tail_plain:
            region.plain_column = self.document.findBlock(region.tail_end).length() - 1

    def _grow_tail_table(self, region: Region) -> bool:
        """Append the rows that arrived to the table the tail shows as text.

        False if the tail has changed otherwise (a table ended and text
        follows it, or the tables' plan changed): it must be rendered again.
        """
        state = region.tail_table
        splitter = region.splitter
        assert state is not None and splitter is not None
        plan = plan_tables(splitter.tables_in(splitter.done_length), self._cells_left(region))
        if [t.start for t in plan.as_text] != [t.start for t in region.tail_tables]:
            return False
        last = plan.as_text[-1]
        if last.start != state.start or last.end < state.shown_to:
            return False
        if region.text[last.end :].strip():
            return False
        if last.end > state.shown_to:
            self._grow_text_table(region, region.text[state.shown_to : last.end])
        region.tail_tables = plan.as_text
        return True

    def _tail_tables_unchanged(self, region: Region) -> bool:
        """Whether the tail's tables are still shown as the tail shows them."""
        splitter = region.splitter
        assert splitter is not None
        tables = splitter.tables_in(splitter.done_length)
        if not tables and not region.tail_tables:
            return True
        plan = plan_tables(tables, self._cells_left(region))
        return [t.start for t in plan.as_text] == [t.start for t in region.tail_tables]

    @staticmethod
    def _cells_left(region: Region) -> int:
        return MESSAGE_TABLE_CELLS - region.table_cells

    def _insert_part(
        self,
        doc: QTextDocument,
        position: int,
        text: str,
        base: int,
        tables: Sequence[TableSpan],
        cells_left: int,
    ) -> tuple[int, TablePlan, int]:
        """Render ``text`` (at ``base`` in the message text) as new blocks after
        ``position``: Markdown, and the tables too large to lay out as text.

        ``tables`` are those of the splitter from ``base`` on. Returns the
        characters added, the plan, and the length of the last line of a
        table shown as text that ends the part.
        """
        plan = plan_tables(tables, cells_left)
        self.stats.table_cells += plan.cells
        start = position
        done = 0  # characters of ``text`` rendered
        column = 0
        for table in plan.as_text:
            position += self._replace(doc, position, 0, text[done : table.start - base])
            added, column = self._insert_text_table(
                doc, position, text[table.start - base : table.end - base]
            )
            position += added
            done = table.end - base
        position += self._replace(doc, position, 0, text[done:])
        return position - start, plan, column

    def _insert_text_table(self, doc: QTextDocument, position: int, source: str) -> tuple[int, int]:
        """A table's source as a label and monospace lines, after ``position``.

        Returns (characters added, length of the last line).
        """
        self.stats.text_tables += 1
        self.stats.text_table_chars += len(source)
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        label_format = QTextBlockFormat()
        label_format.setProperty(BLOCK_KIND, int(BlockKind.TABLE_TEXT))
        label_format.setTopMargin(8.0)
        label_format.setBottomMargin(2.0)
        muted = QTextCharFormat()
        muted.setForeground(self._theme.code_label)
        muted.setFontPointSize(max(7.0, self._font.pointSizeF() * 0.85))
        cursor.insertBlock(label_format, muted)
        cursor.insertText(TABLE_TEXT_LABEL, muted)
        line_format = QTextBlockFormat()
        line_format.setProperty(BLOCK_KIND, int(BlockKind.TABLE_TEXT))
        line_format.setBottomMargin(0.0)
        mono = self._table_text_format()
        cursor.insertBlock(line_format, mono)
        lines, column = wrap_plain(source.replace("\r", ""), 0, PLAIN_LINE_CHARS)
        cursor.insertText(lines, mono)
        return doc.characterCount() - before, column

    def _grow_text_table(self, region: Region, text: str) -> None:
        """Append source text to the table the tail shows as text."""
        state = region.tail_table
        assert state is not None
        lines, state.column = wrap_plain(text.replace("\r", ""), state.column, PLAIN_LINE_CHARS)
        doc = self.document
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(region.tail_end)
        cursor.insertText(lines, self._table_text_format())
        region.tail_chars += doc.characterCount() - before
        state.shown_to += len(text)
        self.stats.plain_appends += 1

    def _table_text_format(self) -> QTextCharFormat:
        # The font the importer gives code blocks.
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono = QTextCharFormat()
        mono.setFontFamilies([fixed.family()])
        if fixed.pointSizeF() > 0:
            mono.setFontPointSize(fixed.pointSizeF())
        return mono

    def _label_code_blocks(
        self, doc: QTextDocument, message_id: int, start: int, end: int, first_index: int
    ) -> tuple[int, int]:
        """Put a "lang  Copy" line above each code block in ``start..end``.

        Returns (characters added, code blocks found).
        """
        if end <= start:
            return 0, 0
        added = 0
        count = 0
        run_start = -1
        previous = QTextBlock()
        # Most blocks share a few formats: look each format up once (indices
        # stay valid here, formats are only added while labelling).
        code_formats: dict[int, bool] = {}
        block = doc.findBlock(start + 1)
        while block.isValid() and block.position() < end + added:
            index = block.blockFormatIndex()
            is_code = code_formats.get(index)
            if is_code is None:
                is_code = code_formats[index] = block.blockFormat().hasProperty(CODE_LANGUAGE)
            if is_code and run_start < 0:
                position = block.position()
                chars = self._insert_code_label(
                    doc, block, block.blockFormat(), message_id, first_index + count
                )
                added += chars
                count += 1
                block = doc.findBlock(position + chars)
                run_start = block.position()
            elif not is_code and run_start >= 0:
                _finish_code_run(doc, run_start, previous)
                run_start = -1
            previous = block
            block = block.next()
        if run_start >= 0:
            _finish_code_run(doc, run_start, previous)
        return added, count

    def _insert_code_label(
        self,
        doc: QTextDocument,
        block: QTextBlock,
        block_format: QTextBlockFormat,
        message_id: int,
        index: int,
    ) -> int:
        before = doc.characterCount()
        position = block.position()
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        # Split the code block's first line off its start: the empty block
        # left in front becomes the label, the code keeps its own format.
        cursor.insertBlock(block_format, block.charFormat())
        cursor.setPosition(position)
        label_format = QTextBlockFormat(block_format)
        for prop in (CODE_LANGUAGE, CODE_FENCE, _P.BlockNonBreakableLines):
            label_format.clearProperty(prop)
        label_format.setProperty(BLOCK_KIND, int(BlockKind.CODE_LABEL))
        label_format.setProperty(BLOCK_MESSAGE, message_id)
        label_format.setTopMargin(8.0)
        label_format.setBottomMargin(2.0)
        muted = QTextCharFormat()
        muted.setForeground(self._theme.code_label)
        font_size = max(7.0, self._font.pointSizeF() * 0.85)
        muted.setFontPointSize(font_size)
        cursor.setBlockFormat(label_format)
        cursor.setBlockCharFormat(muted)
        info = block_format.property(CODE_LANGUAGE)
        language = info.split()[0] if isinstance(info, str) and info.strip() else "code"
        cursor.insertText(language, muted)
        cursor.insertText("    ", muted)
        link = self._link_format(action_url("copy-code", message_id, index))
        link.setFontPointSize(font_size)
        cursor.insertText("Copy", link)
        return doc.characterCount() - before

    # ------------------------------------------------------------ status line

    def _last_assistant(self) -> Region | None:
        return self._last_assistant_of(self._regions) or self._last_assistant_of(self._hidden)

    @staticmethod
    def _last_assistant_of(regions: Sequence[Region]) -> Region | None:
        for region in reversed(regions):
            if region.role is Role.ASSISTANT:
                return region
        return None

    def _status_for(self, region: Region, last: Region | None) -> StatusLine:
        return status_line(
            region.message_id,
            region.role,
            region.status,
            region.error,
            region.reason,
            last_assistant=region is last,
            hidden_chars=region.hidden_chars,
            total_chars=len(region.text),
            text_tables=[(t.rows, t.columns) for t in (*region.text_tables, *region.tail_tables)],
        )

    def _refresh_status(self, region: Region) -> None:
        line = self._status_for(region, self._last_assistant())
        if line == region.status_shown and (region.status_chars > 0) == (not line.is_empty):
            return
        old_length = region.length
        position = region.tail_end
        self._replace(self.document, position, region.status_chars, None)
        region.status_chars = self._insert_status(self.document, position, line)
        region.status_shown = line
        self._shift_after(region, region.length - old_length)

    def _insert_status(self, doc: QTextDocument, position: int, line: StatusLine) -> int:
        if line.is_empty:
            return 0
        theme = self._theme
        before = doc.characterCount()
        block_format = QTextBlockFormat()
        block_format.setProperty(BLOCK_KIND, int(BlockKind.STATUS))
        block_format.setTopMargin(4.0)
        size = max(7.0, self._font.pointSizeF() * 0.9)
        text_format = QTextCharFormat()
        text_format.setFontPointSize(size)
        text_format.setForeground(theme.error if line.tone == "error" else theme.muted)
        if line.tone == "live":
            text_format.setFontItalic(True)
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.insertBlock(block_format, text_format)
        if line.text:
            cursor.insertText(line.text, text_format)
        separator_format = QTextCharFormat(text_format)
        separator_format.setFontItalic(False)
        for index, (label, href) in enumerate(line.actions):
            if index:
                cursor.insertText("  ·  ", separator_format)
            elif line.text:
                cursor.insertText("    ", separator_format)
            link = self._link_format(href)
            link.setFontPointSize(size)
            link.setFontWeight(QFont.Weight.DemiBold)
            cursor.insertText(label, link)
        return doc.characterCount() - before

    # ----------------------------------------------------------- primitives

    def _replace(
        self,
        doc: QTextDocument,
        position: int,
        length: int,
        markdown: str | None,
        *,
        plain: str | None = None,
        fragment: QTextDocumentFragment | None = None,
    ) -> int:
        """Replace ``length`` characters at ``position`` with rendered Markdown
        (new blocks after ``position``), plain text or a fragment; return the
        change in document length."""
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        if length:
            # The empty block Qt keeps after a table takes the format of the
            # last block removed behind it (a table shown as text, a code
            # line): it keeps its own.
            kept = cursor.block() if _after_table(doc, position) else None
            cursor.setPosition(position + length, _KEEP)
            cursor.removeSelectedText()
            if kept is not None:
                cursor.setBlockFormat(kept.blockFormat())
                cursor.setBlockCharFormat(kept.charFormat())
        if markdown is not None and markdown.strip():
            self._insert_markdown(cursor, markdown)
        elif fragment is not None and not fragment.isEmpty():
            cursor.insertFragment(fragment)
        elif plain:
            cursor.insertText(plain)
        return doc.characterCount() - before

    def _insert_markdown(self, cursor: QTextCursor, markdown: str) -> None:
        """Insert Markdown at ``cursor`` as new blocks after its block.

        A fragment that starts with text would merge its first block into the
        block at the cursor and lose that block's format (a heading's level, a
        code block's language). So the Markdown is imported behind a one-letter
        paragraph: that letter joins the cursor's block and the paragraph
        separator after it starts the new blocks, each with its own format;
        then the letter is removed. The fragment is imported straight into its
        own document (``fromMarkdown``), never copied out of a scratch one.
        """
        doc = cursor.document()
        position = cursor.position()
        fragment = QTextDocumentFragment.fromMarkdown(
            "x\n\n" + end_tables_before_blocks(markdown), MARKDOWN_FEATURES
        )
        self.stats.markdown_imports += 1
        self.stats.markdown_chars += len(markdown)
        cursor.insertFragment(fragment)
        end = cursor.position()
        cursor.setPosition(position)
        cursor.setPosition(position + 1, _KEEP)
        cursor.removeSelectedText()
        if _may_hold_action_links(markdown):
            # The new blocks only: the cursor's block may hold the view's own links.
            _strip_action_links(doc, position + 1, end - 1)

    def _index(self, region: Region) -> int:
        if self._regions and self._regions[-1] is region:
            return len(self._regions) - 1
        return self._regions.index(region)

    def _shift_after(self, region: Region, delta: int) -> None:
        if not delta or (self._regions and self._regions[-1] is region):
            return
        for later in self._regions[self._index(region) + 1 :]:
            later.start += delta

    @contextmanager
    def _edit_block(self, *, count: bool = True) -> Iterator[None]:
        with _edit_block(self.document):
            yield
        if count:
            self.stats.updates += 1

    @staticmethod
    def _message_of(region: Region) -> Message:
        return Message(
            id=region.message_id,
            session_id=region.session_id,
            role=region.role,
            content=region.text,
            status=region.status,
            error=region.error,
            reason=region.reason,
            model=region.model,
        )


@contextmanager
def _edit_block(doc: QTextDocument) -> Iterator[None]:
    """Group changes: one contents change, one layout pass, one highlight pass."""
    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    try:
        yield
    finally:
        cursor.endEditBlock()


def _window_start(regions: Sequence[Region], budget: int = WINDOW_CHARS) -> int:
    """Index of the first region of the latest ``budget`` characters worth rendering."""
    total = 0
    index = len(regions)
    while index > 0:
        taken = len(regions) - index
        region = regions[index - 1]
        size = len(region.text) + WINDOW_HEADER_COST + _table_plan(region).cost
        if taken >= WINDOW_MIN_MESSAGES and (total + size > budget or taken >= WINDOW_MAX_MESSAGES):
            break
        total += size
        index -= 1
    return index


def _role_label(role: Role) -> str:
    return {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "System"}[role]


def _is_plain_paragraph(block: QTextBlock, cursor: QTextCursor) -> bool:
    block_format = block.blockFormat()
    return (
        block.textList() is None
        and not block_format.hasProperty(CODE_LANGUAGE)
        and not block_format.hasProperty(_P.BlockQuoteLevel)
        and block_format.headingLevel() == 0
        and cursor.currentTable() is None
    )


def _after_table(doc: QTextDocument, position: int) -> bool:
    """Whether ``position`` starts the empty block that follows a table."""
    if position <= 0:
        return False
    block = doc.findBlock(position)
    if block.position() != position or block.length() > 1:
        return False
    cursor = QTextCursor(doc)
    cursor.setPosition(position - 1)
    return cursor.currentTable() is not None


def _finish_code_run(doc: QTextDocument, start: int, last: QTextBlock) -> None:
    """Let a code block's lines wrap, and space it from what follows.

    The importer makes fenced code non-breaking, which would give the whole
    transcript a horizontal scroll bar for one long line.
    """
    cursor = QTextCursor(doc)
    cursor.setPosition(start)
    cursor.setPosition(last.position(), _KEEP)
    wrapping = QTextBlockFormat()
    wrapping.setNonBreakableLines(False)
    cursor.mergeBlockFormat(wrapping)
    block_format = last.blockFormat()
    if block_format.bottomMargin() != CODE_BOTTOM_MARGIN:
        block_format.setBottomMargin(CODE_BOTTOM_MARGIN)
        cursor.setPosition(last.position())
        cursor.setBlockFormat(block_format)


def wrap_plain(text: str, column: int, width: int) -> tuple[str, int]:
    """Break ``text`` into lines of at most ``width`` characters (pure).

    ``column`` is how long the line that ``text`` continues already is.
    Returns the text with line breaks added and the new last line's length.
    """
    if not text:
        return "", column
    out: list[str] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            out.append("\n")
            column = 0
        while len(line) > width - column:
            cut = max(0, width - column)
            out.append(line[:cut])
            out.append("\n")
            line = line[cut:]
            column = 0
        out.append(line)
        column += len(line)
    return "".join(out), column


def _oversize(region: Region) -> bool:
    return len(region.text) > MARKDOWN_LIMIT


def _table_plan(region: Region) -> TablePlan:
    """The plan for the tables of a message's Markdown part (kept while its text is)."""
    text = region.text
    cached = region.table_plan
    if cached is not None and cached[:2] == (len(text), hash(text)):
        return cached[2]
    plan = plan_text(text[:MARKDOWN_LIMIT])
    region.table_plan = (len(text), hash(text), plan)
    return plan


def _renders_alone(region: Region) -> bool:
    """Whether a message is rendered on its own, outside the one-text import:
    it is too long, or it holds a table shown as text."""
    return _oversize(region) or bool(_table_plan(region).as_text)


def _deferred(region: Region, defer_live: bool) -> bool:
    """Whether a bulk render leaves this body out (it is rendered on its own)."""
    return (defer_live and region.status.is_live) or _renders_alone(region)


def _forget_tables(region: Region) -> None:
    region.table_cells = 0
    region.text_tables = []
    _forget_tail_tables(region)


def _forget_tail_tables(region: Region) -> None:
    region.tail_tables = ()
    region.tail_code_blocks = 0
    region.tail_table = None


def _may_hold_code(text: str) -> bool:
    return "```" in text or "~~~" in text or "    " in text or "\t" in text


def _may_hold_action_links(markdown: str) -> bool:
    # "&#" covers links whose scheme is spelled with character references.
    return ACTION_SCHEME in markdown.lower() or "&#" in markdown


def _strip_action_links(doc: QTextDocument, start: int, end: int) -> None:
    """Turn ``sidestream:`` links that came from message text into plain text.

    Only the view's own controls may carry action anchors; a model must not
    be able to render a "Retry" link of its own.
    """
    block = doc.findBlock(start)
    cursor = QTextCursor(doc)
    while block.isValid() and block.position() < end:
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            char_format = fragment.charFormat()
            href = char_format.anchorHref()
            if char_format.isAnchor() and href.strip().lower().startswith(ACTION_SCHEME):
                plain = QTextCharFormat(char_format)
                plain.setAnchor(False)
                plain.setAnchorHref("")
                plain.clearForeground()
                cursor.setPosition(fragment.position())
                cursor.setPosition(fragment.position() + fragment.length(), _KEEP)
                cursor.setCharFormat(plain)
                log.debug("Disarmed an action link in message text: %s", href)
            iterator.__iadd__(1)
        block = block.next()
