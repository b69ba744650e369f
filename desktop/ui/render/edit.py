"""Writing into a transcript document: Markdown, removals, plain lines.

Markdown is imported straight into a fragment (``fromMarkdown``, no layout,
no highlighter, no copy out of a scratch document) behind a one-letter
paragraph; inserted at the end of a block, the letter joins that block and
is removed, and the paragraph separator after it starts the new blocks,
which keeps the first block's format (heading, code language) intact.

Links with the view's own ``sidestream:`` scheme that come from message
text are disarmed on the way in: only the view's controls may carry them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtGui import QTextCharFormat, QTextCursor, QTextDocument, QTextDocumentFragment

from desktop.ui.render.blocks import importable
from desktop.ui.render.region import RenderStats
from desktop.ui.render.status import ACTION_SCHEME

log = logging.getLogger("sidestream.ui")

# md4c's flag that reads ``_word_`` and ``__word__`` as underline (Qt's GitHub
# dialect sets it; GitHub does not): without it they are emphasis and strong,
# and an underlined word no longer passes for a link.
_MD_FLAG_UNDERLINE = 0x4000
MARKDOWN_FEATURES = QTextDocument.MarkdownFeature(
    (
        QTextDocument.MarkdownFeature.MarkdownDialectGitHub
        | QTextDocument.MarkdownFeature.MarkdownNoHTML
    ).value
    & ~_MD_FLAG_UNDERLINE
)
# Plain text is shown in lines of at most this many characters: Qt lays out a
# whole paragraph again whenever text is added to it, so one 10 MB line
# appended a frame at a time would cost quadratic time.
PLAIN_LINE_CHARS = 2_000

KEEP = QTextCursor.MoveMode.KeepAnchor


@contextmanager
def edit_block(doc: QTextDocument) -> Iterator[None]:
    """Group changes: one contents change, one layout pass, one highlight pass."""
    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    try:
        yield
    finally:
        cursor.endEditBlock()


def remove(doc: QTextDocument, position: int, length: int) -> None:
    """Remove ``length`` characters at ``position``."""
    if not length:
        return
    cursor = QTextCursor(doc)
    cursor.setPosition(position)
    # The empty block Qt keeps after a table takes the format of the last
    # block removed behind it (a table shown as text, a code line): it keeps
    # its own.
    kept = cursor.block() if _after_table(doc, position) else None
    cursor.setPosition(position + length, KEEP)
    cursor.removeSelectedText()
    if kept is not None:
        cursor.setBlockFormat(kept.blockFormat())
        cursor.setBlockCharFormat(kept.charFormat())


def insert_markdown(doc: QTextDocument, position: int, markdown: str, stats: RenderStats) -> int:
    """Insert Markdown at ``position`` as new blocks after its block; return
    the characters added.

    A fragment that starts with text would merge its first block into the
    block at the cursor and lose that block's format (a heading's level, a
    code block's language). So the Markdown is imported behind a one-letter
    paragraph: that letter joins the cursor's block and the paragraph
    separator after it starts the new blocks, each with its own format;
    then the letter is removed. The fragment is imported straight into its
    own document (``fromMarkdown``), never copied out of a scratch one.
    """
    if not markdown.strip():
        return 0
    before = doc.characterCount()
    cursor = QTextCursor(doc)
    cursor.setPosition(position)
    fragment = QTextDocumentFragment.fromMarkdown("x\n\n" + importable(markdown), MARKDOWN_FEATURES)
    stats.markdown_imports += 1
    stats.markdown_chars += len(markdown)
    cursor.insertFragment(fragment)
    end = cursor.position()
    cursor.setPosition(position)
    cursor.setPosition(position + 1, KEEP)
    cursor.removeSelectedText()
    if may_follow_block(markdown):
        count = doc.characterCount()
        lift_first_cells(doc, position + 1, end - 1)
        end -= count - doc.characterCount()
    if may_hold_action_links(markdown):
        # The new blocks only: the cursor's block may hold the view's own links.
        strip_action_links(doc, position + 1, end - 1)
    return doc.characterCount() - before


def insert_fragment(doc: QTextDocument, position: int, fragment: QTextDocumentFragment) -> int:
    """Insert a fragment at ``position``; return the characters added."""
    if fragment.isEmpty():
        return 0
    before = doc.characterCount()
    cursor = QTextCursor(doc)
    cursor.setPosition(position)
    cursor.insertFragment(fragment)
    return doc.characterCount() - before


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


def may_hold_action_links(markdown: str) -> bool:
    # "&#" covers links whose scheme is spelled with character references.
    return ACTION_SCHEME in markdown.lower() or "&#" in markdown


def strip_action_links(doc: QTextDocument, start: int, end: int) -> None:
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
                cursor.setPosition(fragment.position() + fragment.length(), KEEP)
                cursor.setCharFormat(plain)
                log.debug("Disarmed an action link in message text: %s", href)
            iterator.__iadd__(1)
        block = block.next()


def may_follow_block(markdown: str) -> bool:
    """Whether a table in ``markdown`` may come right after a code block or quote."""
    return "|" in markdown and ("```" in markdown or "~~~" in markdown or ">" in markdown)


def lift_first_cells(doc: QTextDocument, start: int, end: int) -> None:
    """Remove the empty line Qt's importer puts atop a table's first cell.

    After a code block or a quote the importer still owes a new block when
    the table begins, and inserts it into the first header cell: the cell's
    text went down a line. No Markdown in between avoids it (the next text
    always pays the debt), so the empty block is taken out of the cell.
    """
    cursor = QTextCursor(doc)
    block = doc.findBlock(start)
    while block.isValid() and block.position() < end:
        following = block.next()
        if block.length() == 1 and following.isValid():
            cursor.setPosition(block.position())
            table = cursor.currentTable()
            cell = table.cellAt(cursor) if table is not None else None
            if (
                cell is not None
                and cell.row() == 0
                and cell.column() == 0
                and cell.firstPosition() == block.position()
                and cell.lastPosition() > block.position()
            ):
                block_format = following.blockFormat()
                char_format = following.charFormat()
                cursor.deleteChar()
                cursor.setBlockFormat(block_format)
                cursor.setBlockCharFormat(char_format)
                following = cursor.block().next()
        block = following


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
