"""The Thinking section of a reply: the model's reasoning, above its answer.

::

    header      "Assistant · model   Copy"
    thinking    "Thinking… ▾"  or  "Thought for 12 s ▸"     (the line: 0..1 block)
                the reasoning, as plain text                 (0..n blocks, while open)
    done, tail, status

While the model reasons the section is open and its reasoning streams in:
an update appends only the new reasoning to the last line shown, in lines of
at most ``PLAIN_LINE_CHARS`` (as a plain tail does), so it costs O(new
reasoning) however long the reasoning is. Once the answer starts, or the
reply ends, the section closes to its line. The line is a
``sidestream:thinking/<id>`` action (a click, or Enter on it when it has the
keyboard focus) that opens the whole reasoning, or closes it again; from
then on the section stays as the user left it. A reply without reasoning
has no section.

The reasoning is shown as plain text in a muted, smaller type on a
quote-like panel (the view paints the panel behind ``BlockKind.THINKING``
blocks): a model's reasoning is a draft, not worth Markdown's layout cost.
At most ``THINKING_LIMIT`` characters of it are shown; the line says how
much there is (the export has it all).

Like the body renderer, this module changes its region's part and nothing
else: moving the regions after it is the caller's.
"""

from __future__ import annotations

from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

from desktop.ui.render.chrome import Style
from desktop.ui.render.edit import KEEP, PLAIN_LINE_CHARS, remove, wrap_plain
from desktop.ui.render.region import BLOCK_KIND, BLOCK_MESSAGE, BlockKind, Region, RenderStats
from desktop.ui.render.status import action_url, human_size

# Characters of a reply's reasoning the open section shows (plain text: about
# 50 lines of PLAIN_LINE_CHARS, laid out in tens of milliseconds).
THINKING_LIMIT = 100_000
THINKING_INDENT = 14.0
THINKING_GAP = 10.0  # below the section's last line (its panel ends above it)


def is_open(region: Region) -> bool:
    """Whether the reply's reasoning is shown: as the user left it, else while
    the model still reasons (the reply is live and its answer has not begun)."""
    if not region.reasoning:
        return False
    pinned = region.thinking.pinned
    if pinned is not None:
        return pinned
    return region.status.is_live and not region.text


def thinking_line(region: Region, open_: bool) -> tuple[str, str]:
    """What the section's line says: its label (the action) and a note."""
    arrow = "▾" if open_ else "▸"
    if region.status.is_live and not region.text:
        label = "Thinking…"
    elif region.reasoning_seconds is not None:
        label = f"Thought for {duration(region.reasoning_seconds)}"
    else:
        label = "Reasoning"
    total = len(region.reasoning)
    note = ""
    if open_ and total > THINKING_LIMIT:
        note = (
            f"Showing the first {human_size(THINKING_LIMIT)} of {human_size(total)};"
            " the export has it all."
        )
    return f"{label} {arrow}", note


