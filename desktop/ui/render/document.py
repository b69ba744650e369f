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

:class:`TranscriptDocument` is the one way in; it opens an edit block per
change, has the part concerned rendered, then moves the regions after it and
refreshes the status lines. The parts, and their costs (see DESIGN.md,
"Costs measured on these machines"), are in their own modules:

- :mod:`~desktop.ui.render.region`: the region model, block marks, limits;
- :mod:`~desktop.ui.render.window`: the latest ``WINDOW_CHARS`` on load,
  earlier messages in batches behind "Show earlier messages";
- :mod:`~desktop.ui.render.bulk`: many messages as one Markdown import;
- :mod:`~desktop.ui.render.body`: a body rendered whole, then per update in
  O(new text + tail); huge messages past ``MARKDOWN_LIMIT`` as plain text;
- :mod:`~desktop.ui.render.text_tables`: tables too large to lay out;
- :mod:`~desktop.ui.render.code_labels`: the line above each code block;
- :mod:`~desktop.ui.render.chrome`: headers and status lines;
- :mod:`~desktop.ui.render.edit`: Markdown imports and removals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from PySide6.QtGui import QFont, QTextDocument

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.ui.render.body import TAIL_MARKDOWN_LIMIT, BodyRenderer
from desktop.ui.render.bulk import BulkRenderer
from desktop.ui.render.chrome import Style, insert_status, status_for
from desktop.ui.render.code_labels import code_text
from desktop.ui.render.edit import (
    MARKDOWN_FEATURES,
    PLAIN_LINE_CHARS,
    edit_block,
    remove,
    wrap_plain,
)
from desktop.ui.render.highlight import CodeHighlighter
from desktop.ui.render.region import (
    BLOCK_KIND,
    BLOCK_MESSAGE,
    CODE_LANGUAGE,
    DISPLAY_LIMIT,
    MARKDOWN_LIMIT,
    BlockKind,
    Region,
    RenderStats,
    renders_alone,
)
from desktop.ui.render.text_tables import TABLE_TEXT_LABEL
from desktop.ui.render.theme import Theme
from desktop.ui.render.window import WINDOW_CHARS, Window, window_start

__all__ = [
    "BLOCK_KIND",
    "BLOCK_MESSAGE",
    "CODE_LANGUAGE",
    "DISPLAY_LIMIT",
    "MARKDOWN_FEATURES",
    "MARKDOWN_LIMIT",
    "PLAIN_LINE_CHARS",
    "TABLE_TEXT_LABEL",
    "TAIL_MARKDOWN_LIMIT",
    "WINDOW_CHARS",
    "BlockKind",
    "Region",
    "RenderStats",
    "TranscriptDocument",
    "wrap_plain",
]

log = logging.getLogger("sidestream.ui")

