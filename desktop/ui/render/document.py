"""The transcript of one chat as one QTextDocument, updated incrementally.

Every message owns a contiguous *region* of the document::

    header      "Assistant · model   Copy   ‹ 2/3 ›"   (one block)
    files       a user message's attached files       (0..1 block)
    thinking    "Thought for 12 s ▸", or the reasoning  (0..n blocks)
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
- :mod:`~desktop.ui.render.thinking`: a reply's reasoning above its answer,
  streamed in O(new reasoning), closed to one line once the answer starts;
- :mod:`~desktop.ui.render.text_tables`: tables too large to lay out;
- :mod:`~desktop.ui.render.code_labels`: the line above each code block;
- :mod:`~desktop.ui.render.chrome`: headers and status lines;
- :mod:`~desktop.ui.render.attachments`: the files line of a user message;
- :mod:`~desktop.ui.render.versions`: the version switcher in a header;
- :mod:`~desktop.ui.render.edit`: Markdown imports and removals.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from PySide6.QtGui import QFont, QTextDocument

from desktop.core.models import Attachment, Message
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.ui.render.attachments import image_url, write_files
from desktop.ui.render.body import TAIL_MARKDOWN_LIMIT, BodyRenderer
from desktop.ui.render.bulk import BulkRenderer
from desktop.ui.render.chrome import (
    Style,
    header_link,
    insert_status,
    status_for,
)
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
from desktop.ui.render.thinking import THINKING_LIMIT, ThinkingRenderer
from desktop.ui.render.versions import VersionMark, version_mark
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
    "THINKING_LIMIT",
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
        self._waiting: set[int] = set()  # live replies waiting for their first token
        # Each message's versions, kept for the messages shown later; and the
        # messages whose header shows a switcher.
        self._versions: dict[int, tuple[int, ...]] = {}
        self._marked: set[int] = set()
        # The images attached to the messages, by the name of their thumbnail
        # (render.attachments.image_url): the view resolves only these.
        self._images: dict[str, Attachment] = {}
        self.stats = RenderStats()
        self.highlighter: CodeHighlighter
        self.document: QTextDocument
        self._window: Window
        self._body: BodyRenderer
        self._bulk: BulkRenderer
        self._thinking: ThinkingRenderer
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

    def newest_versions(self) -> VersionMark | None:
        """The switcher of the newest message shown that has versions, if any."""
        for regions in (self._window.regions, self._window.hidden):
            for region in reversed(regions):
                if region.versions is not None:
                    return region.versions
        return None

    def attachment(self, message_id: int, index: int) -> Attachment | None:
        """A message's ``index``-th attached file, or None."""
        region = self._by_id.get(message_id)
        if region is None or not 0 <= index < len(region.attachments):
            return None
        return region.attachments[index]

    def image(self, url: str) -> Attachment | None:
        """The attached image whose thumbnail is named ``url``, or None (a name
        the transcript did not write, such as one in message text)."""
        return self._images.get(url)

    def header_link(self, message_id: int, href: str) -> tuple[int, int] | None:
        """Where a link of a rendered message's header is: (start, end), or None."""
        region = self._by_id.get(message_id)
        if region is None or not region.in_document:
            return None
        return header_link(self.document, region, href)

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
        self.load(messages, window=shown, carry=dict(self._by_id))

    def load(
        self,
        messages: Sequence[Message],
        *,
        window: int | None = None,
        carry: Mapping[int, Region] | None = None,
    ) -> None:
        """Replace the whole transcript; builds a new :attr:`document`.

        ``window`` forces how many of the latest messages to render; ``carry``
        holds regions shown before whose view state goes on (a Thinking
        section the user opened or closed, a wait being counted).
        """
        seen: set[int] = set()
        regions: list[Region] = []
        for message in messages:
            if message.id in seen:
                log.warning("Message %d appears twice in a transcript; keeping one", message.id)
                continue
            seen.add(message.id)
            region = Region.from_message(message)
            region.versions = self._mark(message.id)
            before = carry.get(message.id) if carry is not None else None
            if before is not None:
                region.thinking.pinned = before.thinking.pinned
                if region.status.is_live:
                    region.waiting_since = before.waiting_since
            regions.append(region)
        self.stats.loads += 1
        self._by_id = {region.message_id: region for region in regions}
        self._images = {}
        for region in regions:
            self._note_images(region)
        self._waiting = {r.message_id for r in regions if r.waiting_since is not None}
        self._marked = {r.message_id for r in regions if r.versions is not None}
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
        region.versions = self._mark(message.id)
        if region.versions is not None:
            self._marked.add(message.id)
        previous_last = self._window.last_assistant()
        self._note_images(region)
        with self._edit_block():
            self._window.append(region)
            self._by_id[region.message_id] = region
            region.files_chars = write_files(self.document, region, region.files_start, self._style)
            self._sync_thinking(region)
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
        self._waiting.discard(message_id)
        self._marked.discard(message_id)
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
        if text:
            self._end_wait(region)
        if not region.in_document:
            region.text = text
            return False
        with self._edit_block():
            self._rebuild_body(region, text)
            self._sync_thinking(region)  # the answer started (or went): open or close
        return True

    def append(self, message_id: int, text: str) -> bool:
        region = self._by_id.get(message_id)
        if region is None or not text:
            return False
        self._end_wait(region)
        if not region.in_document:
            region.text += text
            return False
        answer_starts = not region.text
        with self._edit_block():
            old_length = region.length
            if region.splitter is None:
                self._body.rebuild(region, region.text + text)
            else:
                self._body.extend(region, text)
            self._window.shift_after(region, region.length - old_length)
            if answer_starts:
                self._sync_thinking(region)  # the answer starts: the thinking closes
            self._refresh_status(region)
        return True

    def append_reasoning(self, message_id: int, text: str) -> bool:
        """Add reasoning after what a message holds (shown while its section is open)."""
        region = self._by_id.get(message_id)
        if region is None or not text:
            return False
        self._end_wait(region)
        region.reasoning += text
        if not region.in_document:
            return False
        with self._edit_block():
            self._sync_thinking(region)
            self._refresh_status(region)
        return True

    def replace_reasoning(self, message_id: int, reasoning: str) -> bool:
        """Make a message's reasoning ``reasoning`` instead of what it holds."""
        region = self._by_id.get(message_id)
        if region is None or reasoning == region.reasoning:
            return False
        if reasoning:
            self._end_wait(region)
        region.reasoning = reasoning
        if not region.in_document:
            return False
        with self._edit_block():
            old_length = region.length
            self._thinking.rewrite(region)
            self._window.shift_after(region, region.length - old_length)
            self._refresh_status(region)
        return True

    def set_details(
        self,
        message_id: int,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        reasoning_seconds: float | None = None,
        waiting_since: float | None = None,
    ) -> bool:
        """Record what became known about a reply (None: not known, unchanged):
        its usage, how long it reasoned, since when a live one waits for its
        first token (until its first text or reasoning, or its end)."""
        region = self._by_id.get(message_id)
        if region is None:
            return False
        changed = False
        if input_tokens is not None and input_tokens != region.input_tokens:
            region.input_tokens, changed = input_tokens, True
        if output_tokens is not None and output_tokens != region.output_tokens:
            region.output_tokens, changed = output_tokens, True
        if reasoning_seconds is not None and reasoning_seconds != region.reasoning_seconds:
            region.reasoning_seconds, changed = reasoning_seconds, True
        if (
            waiting_since is not None
            and waiting_since != region.waiting_since
            and region.status.is_live
        ):
            region.waiting_since, changed = waiting_since, True
            self._waiting.add(message_id)
        if not changed or not region.in_document:
            return False
        with self._edit_block():
            self._sync_thinking(region)
            self._refresh_status(region)
        return True

    def set_versions(self, versions: Mapping[int, tuple[int, ...]]) -> int:
        """Each message's versions (itself and its siblings, oldest first; a
        message left out has one). Kept for messages shown later; the headers
        shown whose switcher changed are written again, one block each (never
        one edit spanning the transcript, which would lay all of it out
        again). Returns how many headers were written."""
        self._versions = dict(versions)
        by_id = self._by_id
        changed: list[Region] = []
        for message_id in self._marked | (self._versions.keys() & by_id.keys()):
            region = by_id[message_id]
            mark = self._mark(message_id)
            if mark != region.versions:
                region.versions = mark
                changed.append(region)
                if mark is None:
                    self._marked.discard(message_id)
                else:
                    self._marked.add(message_id)
        written = self._window.rewrite_headers([r for r in changed if r.in_document])
        self.stats.header_renders += written
        if written:
            self.stats.updates += 1
        return written

    def toggle_thinking(self, message_id: int) -> bool:
        """Open a reply's Thinking section, or close it (the user's choice, kept)."""
        region = self._by_id.get(message_id)
        if region is None or not region.reasoning or not region.in_document:
            return False
        region.thinking.pinned = not region.thinking.open
        with self._edit_block():
            self._sync_thinking(region)
        return True

    # ------------------------------------------------------- waiting replies

    def next_wait_tick_ms(self, now: float | None = None) -> int | None:
        """Milliseconds until a wait shown counts up its next second (None:
        nothing waits for its first token)."""
        if not self._waiting:
            return None
        now = time.time() if now is None else now
        ticks = []
        for message_id in self._waiting:
            region = self._by_id.get(message_id)
            if region is None or region.waiting_since is None:
                continue
            waited = max(0.0, now - region.waiting_since)
            ticks.append(math.ceil((1.0 - waited % 1.0) * 1000) + 5)
        return min(ticks) if ticks else None

    def refresh_waiting(self) -> bool:
        """Redo the status lines of the replies waiting for their first token
        whose count moved on; True if any changed."""
        last = self._window.last_assistant()
        stale = []
        for message_id in self._waiting:
            region = self._by_id.get(message_id)
            if (
                region is not None
                and region.in_document
                and status_for(region, last) != region.status_shown
            ):
                stale.append(region)
        if not stale:
            return False
        with self._edit_block():
            for region in stale:
                self._refresh_status(region)
        return True

    def set_state(
        self,
        message_id: int,
        status: MessageStatus,
        error: str | None = None,
        reason: str | None = None,
        finish: FinishReason | None = None,
    ) -> bool:
        """A message's state: its status, error, interruption reason, and why
        the model ended it (a completed reply)."""
        region = self._by_id.get(message_id)
        if region is None:
            return False
        state = (status, error, reason, finish)
        if (region.status, region.error, region.reason, region.finish) == state:
            return False
        region.status, region.error, region.reason, region.finish = state
        if status.is_terminal:
            self._end_wait(region)
        if not region.in_document:
            return False
        with self._edit_block():
            if status.is_terminal:
                old_length = region.length
                self._body.finish(region)  # a plain tail becomes Markdown: its length changes
                self._window.shift_after(region, region.length - old_length)
            self._sync_thinking(region)
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
        self._thinking = ThinkingRenderer(doc, self._style, self.stats)

    def _note_images(self, region: Region) -> None:
        for attachment in region.attachments:
            self._images[image_url(attachment)] = attachment

    def _mark(self, message_id: int) -> VersionMark | None:
        siblings = self._versions.get(message_id)
        return None if siblings is None else version_mark(message_id, siblings)

    def _rebuild_body(self, region: Region, text: str) -> None:
        """Render a message body from scratch, split for incremental updates."""
        old_length = region.length
        self._body.rebuild(region, text)
        self._window.shift_after(region, region.length - old_length)
        self._refresh_status(region)

    def _sync_thinking(self, region: Region) -> None:
        """Bring a region's Thinking section in line with its state."""
        old_length = region.length
        self._thinking.sync(region)
        self._window.shift_after(region, region.length - old_length)

    def _end_wait(self, region: Region) -> None:
        """The reply's first token came (or it ended): it waits no more."""
        if region.waiting_since is not None:
            region.waiting_since = None
            self._waiting.discard(region.message_id)

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
