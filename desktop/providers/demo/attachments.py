"""What the demo makes of a message's content: its text, and the files attached to it.

A content is a string or a list of parts in any of the three dialects' shapes:
text parts (``text``, ``input_text``), images (Chat Completions ``image_url``,
Responses ``input_image``, Anthropic ``image`` with a base64 or URL source).
A text part that is a file frame (``<file name="...">`` ... ``</file>``, as
the app sends a text file or a PDF's text) is a file, not part of the prompt.

The demo describes what came (:func:`attachment_note`) in the first line of
its reply, so a user sees that the files reached the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Content", "attachment_note", "read_content"]

_FRAME_RE = re.compile(r'\A<file name="([^\n]*)">\n(.*)\n</file>\Z', re.DOTALL)
_DATA_URL_RE = re.compile(r"\Adata:([^;,]*)((?:;[^;,]*)*),(.*)\Z", re.DOTALL)
# How a user knows the formats the app sends; others are named by their subtype.
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF"}


@dataclass(frozen=True, slots=True)
class Content:
    """One message's content as the demo reads it.

    ``text`` is its text parts joined (the file frames left out), ``files``
    a description of each attached file in the order sent, ``images`` how
    many of them are images and ``chars`` the characters of every text part.
    """

    text: str = ""
    files: tuple[str, ...] = ()
    images: int = 0
    chars: int = 0


def read_content(content: Any) -> Content:
    """The text and files of a message's ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return Content(content, chars=len(content))
    if not isinstance(content, list):
        return Content()
    texts: list[str] = []
    files: list[str] = []
    images = chars = 0
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            chars += len(part)
            continue
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            chars += len(text)
            frame = _FRAME_RE.match(text)
            if frame is None:
                texts.append(text)
            else:
                files.append(_describe_text(frame.group(1), frame.group(2)))
            continue
        image = _describe_image(part)
        if image is not None:
            files.append(image)
            images += 1
    return Content("".join(texts), tuple(files), images, chars)


def attachment_note(files: tuple[str, ...]) -> str:
    """The reply's first line about ``files`` ("" when there are none)."""
    if not files:
        return ""
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    return f"You attached {count}: {', '.join(files)}."


def _describe_text(name: str, text: str) -> str:
    lines = len(text.splitlines())
    return f"{name or 'a text file'} (text, {lines} line{'s' if lines != 1 else ''})"


def _describe_image(part: dict[str, Any]) -> str | None:
    """An image part described ("an image (PNG, 12 KB)"), or None if it is none."""
    kind = part.get("type")
    if kind == "image_url":  # Chat Completions: {"image_url": {"url": ...}}
        value = part.get("image_url")
        url = value.get("url") if isinstance(value, dict) else value
        return _describe_url(url)
    if kind == "input_image":  # Responses: {"image_url": ...} or {"file_id": ...}
        return _describe_url(part.get("image_url"))
    if kind == "image":  # Anthropic: {"source": {"type": "base64" | "url", ...}}
        source = part.get("source")
        if not isinstance(source, dict):
            return "an image"
        if source.get("type") == "base64":
            data = source.get("data")
            size = _base64_size(data) if isinstance(data, str) else None
            return _image(source.get("media_type"), size)
        return _describe_url(source.get("url"))
    return None


def _describe_url(url: Any) -> str:
    if not isinstance(url, str):
        return "an image"
    match = _DATA_URL_RE.match(url)
    if match is None:
        return "an image (from a URL)"
    mime, params, data = match.groups()
    size = _base64_size(data) if ";base64" in params else len(data)
    return _image(mime, size)


def _image(mime: Any, size: int | None) -> str:
    shown = []
    if isinstance(mime, str) and mime:
        shown.append(_FORMATS.get(mime.lower(), mime.rpartition("/")[2].upper()))
    if size is not None:
        shown.append(_size(size))
    return f"an image ({', '.join(shown)})" if shown else "an image"


def _base64_size(data: str) -> int:
    """The decoded size of base64 ``data`` (without decoding it)."""
    data = data.strip().rstrip("=")
    return len(data) * 3 // 4


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} byte{'s' if size != 1 else ''}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"
