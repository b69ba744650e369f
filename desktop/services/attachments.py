"""Attaching files to a message: read, checked and stored off the window's thread.

:meth:`AttachmentService.attach_path` (a file picked, or dropped) and
:meth:`AttachmentService.attach_bytes` (an image pasted) read the file in a
worker thread, tell what it is, check it against the limits, copy it into the
store's content-addressed files and hand back an
:class:`~desktop.core.models.Attachment` for the composer to show and send.
A 20 MB file takes tens of milliseconds there, none of them on the loop that
streams replies.

:func:`turn_files` turns a message's attachments back into what a model is
sent (an image's bytes, a text file's text), also in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from desktop.attachments import (
    AttachmentError,
    check_message,
    check_size,
    identify,
    pdf_text,
    text_of,
)
from desktop.attachments.reading import HEAD_BYTES
from desktop.core.models import Attachment, AttachmentKind, Message, TurnFile
from desktop.store import Store

log = logging.getLogger("sidestream.services")

MISSING_FILE = "(This file is no longer in Sidestream's data folder, so it could not be sent.)"


class AttachmentService:
    """Files attached to messages, for the window."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def attach_path(self, path: Path) -> Attachment:
        """Attach the file at ``path``; :class:`AttachmentError` says why not."""
        return await asyncio.to_thread(self._attach_path, Path(path))

    async def attach_bytes(self, name: str, data: bytes) -> Attachment:
        """Attach bytes under ``name`` (an image pasted from the clipboard)."""
        return await asyncio.to_thread(self._attach_bytes, name, data)

    def check_message(self, attachments: Sequence[Attachment]) -> None:
        """Raise :class:`AttachmentError` if a message cannot carry these files."""
        check_message(attachments)

    def path(self, attachment: Attachment) -> Path | None:
        """Where an attached file is stored, or None if it is gone."""
        path = self._store.files.path(attachment.sha256)
        return path if path.is_file() else None

    def read(self, attachment: Attachment) -> bytes | None:
        """An attached file's bytes, or None if it is gone."""
        try:
            return self._store.files.read(attachment.sha256)
        except OSError:
            return None

    async def sweep(self) -> int:
        """Remove files attached over a day ago and never sent (at start)."""
        return await asyncio.to_thread(self._store.sweep_files)

    # ---------------------------------------------------------------- internals
    def _attach_path(self, path: Path) -> Attachment:
        name = path.name
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise AttachmentError(f"“{name}” is a folder, not a file.")
            check_size(name, size)
            with path.open("rb") as source:
                kind, mime = identify(name, source.read(HEAD_BYTES))
                source.seek(0)
                sha256, size = self._store.files.add_file(source)
        except FileNotFoundError as exc:
            raise AttachmentError(f"“{name}” no longer exists.") from exc
        except PermissionError as exc:
            raise AttachmentError(f"Sidestream may not read “{name}”.") from exc
        except OSError as exc:
            raise AttachmentError(f"“{name}” could not be read: {exc.strerror or exc}.") from exc
        return self._finish(sha256, name, kind, mime, size)

    def _attach_bytes(self, name: str, data: bytes) -> Attachment:
        check_size(name, len(data))
        kind, mime = identify(name, data[:HEAD_BYTES])
        try:
            sha256 = self._store.files.add_bytes(data)
        except OSError as exc:
            raise AttachmentError(f"“{name}” could not be saved: {exc.strerror or exc}.") from exc
        return self._finish(sha256, name, kind, mime, len(data))

    def _finish(
        self, sha256: str, name: str, kind: AttachmentKind, mime: str, size: int
    ) -> Attachment:
        text: str | None = None
        if kind is not AttachmentKind.IMAGE:
            data = self._store.files.read(sha256)
            if kind is AttachmentKind.PDF:
                text = pdf_text(data, name)
            else:
                text_of(data, name)  # refuse what cannot be sent now, not at Send
        return Attachment(sha256=sha256, name=name, mime=mime, kind=kind, size=size, text=text)


def turn_files(store: Store, message: Message) -> tuple[TurnFile, ...]:
    """A message's attachments as a model is sent them (reads files: a worker thread)."""
    files: list[TurnFile] = []
    for a in message.attachments:
        try:
            data = store.files.read(a.sha256)
        except OSError:
            log.warning("attached file %s (%s) is missing", a.sha256[:12], a.name)
            files.append(TurnFile(a.name, "text/plain", AttachmentKind.TEXT, text=MISSING_FILE))
            continue
        if a.kind is AttachmentKind.IMAGE:
            files.append(TurnFile.image(a.name, a.mime, data))
        elif a.kind is AttachmentKind.PDF:
            files.append(TurnFile(a.name, a.mime, a.kind, text=a.text or ""))
        else:
            try:
                text = text_of(data, a.name)
            except AttachmentError as exc:  # stored by a release that read it otherwise
                text = str(exc)
            files.append(TurnFile(a.name, a.mime, a.kind, text=text))
    return tuple(files)
