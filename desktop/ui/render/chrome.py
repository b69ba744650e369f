"""The renderer's own lines around a message: its header and its status line.

A header ("Assistant · model   Copy", "You   Copy · Edit   ‹ 2/3 ›") opens
every region, with the version switcher of :mod:`desktop.ui.render.versions`
when the message has versions; a status line
("streaming…", "Stopped · Continue · Retry", "Cut at the model's token
limit.  1,234 tokens in · 567 out  Continue · Retry") closes it when there is
something to say (what it says is decided in :mod:`desktop.ui.render.status`).
:class:`Style` holds the theme and the base font that these lines, the code
labels and the other controls of the view are drawn with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtGui import QFont, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

from desktop.core.states import Role
from desktop.ui.render.region import BLOCK_KIND, BLOCK_MESSAGE, BlockKind, Region
from desktop.ui.render.status import StatusLine, action_url, status_line
from desktop.ui.render.theme import Theme
from desktop.ui.render.versions import EDIT_ACTION, VersionMark

HEADER_GAP = 20.0


@dataclass(frozen=True, slots=True)
class Style:
    """The theme and the base font the renderer draws its own text with."""

    theme: Theme
    font: QFont

    def link(self, href: str) -> QTextCharFormat:
        """The format of a view action (an anchor in the link colour)."""
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(href)
        fmt.setForeground(self.theme.link)
        return fmt

    def small_size(self, scale: float) -> float:
        """A point size ``scale`` times the base font's, 7 pt at least."""
        return max(7.0, self.font.pointSizeF() * scale)

    def label(self) -> QTextCharFormat:
        """The format of a label above a block (a code block's language)."""
        muted = QTextCharFormat()
        muted.setForeground(self.theme.code_label)
        muted.setFontPointSize(self.small_size(0.85))
        return muted


def fill_header(cursor: QTextCursor, region: Region, style: Style, *, first: bool) -> int:
    """Write the header into the block at ``cursor`` (replacing its selection)."""
    start = cursor.selectionStart()
    block_format = QTextBlockFormat()
    block_format.setProperty(BLOCK_KIND, int(BlockKind.HEADER))
    block_format.setProperty(BLOCK_MESSAGE, region.message_id)
    block_format.setTopMargin(0.0 if first else HEADER_GAP)
    block_format.setBottomMargin(4.0)
    _write_header_text(cursor, region, style)
    cursor.setBlockFormat(block_format)
    cursor.setBlockCharFormat(QTextCharFormat())
    return cursor.position() - start


def rewrite_header(doc: QTextDocument, region: Region, style: Style) -> int:
    """Write a region's header text again (its block keeps its format); return
    the change in length. One block changes: nothing else is laid out again."""
    cursor = QTextCursor(doc)
    cursor.setPosition(region.start)
    cursor.setPosition(region.start + region.header_chars, QTextCursor.MoveMode.KeepAnchor)
    _write_header_text(cursor, region, style)
    length = cursor.position() - region.start
    delta = length - region.header_chars
    region.header_chars = length
    return delta


def _write_header_text(cursor: QTextCursor, region: Region, style: Style) -> None:
    """ "You    Copy · Edit    ‹ 2/3 ›", "Assistant  ·  model    Copy    ‹ 1/2 ›"."""
    theme = style.theme
    name = QTextCharFormat()
    name.setFontWeight(QFont.Weight.Bold)
    name.setForeground(theme.accent if region.role is Role.ASSISTANT else theme.text)
    muted = QTextCharFormat()
    muted.setForeground(theme.muted)
    cursor.insertText(_role_label(region.role), name)
    if region.model and region.role is Role.ASSISTANT:
        cursor.insertText(f"  ·  {region.model}", muted)
    cursor.insertText("    ", muted)
    cursor.insertText("Copy", style.link(action_url("copy", region.message_id)))
    if region.role is Role.USER:
        cursor.insertText("  ·  ", muted)
        cursor.insertText("Edit", style.link(action_url(EDIT_ACTION, region.message_id)))
    mark = region.versions
    if mark is not None:
        cursor.insertText("    ", muted)
        _write_arrow(cursor, style, "‹", mark, mark.previous)
        cursor.insertText(f" {mark.text} ", muted)
        _write_arrow(cursor, style, "›", mark, mark.next)


def _write_arrow(
    cursor: QTextCursor,
    style: Style,
    arrow: str,
    mark: VersionMark,
    target: int | None,
) -> None:
    """One end of the switcher: a link to ``target``, or muted text at an end."""
    if target is None:
        fmt = QTextCharFormat()
        fmt.setForeground(style.theme.muted)
    else:
        fmt = style.link(mark.href(target))
        fmt.setFontWeight(QFont.Weight.Bold)
    cursor.insertText(arrow, fmt)


def header_link(doc: QTextDocument, region: Region, href: str) -> tuple[int, int] | None:
    """Where the link to ``href`` is in a region's header: (start, end), or None."""
    block = doc.findBlock(region.start)
    iterator = block.begin()
    while not iterator.atEnd():
        fragment = iterator.fragment()
        char_format = fragment.charFormat()
        if char_format.isAnchor() and char_format.anchorHref() == href:
            return fragment.position(), fragment.position() + fragment.length()
        iterator.__iadd__(1)
    return None


def set_header_gap(doc: QTextDocument, region: Region, *, first: bool) -> None:
    """Space a header from the message above it (none for the first)."""
    cursor = QTextCursor(doc)
    cursor.setPosition(region.start)
    block_format = cursor.blockFormat()
    gap = 0.0 if first else HEADER_GAP
    if block_format.topMargin() != gap:
        block_format.setTopMargin(gap)
        cursor.setBlockFormat(block_format)


def _role_label(role: Role) -> str:
    return {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "System"}[role]


def status_for(region: Region, last: Region | None, now: float | None = None) -> StatusLine:
    """The status line of a region; ``last`` is the latest assistant message,
    ``now`` the time (``time.time()``) a wait for the first token counts to."""
    waited = None
    if region.waiting_since is not None and region.status.is_live:
        waited = max(0.0, (time.time() if now is None else now) - region.waiting_since)
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
        finish=region.finish,
        waited=waited,
        input_tokens=region.input_tokens,
        output_tokens=region.output_tokens,
    )


def insert_status(doc: QTextDocument, position: int, line: StatusLine, style: Style) -> int:
    """Write a status line as a new block after ``position``; return the
    characters added (none for an empty line)."""
    if line.is_empty:
        return 0
    theme = style.theme
    before = doc.characterCount()
    block_format = QTextBlockFormat()
    block_format.setProperty(BLOCK_KIND, int(BlockKind.STATUS))
    block_format.setTopMargin(4.0)
    size = style.small_size(0.9)
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
    if line.usage:
        if line.text:
            cursor.insertText("    ", separator_format)
        usage_format = QTextCharFormat()
        usage_format.setFontPointSize(style.small_size(0.85))
        usage_format.setForeground(theme.muted)
        cursor.insertText(line.usage, usage_format)
    for index, (label, href) in enumerate(line.actions):
        if index:
            cursor.insertText("  ·  ", separator_format)
        elif line.text or line.usage:
            cursor.insertText("    ", separator_format)
        link = style.link(href)
        link.setFontPointSize(size)
        link.setFontWeight(QFont.Weight.DemiBold)
        cursor.insertText(label, link)
    return doc.characterCount() - before