DOCUMENT_MARGIN = 14.0


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
        self._style = Style(theme, font)
        self._by_id: dict[int, Region] = {}
        self.stats = RenderStats()
        self.highlighter: CodeHighlighter
        self.document: QTextDocument
        self._window: Window
        self._body: BodyRenderer
        self._bulk: BulkRenderer
        self._new_document([], [])

    # ----------------------------------------------------------------- queries

    def message_ids(self) -> list[int]:
        return [region.message_id for region in (*self._window.hidden, *self._window.regions)]

    def region(self, message_id: int) -> Region | None:
        """The region of a message, rendered or hidden."""
        return self._by_id.get(message_id)

    def regions(self) -> Sequence[Region]:
        """The regions in the document, in order."""
        return self._window.regions

    @property
    def hidden_count(self) -> int:
        """How many older messages are not in the document yet."""
        return len(self._window.hidden)

    def region_at(self, position: int) -> Region | None:
        """The rendered region containing a document position."""
        return self._window.region_at(position)

    def regions_between(self, first: int, last: int) -> list[Region]:
        """Rendered regions that overlap positions ``first..last``."""
        return self._window.regions_between(first, last)

    def code_text(self, message_id: int, index: int) -> str | None:
        """The text of the ``index``-th code block of a message, as rendered."""
        region = self._by_id.get(message_id)
        if region is None or not region.in_document:
            return None
        return code_text(self.document, region, index)

    # ----------------------------------------------------------------- updates

    def set_theme(self, theme: Theme, font: QFont) -> None:
        """Re-render with new colours (after a palette change); keeps what is shown."""
        self._style = Style(theme, font)
        window = self._window
        shown = len(window.regions)
        messages = [region.to_message() for region in (*window.hidden, *window.regions)]
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
        self._by_id = {region.message_id: region for region in regions}
        split = window_start(regions) if window is None else max(0, len(regions) - window)
        self._new_document(regions[:split], regions[split:])
        shown = self._window.regions
        if not shown:
            return
        self._bulk.render_into(self.document, shown, self._window.last_assistant(), defer_live=True)
        with self._edit_block(count=False):
            if self._window.hidden:
                self._window.insert_more_block()
            for region in shown:
                if region.status.is_live or renders_alone(region):
                    self._rebuild_body(region, region.text)

    def show_earlier(self) -> int:
        """Prepend the next batch of hidden messages; returns how many."""
        batch = self._window.next_batch()
        if not batch:
            return 0
        fragment = self._bulk.render_fragment(
            self._make_document, batch, self._window.last_assistant()
        )
        with self._edit_block():
            self._window.prepend(batch, fragment)
            for region in batch:
                if renders_alone(region):
                    self._rebuild_body(region, region.text)
        return len(batch)

    def add(self, message: Message) -> bool:
        """Append a message; False if it is shown already (its text and state
        change through :meth:`append`, :meth:`replace_text` and :meth:`set_state`)."""
        if message.id in self._by_id:
            return False
        region = Region.from_message(message)
        previous_last = self._window.last_assistant()
        with self._edit_block():
            self._window.append(region)
            self._by_id[region.message_id] = region
            self._rebuild_body(region, region.text)
            self._refresh_status(region)
            if (
                region.role is Role.ASSISTANT
                and previous_last is not None
                and previous_last.in_document  # a hidden one has no status line to redo
            ):
                self._refresh_status(previous_last)
        return True

    def remove(self, message_id: int) -> bool:
        region = self._by_id.pop(message_id, None)
        if region is None:
            return False
        was_last_assistant = region is self._window.last_assistant()
        with self._edit_block():
            self._window.remove(region)
            if was_last_assistant:
                new_last = self._window.last_assistant()
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
            old_length = region.length
            if region.splitter is None:
                self._body.rebuild(region, region.text + text)
            else:
                self._body.extend(region, text)
            self._window.shift_after(region, region.length - old_length)
            self._refresh_status(region)
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
            if status.is_terminal:
                old_length = region.length
                self._body.finish(region)  # a plain tail becomes Markdown: its length changes
                self._window.shift_after(region, region.length - old_length)
            self._refresh_status(region)
        return True

    # --------------------------------------------------------------- internals

    def _new_document(self, hidden: list[Region], regions: list[Region]) -> None:
        """Start a new, empty :attr:`document` that will show ``regions``."""
        doc = self._make_document()
        doc.setUndoRedoEnabled(False)
        doc.setDocumentMargin(DOCUMENT_MARGIN)
        doc.setDefaultFont(self._style.font)
        # Attached while the document is empty: attached later, Qt schedules
        # a re-highlight of every block, which on a laid-out document also
        # re-lays out block by block (seconds for a long chat). A document
        # without a layout reports no changes, so the build below highlights
        # nothing; the view's setDocument gives it a layout, which announces
        # the whole content once, and the highlighter does every block then.
        self.highlighter = CodeHighlighter(doc, self._style.theme.syntax)
        self.document = doc
        self._window = Window(doc, self._style, hidden, regions)
        self._body = BodyRenderer(doc, self._style, self.stats)
        self._bulk = BulkRenderer(self._style, self.stats)

    def _rebuild_body(self, region: Region, text: str) -> None:
        """Render a message body from scratch, split for incremental updates."""
        old_length = region.length
        self._body.rebuild(region, text)
        self._window.shift_after(region, region.length - old_length)
        self._refresh_status(region)

    def _refresh_status(self, region: Region) -> None:
        line = status_for(region, self._window.last_assistant())
        if line == region.status_shown and (region.status_chars > 0) == (not line.is_empty):
            return
        old_length = region.length
        position = region.tail_end
        remove(self.document, position, region.status_chars)
        region.status_chars = insert_status(self.document, position, line, self._style)
        region.status_shown = line
        self._window.shift_after(region, region.length - old_length)

    @contextmanager
    def _edit_block(self, *, count: bool = True) -> Iterator[None]:
        with edit_block(self.document):
            yield
        if count:
            self.stats.updates += 1