def duration(seconds: float) -> str:
    """How long the model reasoned, as the line says it: "12 s", "2 min 5 s"."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class ThinkingRenderer:
    """Writes and updates the Thinking sections of one document."""

    def __init__(self, document: QTextDocument, style: Style, stats: RenderStats) -> None:
        self.document = document
        self._style = style
        self._stats = stats

    def write(self, region: Region, position: int) -> None:
        """Write the section at ``position``, the end of the region's header,
        where the region has none in the document."""
        part = region.thinking
        part.line_chars = part.body_chars = part.shown = part.column = 0
        part.open = is_open(region)
        part.line = thinking_line(region, part.open) if region.reasoning else ("", "")
        if not region.reasoning:
            return
        self._stats.thinking_renders += 1
        part.line_chars = self._insert_line(region, position, part.line)
        if part.open:
            self._append(region, position + part.line_chars)

    def rewrite(self, region: Region) -> None:
        """Write the section again from the region's reasoning (it changed whole)."""
        remove(self.document, region.thinking_start, region.thinking.chars)
        self.write(region, region.thinking_start)

    def sync(self, region: Region) -> None:
        """Bring the section in line with the region: its reasoning shown up
        to what arrived, opened or closed as the reply goes, its line."""
        part = region.thinking
        open_ = is_open(region)
        if open_ != part.open or (not region.reasoning) != (part.line_chars == 0):
            self.rewrite(region)
            return
        if not region.reasoning:
            return
        line = thinking_line(region, open_)
        if line != part.line:
            position = region.thinking_start
            remove(self.document, position, part.line_chars)
            part.line_chars = self._insert_line(region, position, line)
            part.line = line
        if open_:
            self._append(region, region.thinking_start + part.chars)

    # --------------------------------------------------------------- internals

    def _insert_line(self, region: Region, position: int, line: tuple[str, str]) -> int:
        """Write the section's line as a new block after ``position``."""
        doc = self.document
        style = self._style
        before = doc.characterCount()
        block_format = QTextBlockFormat()
        block_format.setProperty(BLOCK_KIND, int(BlockKind.THINKING_LINE))
        block_format.setProperty(BLOCK_MESSAGE, region.message_id)
        block_format.setTopMargin(2.0)
        block_format.setBottomMargin(6.0)
        label_format = QTextCharFormat()
        label_format.setAnchor(True)
        label_format.setAnchorHref(action_url("thinking", region.message_id))
        label_format.setForeground(style.theme.muted)
        label_format.setFontPointSize(style.small_size(0.9))
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.insertBlock(block_format, QTextCharFormat())
        label, note = line
        cursor.insertText(label, label_format)
        if note:
            note_format = QTextCharFormat()
            note_format.setForeground(style.theme.muted)
            note_format.setFontPointSize(style.small_size(0.85))
            cursor.insertText("    " + note, note_format)
        return doc.characterCount() - before

    def _append(self, region: Region, position: int) -> None:
        """Show the reasoning that arrived since the last call, up to THINKING_LIMIT,
        after ``position`` (the end of the section)."""
        part = region.thinking
        stop = min(len(region.reasoning), THINKING_LIMIT)
        if part.shown >= stop:
            return
        text = region.reasoning[part.shown : stop].replace("\r", "")
        if not part.body_chars:
            # Reasoning often opens with blank lines: the panel starts at its first words.
            text = text.lstrip("\n")
            if not text.strip():
                return  # nothing to show yet; these characters are read again
        lines, part.column = wrap_plain(text, part.column, PLAIN_LINE_CHARS)
        doc = self.document
        before = doc.characterCount()
        text_format = QTextCharFormat()
        text_format.setForeground(self._style.theme.muted)
        text_format.setFontPointSize(self._style.small_size(0.92))
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        if not part.body_chars:
            block_format = QTextBlockFormat()
            block_format.setProperty(BLOCK_KIND, int(BlockKind.THINKING))
            block_format.setProperty(BLOCK_MESSAGE, region.message_id)
            block_format.setLeftMargin(THINKING_INDENT)
            block_format.setBottomMargin(THINKING_GAP)
            cursor.insertBlock(block_format, text_format)
        start = cursor.position()
        cursor.insertText(lines, text_format)
        if "\n" in lines:
            # New lines took the gap of the line they split from: only the last keeps it.
            _set_gap(doc, start, cursor.position() - 1, 0.0)
            _set_gap(doc, cursor.position(), cursor.position(), THINKING_GAP)
        part.body_chars += doc.characterCount() - before
        part.shown = stop
        self._stats.thinking_appends += 1
        self._stats.thinking_chars += len(text)


def _set_gap(doc: QTextDocument, first: int, last: int, gap: float) -> None:
    """Give the blocks from position ``first`` to ``last`` this bottom margin."""
    spacing = QTextBlockFormat()
    spacing.setBottomMargin(gap)
    cursor = QTextCursor(doc)
    cursor.setPosition(first)
    cursor.setPosition(max(first, last), KEEP)
    cursor.mergeBlockFormat(spacing)
