"""What an attached file is (by its bytes, not its name), the limits, and its text.

Images are recognised by their signature (PNG, JPEG, WebP, GIF: the formats
every dialect takes), PDFs by ``%PDF-``; anything else must be text: UTF-8
(a BOM allowed) or UTF-16 with a BOM. A file that is none of these gets an
:class:`AttachmentError` whose message says why, in words a user can act on.

A PDF is sent as the text of its pages, read with pypdf: a scanned PDF has
no text to read, and says so, rather than sending an empty part.
"""

from __future__ import annotations

import codecs
import io
import logging
import mimetypes
from collections.abc import Sequence

from desktop.core.models import Attachment, AttachmentKind

log = logging.getLogger("sidestream.attachments")

MB = 1024 * 1024
MAX_FILE_BYTES = 25 * MB
"""One file at most (OpenAI takes images up to 20 MB; a 20 MB log must fit)."""
MAX_MESSAGE_BYTES = 50 * MB
"""All files of one message together."""
MAX_FILES = 10
"""Files in one message."""

# How much of a file identify() needs to see.
HEAD_BYTES = 8192

_IMAGES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" and the size
)
# Images the dialects do not take: named, so that the message can say what to do.
_OTHER_IMAGES = {
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".heic": "HEIC",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".svg": "SVG",
    ".ico": "ICO",
}
_TEXT_MIMES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".log": "text/plain",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
}


class AttachmentError(Exception):
    """A file that cannot be attached; the message is for the user."""


def describe_size(size: int) -> str:
    """``size`` bytes for people: "812 bytes", "14 KB", "3.2 MB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < MB:
        return f"{size / 1024:.0f} KB"
    return f"{size / MB:.1f} MB"


def check_size(name: str, size: int) -> None:
    """Refuse an empty file, or one over :data:`MAX_FILE_BYTES`."""
    if size == 0:
        raise AttachmentError(f"“{name}” is empty.")
    if size > MAX_FILE_BYTES:
        raise AttachmentError(
            f"“{name}” is {describe_size(size)}; a file can be at most"
            f" {describe_size(MAX_FILE_BYTES)}."
        )


def check_message(attachments: Sequence[Attachment]) -> None:
    """Refuse a message with too many files, or files too big together."""
    if len(attachments) > MAX_FILES:
        raise AttachmentError(f"A message can carry at most {MAX_FILES} files.")
    total = sum(a.size for a in attachments)
    if total > MAX_MESSAGE_BYTES:
        raise AttachmentError(
            f"These files add up to {describe_size(total)}; a message can carry at most"
            f" {describe_size(MAX_MESSAGE_BYTES)} of files."
        )


def identify(name: str, head: bytes) -> tuple[AttachmentKind, str]:
    """The kind and media type of a file from its first bytes (:data:`HEAD_BYTES`)."""
    for signature, offset, mime in _IMAGES:
        if head[offset : offset + len(signature)] == signature:
            if mime == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return AttachmentKind.IMAGE, mime
    if head.startswith(b"%PDF-"):
        return AttachmentKind.PDF, "application/pdf"
    suffix = _suffix(name)
    if suffix in _OTHER_IMAGES:
        raise AttachmentError(
            f"“{name}” is a {_OTHER_IMAGES[suffix]} image; models take PNG, JPEG, WebP or GIF."
            " Convert it to one of those and attach it again."
        )
    if not _looks_like_text(head):
        raise AttachmentError(
            f"“{name}” is not a text file, an image (PNG, JPEG, WebP, GIF) or a PDF,"
            " so it cannot be sent to a model."
        )
    return AttachmentKind.TEXT, _text_mime(name)


def text_of(data: bytes, name: str) -> str:
    """A text file's text: UTF-8 (with or without a BOM) or UTF-16 with a BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise AttachmentError(f"“{name}” is not valid UTF-16 text ({exc.reason}).") from exc
    if b"\0" in data:
        raise AttachmentError(f"“{name}” is not a text file (it holds binary data).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise AttachmentError(
            f"“{name}” is not UTF-8 text (line {line} has a byte that is not UTF-8:"
            f" 0x{data[exc.start]:02x}). Save it as UTF-8 and attach it again."
        ) from exc


def pdf_text(data: bytes, name: str) -> str:
    """The text of a PDF's pages (pypdf), pages apart by a blank line."""
    import pypdf  # ~60 ms to import: only when a PDF is attached
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise AttachmentError(f"“{name}” is protected by a password; open it and save a copy.")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except AttachmentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.info("pypdf could not read %s: %r", name, exc)
        raise AttachmentError(f"“{name}” could not be read as a PDF ({exc}).") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise AttachmentError(
            f"“{name}” has no text to read (a scanned PDF?): Sidestream sends a PDF's text,"
            " not its pictures."
        )
    return text


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _text_mime(name: str) -> str:
    suffix = _suffix(name)
    if suffix in _TEXT_MIMES:
        return _TEXT_MIMES[suffix]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed and guessed.startswith("text/"):
        return guessed
    return "text/plain"


def _looks_like_text(head: bytes) -> bool:
    """No NUL byte (binary formats have them early), or a Unicode BOM. Text in
    another encoding counts: :func:`text_of` then says which line is not UTF-8."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8)):
        return True
    return b"\0" not in head
