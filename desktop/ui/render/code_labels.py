"""The "lang    Copy" line above each code block, and the code it copies.

The Markdown importer gives every line of a fenced code block the block's
language (``CODE_LANGUAGE``). After an import the renderer puts a label
line in front of each run of such lines, lets the lines wrap and spaces the
block from what follows; :func:`code_text` reads a block back for its Copy
link.
"""

from __future__ import annotations

from PySide6.QtGui import (
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

from desktop.ui.render.chrome import Style
from desktop.ui.render.edit import KEEP
from desktop.ui.render.region import (
    BLOCK_KIND,
    BLOCK_MESSAGE,
    CODE_FENCE,
    CODE_LANGUAGE,
    BlockKind,
    Region,
)
from desktop.ui.render.status import action_url

CODE_BOTTOM_MARGIN = 10.0
_NON_BREAKABLE = QTextFormat.Property.BlockNonBreakableLines


def may_hold_code(text: str) -> bool:
    return "```" in text or "~~~" in text or "    " in text or "\t" in text


def label_code_blocks(
    doc: QTextDocument, style: Style, message_id: int, start: int, end: int, first_index: int
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
            chars = _insert_code_label(
                doc, style, block, block.blockFormat(), message_id, first_index + count
            )
            added += chars
            count += 1
            block = doc.findBlock(position + chars)
            run_start = block.position()
        elif not is_code and run_start >= 0:
            _finish_code_run(doc, run_start, previous, style)
            run_start = -1
        previous = block
        block = block.next()
    if run_start >= 0:
        _finish_code_run(doc, run_start, previous, style)
    return added, count


def code_text(doc: QTextDocument, region: Region, index: int) -> str | None:
    """The text of the ``index``-th code block of a rendered region."""
    seen = -1
    block = doc.findBlock(region.body_start + 1)
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


def _insert_code_label(
    doc: QTextDocument,
    style: Style,
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
    for prop in (CODE_LANGUAGE, CODE_FENCE, _NON_BREAKABLE):
        label_format.clearProperty(prop)
    label_format.setProperty(BLOCK_KIND, int(BlockKind.CODE_LABEL))
    label_format.setProperty(BLOCK_MESSAGE, message_id)
    label_format.setTopMargin(8.0)
    label_format.setBottomMargin(2.0)
    muted = style.label()
    cursor.setBlockFormat(label_format)
    cursor.setBlockCharFormat(muted)
    info = block_format.property(CODE_LANGUAGE)
    language = info.split()[0] if isinstance(info, str) and info.strip() else "code"
    cursor.insertText(language, muted)
    cursor.insertText("    ", muted)
    link = style.link(action_url("copy-code", message_id, index))
    link.setFontPointSize(muted.fontPointSize())
    cursor.insertText("Copy", link)
    return doc.characterCount() - before


def _finish_code_run(doc: QTextDocument, start: int, last: QTextBlock, style: Style) -> None:
    """Let a code block's lines wrap, size its text as the rest, and space
    it from what follows.

    The importer makes fenced code non-breaking, which would give the whole
    transcript a horizontal scroll bar for one long line. It also gives code
    an explicit point size, that of the document it imports into: a fragment's
    own document has the application's font, not the transcript's (zoomed).
    """
    cursor = QTextCursor(doc)
    size = style.font.pointSizeF()
    cursor.setPosition(start + 1)
    if size > 0 and cursor.charFormat().fontPointSize() not in (0.0, size):
        cursor.setPosition(start)
        cursor.setPosition(last.position() + last.length() - 1, KEEP)
        sized = QTextCharFormat()
        sized.setFontPointSize(size)
        cursor.mergeCharFormat(sized)
    cursor.setPosition(start)
    cursor.setPosition(last.position(), KEEP)
    wrapping = QTextBlockFormat()
    wrapping.setNonBreakableLines(False)
    cursor.mergeBlockFormat(wrapping)
    block_format = last.blockFormat()
    if block_format.bottomMargin() != CODE_BOTTOM_MARGIN:
        block_format.setBottomMargin(CODE_BOTTOM_MARGIN)
        cursor.setPosition(last.position())
        cursor.setBlockFormat(block_format)
