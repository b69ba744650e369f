"""Which messages are in the document, in what order, and where each starts.

``load`` renders only the latest ``WINDOW_CHARS`` of the transcript (laying
out a megabyte of old chat costs seconds whatever the method); older
messages stay *hidden* until the user scrolls to the top, and then come in
batches of ``EARLIER_BATCH_CHARS`` (smaller: a batch is laid out while the
user scrolls), behind a "Show earlier messages" line.

The rendered regions are kept in document order with their start positions;
a change to one region moves those after it by its change in length.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
)

from desktop.core.states import Role
from desktop.ui.render.chrome import Style, fill_header, rewrite_header, set_header_gap
from desktop.ui.render.edit import KEEP, edit_block, insert_fragment, remove
from desktop.ui.render.region import BLOCK_KIND, BlockKind, Region, table_plan
from desktop.ui.render.status import action_url

# The window rendered on load, and the batch "Show earlier messages" adds.
WINDOW_CHARS = 40_000
EARLIER_BATCH_CHARS = 20_000
WINDOW_MIN_MESSAGES = 2
WINDOW_MAX_MESSAGES = 200
WINDOW_HEADER_COST = 200  # a message's fixed cost, in characters of text


def window_start(regions: Sequence[Region], budget: int = WINDOW_CHARS) -> int:
    """Index of the first region of the latest ``budget`` characters worth rendering."""
    total = 0
    index = len(regions)
    while index > 0:
        taken = len(regions) - index
        region = regions[index - 1]
        size = len(region.text) + WINDOW_HEADER_COST + table_plan(region).cost
        if taken >= WINDOW_MIN_MESSAGES and (total + size > budget or taken >= WINDOW_MAX_MESSAGES):
            break
        total += size
        index -= 1
    return index


class Window:
    """The regions in one document, in order, and the older ones not in it yet.

    Adds and removes regions' places in the document (a region's header is
    written here; its body and status line are the caller's) and keeps the
    "Show earlier messages" line and the gap above the first header right.
    """

    def __init__(
        self, document: QTextDocument, style: Style, hidden: list[Region], regions: list[Region]
    ) -> None:
        self.document = document
        self._style = style
        self.hidden = hidden  # older messages not rendered yet, in order
        self.regions = regions  # in the document, in order
        self._more_chars = 0  # the "Show earlier messages" block, with its separator

    # ----------------------------------------------------------------- queries

    def region_at(self, position: int) -> Region | None:
        """The rendered region containing a document position."""
        index = bisect_right(self.regions, position, key=lambda r: r.start) - 1
        if index < 0:
            return None
        region = self.regions[index]
        return region if position <= region.end else None

    def regions_between(self, first: int, last: int) -> list[Region]:
        """Rendered regions that overlap positions ``first..last``."""
        index = max(0, bisect_right(self.regions, first, key=lambda r: r.start) - 1)
        found: list[Region] = []
        for region in self.regions[index:]:
            if region.start > last:
                break
            if region.end >= first:
                found.append(region)
        return found

    def last_assistant(self) -> Region | None:
        """The latest assistant message, rendered or hidden."""
        return _last_assistant_of(self.regions) or _last_assistant_of(self.hidden)

    # --------------------------------------------------------------- positions

    def shift_after(self, region: Region, delta: int) -> None:
        """Move the regions after ``region`` by ``delta`` characters."""
        if not delta or (self.regions and self.regions[-1] is region):
            return
        for later in self.regions[self._index(region) + 1 :]:
            later.start += delta

    def _index(self, region: Region) -> int:
        if self.regions and self.regions[-1] is region:
            return len(self.regions) - 1
        return self.regions.index(region)

    # --------------------------------------------------------------- structure

    def append(self, region: Region) -> None:
        """Give a region a place at the end of the document, with its header
        and an empty body."""
        doc = self.document
        first = not self.regions and not self._more_chars
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not first:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        region.start = cursor.position()
        region.in_document = True
        self.regions.append(region)
        region.header_chars = fill_header(cursor, region, self._style, first=first)
        region.done_chars = region.tail_chars = region.status_chars = 0

    def rewrite_headers(self, regions: Sequence[Region]) -> int:
        """Write the headers of these rendered regions again (their switcher
        changed); return how many. Each is its own edit of one block: one
        edit spanning them would have Qt lay out everything between again."""
        deltas: dict[int, int] = {}
        # Back to front: the headers still to write keep their positions.
        for region in sorted(regions, key=lambda r: r.start, reverse=True):
            with edit_block(self.document):
                deltas[region.message_id] = rewrite_header(self.document, region, self._style)
        if len(regions) == 1:
            self.shift_after(regions[0], deltas[regions[0].message_id])
        elif any(deltas.values()):
            shift = 0  # one pass, however many changed
            for region in self.regions:
                region.start += shift
                shift += deltas.get(region.message_id, 0)
        return len(deltas)

    def remove(self, region: Region) -> None:
        """Take a region out, rendered or hidden."""
        if region.in_document:
            self._remove_rendered(region)
            return
        self.hidden.remove(region)
        if self.hidden:
            self._update_more_block()
        else:
            self._remove_more_block()
            if self.regions:
                set_header_gap(self.document, self.regions[0], first=True)

    def next_batch(self) -> list[Region]:
        """The hidden regions :meth:`prepend` shows next (none when none are hidden)."""
        return self.hidden[window_start(self.hidden, EARLIER_BATCH_CHARS) :]

    def prepend(self, batch: list[Region], fragment: QTextDocumentFragment) -> None:
        """Show the batch from :meth:`next_batch`, rendered into ``fragment``
        (starts from 0, led by a paragraph separator), above the regions shown."""
        anchor = self._more_chars - 1  # end of the "earlier" line's text
        inserted = insert_fragment(self.document, anchor, fragment)
        for region in batch:
            region.start += anchor + 1
            region.in_document = True
        for region in self.regions:
            region.start += inserted
        previous_first = self.regions[0] if self.regions else None
        del self.hidden[len(self.hidden) - len(batch) :]
        self.regions[:0] = batch
        if previous_first is not None:
            set_header_gap(self.document, previous_first, first=False)
        if self.hidden:
            set_header_gap(self.document, batch[0], first=False)
            self._update_more_block()
        else:
            self._remove_more_block()
            set_header_gap(self.document, batch[0], first=True)

    def _remove_rendered(self, region: Region) -> None:
        index = self._index(region)
        if len(self.regions) == 1:
            # The last region: everything after the "earlier" line goes.
            start = self._more_chars - 1 if self._more_chars else 0
            length = self.document.characterCount() - 1 - start
        elif index == 0 and not self._more_chars:
            start, length = 0, self.regions[1].start
        else:
            start, length = region.start - 1, region.length + 1
        remove(self.document, start, length)
        del self.regions[index]
        region.in_document = False
        for later in self.regions[index:]:
            later.start -= length
        if not self.regions and not self._more_chars:
            QTextCursor(self.document).setBlockFormat(QTextBlockFormat())
        elif index == 0 and self.regions:
            set_header_gap(self.document, self.regions[0], first=not self._more_chars)

    # ------------------------------------------------- the "earlier" line

    def insert_more_block(self) -> None:
        """Put the "Show earlier messages" line above the regions shown."""
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
        cursor.insertText(self._more_text(), self._style.link(action_url("earlier", 0)))
        self._more_chars = doc.characterCount() - before
        for region in self.regions:
            region.start += self._more_chars
        if self.regions:
            set_header_gap(doc, self.regions[0], first=False)

    def _more_text(self) -> str:
        count = len(self.hidden)
        return f"Show {count} earlier message{'s' if count != 1 else ''}"

    def _update_more_block(self) -> None:
        doc = self.document
        before = doc.characterCount()
        cursor = QTextCursor(doc)
        cursor.setPosition(self._more_chars - 1, KEEP)
        cursor.insertText(self._more_text(), self._style.link(action_url("earlier", 0)))
        delta = doc.characterCount() - before
        self._more_chars += delta
        for region in self.regions:
            region.start += delta

    def _remove_more_block(self) -> None:
        if not self._more_chars:
            return
        length = self._more_chars
        if not self.regions:
            length -= 1  # nothing after it: keep the document's last block
        remove(self.document, 0, length)
        self._more_chars = 0
        for region in self.regions:
            region.start -= length
        if not self.regions:
            QTextCursor(self.document).setBlockFormat(QTextBlockFormat())


def _last_assistant_of(regions: Sequence[Region]) -> Region | None:
    for region in reversed(regions):
        if region.role is Role.ASSISTANT:
            return region
    return None
