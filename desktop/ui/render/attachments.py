"""The files attached to a user message, in its region: one line under its header.

::

    header      "You    Copy · Edit"
    files       [photo] [chart]                                (0..1 block)
                ▯ notes.md  2 KB    ▯ paper.pdf  1.2 MB
    thinking, done, tail, status

Each file is a ``sidestream:file/<message id>/<index>`` link: a click, or
Enter on it, opens it; the view's context menu saves it. An image is an
inline image of a fixed size (:data:`THUMB_SIZE`) named
``sidestream-file:<sha256>``, which the view resolves (a placeholder first,
the thumbnail once a worker thread has scaled it; see
:mod:`desktop.ui.thumbnails`): nothing of the file is read or decoded on the
GUI thread, and the line's layout does not change when the thumbnail comes.
A text file or a PDF is a glyph (``sidestream-file:glyph/<label>``), its
name and its size.

A message without files has no such block and costs nothing; only user
messages carry files, so a streaming reply never touches this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize
from PySide6.QtGui import (
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextImageFormat,
)

from desktop.attachments import describe_size
from desktop.core.models import Attachment, AttachmentKind
from desktop.ui.render.chrome import Style
from desktop.ui.render.region import BLOCK_KIND, BLOCK_MESSAGE, BlockKind, Region
from desktop.ui.render.status import action_url

FILE_ACTION = "file"
IMAGE_SCHEME = "sidestream-file"
THUMB_SIZE = QSize(160, 120)
"""An image's place in the transcript (its thumbnail fits inside, centred)."""
GLYPH_SIZE = 18
GLYPH_PREFIX = "glyph/"
LINE_BREAK = "\u2028"  # a new line in the same block


def image_url(attachment: Attachment) -> str:
    """The resource name of an image's thumbnail: ``sidestream-file:<sha256>``."""
    return f"{IMAGE_SCHEME}:{attachment.sha256}"


def glyph_url(attachment: Attachment) -> str:
    """The resource name of a file's glyph: ``sidestream-file:glyph/PDF``."""
    return f"{IMAGE_SCHEME}:{GLYPH_PREFIX}{file_label(attachment)}"


def file_href(message_id: int, index: int) -> str:
    """The link of a message's ``index``-th file: ``sidestream:file/12/0``."""
    return action_url(FILE_ACTION, message_id, index)


def file_label(attachment: Attachment) -> str:
    """The kind of a file that is not an image, as its glyph says it: "PDF", "MD"."""
    if attachment.kind is AttachmentKind.PDF:
        return "PDF"
    dot = attachment.name.rfind(".")
    suffix = attachment.name[dot + 1 :].upper() if dot > 0 else ""
    return suffix if 0 < len(suffix) <= 4 and suffix.isalnum() else "TXT"


def describe(attachment: Attachment) -> str:
    """A file in a few words: "notes.md · 2 KB"."""
    return f"{attachment.name} · {describe_size(attachment.size)}"


def write_files(doc: QTextDocument, region: Region, position: int, style: Style) -> int:
    """Write a region's files as a new block after ``position`` (the end of its
    header); return the characters added (none for a message without files)."""
    files = region.attachments
    if not files:
        return 0
    before = doc.characterCount()
    block_format = QTextBlockFormat()
    block_format.setProperty(BLOCK_KIND, int(BlockKind.FILES))
    block_format.setProperty(BLOCK_MESSAGE, region.message_id)
    block_format.setTopMargin(2.0)
    block_format.setBottomMargin(6.0)
    cursor = QTextCursor(doc)
    cursor.setPosition(position)
    cursor.insertBlock(block_format, QTextCharFormat())
    _write_items(cursor, region.message_id, files, style)
    return doc.characterCount() - before


def _write_items(
    cursor: QTextCursor, message_id: int, files: Sequence[Attachment], style: Style
) -> None:
    gap = QTextCharFormat()
    muted = QTextCharFormat()
    muted.setForeground(style.theme.muted)
    muted.setFontPointSize(style.small_size(0.9))
    # Images first, on a line of their own; then the other files, on the next.
    images = [(i, a) for i, a in enumerate(files) if a.kind is AttachmentKind.IMAGE]
    others = [(i, a) for i, a in enumerate(files) if a.kind is not AttachmentKind.IMAGE]
    for count, (index, attachment) in enumerate([*images, *others]):
        if count and images and count == len(images):
            cursor.insertText(LINE_BREAK, gap)
        elif count:
            cursor.insertText("    ", gap)
        href = file_href(message_id, index)
        tip = f"{describe(attachment)} — click to open"
        picture = QTextImageFormat()
        picture.setAnchor(True)
        picture.setAnchorHref(href)
        picture.setToolTip(tip)
        if attachment.kind is AttachmentKind.IMAGE:
            picture.setName(image_url(attachment))
            picture.setWidth(THUMB_SIZE.width())
            picture.setHeight(THUMB_SIZE.height())
            cursor.insertImage(picture)
            continue
        picture.setName(glyph_url(attachment))
        picture.setWidth(GLYPH_SIZE)
        picture.setHeight(GLYPH_SIZE)
        picture.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignMiddle)
        cursor.insertImage(picture)
        name = style.link(href)
        name.setToolTip(tip)
        cursor.insertText(" " + attachment.name, name)
        cursor.insertText(f"  {describe_size(attachment.size)}", muted)
