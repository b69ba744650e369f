"""The files a message will carry, while it is written: attached, shown, checked.

:class:`AttachmentTray` sits above the composer's text box: a line that
says what went wrong (or what is still being read), and the chips of the
files (:mod:`desktop.ui.attachment_chips`). It attaches what the user picks,
pastes or drops through the :class:`~desktop.services.attachments.AttachmentService`,
which reads, checks and stores each file in a worker thread. A file has its
chip at once, "reading…" until it is attached; then its size, and an
image's thumbnail once a worker thread has scaled it. Nothing of a file is
read, hashed, encoded or decoded on the GUI thread: a pasted image is
encoded to PNG in a worker too (unless the clipboard holds its PNG already).

Limits: the number of files is checked before anything is read (files
beyond :data:`~desktop.attachments.MAX_FILES` are refused, none of the batch
is attached), the size of each file by the service, and all of them
together once each is read (:func:`~desktop.attachments.check_message`).
A file that cannot be attached loses its chip and the line says why, in the
service's words; the others are attached.

While a message is edited the draft's files are set aside (:meth:`stash`)
and come back with the draft (:meth:`unstash`), still being read if they
were.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageWriter, QPixmap
from PySide6.QtWidgets import QApplication, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from desktop.attachments import MAX_FILES, AttachmentError, check_message
from desktop.core.models import Attachment
from desktop.core.tasks import TaskKeeper
from desktop.services.attachments import AttachmentService
from desktop.ui.attachment_chips import ICON_PX, AttachmentChip, ChipsRow
from desktop.ui.file_viewer import FileActions
from desktop.ui.plain import plain_label
from desktop.ui.style import status_stylesheet
from desktop.ui.thumbnails import Thumbnails

log = logging.getLogger("sidestream.ui")

PASTED_NAME = "Pasted image"
# Image formats a clipboard may hold as they are (no decoding, no encoding).
_CLIPBOARD_IMAGES = (("image/png", "png"), ("image/jpeg", "jpg"), ("image/webp", "webp"))


def encode_png(image: QImage) -> bytes:
    """An image as PNG bytes (a worker thread's work: a screenshot takes 100 ms)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, QByteArray(b"png"))
    saved = writer.write(image)
    buffer.close()
    if not saved:
        raise AttachmentError(
            f"The pasted image could not be saved as PNG: {writer.errorString()}."
        )
    return bytes(buffer.data().data())


def local_files(mime: QMimeData) -> list[Path]:
    """The local files in dragged or copied data (URLs), in order."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def holds_image(mime: QMimeData) -> bool:
    """Whether dragged or copied data is an image (not a file of one), and not
    text: an office suite copies a picture of the cells with their text, and
    that text is what a paste means."""
    if mime.hasText() and mime.text().strip():
        return False
    formats = set(mime.formats())
    return mime.hasImage() or any(kind in formats for kind, _ in _CLIPBOARD_IMAGES)


def holds_files(mime: QMimeData) -> bool:
    """Whether dragged or copied data is something to attach: files, or an image."""
    return bool(local_files(mime)) or holds_image(mime)


@dataclass(eq=False)
class Entry:
    """One file of the message: its chip, and once read, the attachment."""

    chip: AttachmentChip
    attachment: Attachment | None = None
    task: asyncio.Task[None] | None = None


class AttachmentTray(QWidget):
    """The files attached to the message being written (see the module docstring).

    ``changed`` whenever a file is added, read or removed (Send may change).
    """

    changed = Signal()

    def __init__(self, files: AttachmentService | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentTray")
        self._files = files
        self._entries: list[Entry] = []
        self._stash: list[Entry] | None = None
        self._errors: list[str] = []
        self._tasks = TaskKeeper(log, on_error=self._on_task_failed)
        keeper = self._tasks
        self.destroyed.connect(keeper.cancel_all)
        # Where the keyboard goes when the last chip is removed (the text box).
        self.focus_after_last: QWidget | None = None
        self.file_actions: FileActions | None = None
        self._thumbnails: Thumbnails | None = None
        if files is not None:
            self.file_actions = FileActions(files, self)
            self._thumbnails = Thumbnails(files, QSize(ICON_PX, ICON_PX), self)

        self.message = plain_label("", self)
        self.message.setObjectName("attachmentMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QToolButton(self)
        self.dismiss_button.setText("×")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.setToolTip("Dismiss this message")
        self.dismiss_button.setAccessibleName("Dismiss")
        self.dismiss_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.message_row = QWidget(self)
        line = QHBoxLayout(self.message_row)
        line.setContentsMargins(2, 0, 0, 0)
        line.setSpacing(4)
        line.addWidget(self.message, 1)
        line.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.message_row.hide()
        self.row = ChipsRow(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.message_row)
        layout.addWidget(self.row)

        self.dismiss_button.clicked.connect(self.clear_message)
        if self.file_actions is not None:
            self.file_actions.error_raised.connect(self.show_error)
        if self._thumbnails is not None:
            self._thumbnails.loaded.connect(self._on_thumbnails_loaded)

    # ------------------------------------------------------------------ state
    @property
    def enabled(self) -> bool:
        """Whether files can be attached here at all (the service was given)."""
        return self._files is not None

    @property
    def busy(self) -> bool:
        """Whether a file is still being read."""
        return any(entry.attachment is None for entry in self._entries)

    def attachments(self) -> tuple[Attachment, ...]:
        """The files attached (read), in the order they were added."""
        return tuple(e.attachment for e in self._entries if e.attachment is not None)

    def message_text(self) -> str:
        """What the line above the chips says ("" when it is hidden)."""
        return self.message.text() if not self.message_row.isHidden() else ""

    # ---------------------------------------------------------------- attach
    def attach_paths(self, paths: Sequence[Path]) -> None:
        """Attach files picked or dropped (each read in a worker thread)."""
        files = self._files
        if files is None or not paths:
            return
        self._start_batch()
        if not self._room_for(len(paths)):
            return
        for path in paths:
            entry = self._add_entry(path.name)
            entry.task = self._tasks.spawn(
                self._attach(entry, functools.partial(files.attach_path, path))
            )

    def attach_mime(self, mime: QMimeData) -> bool:
        """Attach what was pasted or dropped: its files, else its image; False
        if it holds neither (it is text, then)."""
        paths = local_files(mime)
        if paths:
            self.attach_paths(paths)
            return True
        if not holds_image(mime):
            return False
        for kind, suffix in _CLIPBOARD_IMAGES:
            if kind in mime.formats():
                data = mime.data(kind).data()
                if data:
                    self._attach_image_bytes(bytes(data), suffix)
                    return True
        if mime.hasImage():
            value = mime.imageData()
            image = value.toImage() if isinstance(value, QPixmap) else QImage(value)
            self.attach_image(image)
            return True
        return False

    def attach_image(self, image: QImage) -> None:
        """Attach an image (pasted) as "Pasted image.png": encoded in a worker thread."""
        files = self._files
        if files is None or image.isNull():
            return
        self._start_batch()
        if not self._room_for(1):
            return
        name = self._pasted_name("png")
        entry = self._add_entry(name)
        entry.task = self._tasks.spawn(
            self._attach(entry, functools.partial(self._encode_and_attach, name, image))
        )

    def _attach_image_bytes(self, data: bytes, suffix: str) -> None:
        files = self._files
        if files is None:
            return
        self._start_batch()
        if not self._room_for(1):
            return
        name = self._pasted_name(suffix)
        entry = self._add_entry(name)
        entry.task = self._tasks.spawn(
            self._attach(entry, functools.partial(files.attach_bytes, name, data))
        )

    async def _encode_and_attach(self, name: str, image: QImage) -> Attachment:
        assert self._files is not None
        data = await asyncio.to_thread(encode_png, image)
        return await self._files.attach_bytes(name, data)

    async def _attach(self, entry: Entry, attaching: Callable[[], Awaitable[Attachment]]) -> None:
        name = entry.chip.name
        try:
            attachment = await attaching()
        except AttachmentError as exc:
            self._drop(entry, str(exc))
            return
        except Exception as exc:  # a bug: say so, and keep the chips consistent
            log.exception("attaching %s failed", name)
            self._drop(entry, f"“{name}” could not be attached: {exc}")
            return
        finally:
            entry.task = None
        group = self._group_of(entry)
        attached = [e.attachment for e in group if e.attachment is not None]
        if any(a.sha256 == attachment.sha256 for a in attached):
            self._drop(entry, f"“{attachment.name}” is attached already.")
            return
        try:
            check_message([*attached, attachment])
        except AttachmentError as exc:
            self._drop(entry, f"“{attachment.name}” was not attached: {exc}")
            return
        entry.attachment = attachment
        entry.chip.set_ready(attachment)
        self._ask_thumbnail(entry)
        log.debug("attached %s (%d bytes)", attachment.name, attachment.size)
        self.changed.emit()

    # ---------------------------------------------------------------- remove
    def remove(self, entry: Entry) -> None:
        """Take a file off the message (one being read stops being waited for)."""
        group = self._group_of(entry)
        if entry not in group:
            return
        focused = QApplication.focusWidget()
        had_focus = focused is not None and entry.chip.isAncestorOf(focused)
        index = group.index(entry)
        self._forget(entry)
        if had_focus and group is self._entries:
            self._focus_near(index)
        self.changed.emit()

    def clear(self) -> None:
        """Take every file off the message (those being read too)."""
        for entry in list(self._entries):
            self._forget(entry)
        self.changed.emit()

    def take(self) -> tuple[Attachment, ...]:
        """The files attached, handed over with a send: the chips go."""
        files = self.attachments()
        self.clear()
        self.clear_message()
        return files

    def set_attachments(self, files: Sequence[Attachment]) -> None:
        """Show exactly these files (a message's, when it is edited)."""
        for entry in list(self._entries):
            self._forget(entry)
        for attachment in files:
            entry = self._add_entry(attachment.name)
            entry.attachment = attachment
            entry.chip.set_ready(attachment)
            self._ask_thumbnail(entry)
        self.changed.emit()

    def give_back(self, files: Sequence[Attachment]) -> None:
        """Put files back in front of those shown (a send that failed)."""
        for index, attachment in enumerate(files):
            entry = self._add_entry(attachment.name, index)
            entry.attachment = attachment
            entry.chip.set_ready(attachment)
            self._ask_thumbnail(entry)
        self.changed.emit()

    def stash(self) -> None:
        """Set the files aside (an edit begins): they come back with :meth:`unstash`."""
        if self._stash is not None:
            return
        self._stash = self._entries
        self._entries = []
        for entry in self._stash:
            self.row.take(entry.chip)
        self.clear_message()
        self.changed.emit()

    def unstash(self) -> None:
        """The files set aside come back (after those shown, which usually are none)."""
        stashed, self._stash = self._stash, None
        if not stashed:
            return
        for entry in stashed:
            entry.chip.setParent(self.row.widget())
            self.row.add(entry.chip)
        self._entries = [*stashed, *self._entries]
        self.changed.emit()

    def cancel(self) -> None:
        """Stop every file being read (the tab closes)."""
        self._tasks.cancel_all()

    # --------------------------------------------------------------- messages
    def show_error(self, text: str) -> None:
        """Say what went wrong, on the line above the chips (added to the batch's)."""
        log.info("attaching: %s", text)
        self._errors.append(text)
        self._show_message("\n".join(self._errors), "error")

    def show_note(self, text: str) -> None:
        """Say something that is not an error (a file still being read)."""
        self._errors = []
        self._show_message(text, "info")

    def clear_message(self) -> None:
        self._errors = []
        self.message.clear()
        self.message_row.hide()

    def _show_message(self, text: str, tone: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(status_stylesheet(tone, self.palette()))
        self.message.setAccessibleName("Attachment error" if tone == "error" else "Attachments")
        self.message_row.show()

    # --------------------------------------------------------------- internals
    def _start_batch(self) -> None:
        """A new pick, paste or drop: the last one's messages go."""
        self.clear_message()

    def _room_for(self, count: int) -> bool:
        held = len(self._entries)
        if held + count <= MAX_FILES:
            return True
        chosen = f"{count} file{'s' if count != 1 else ''}"
        if held:
            self.show_error(
                f"A message can carry at most {MAX_FILES} files: it has {held},"
                f" and {chosen} more would make {held + count}. Nothing was attached."
            )
        else:
            self.show_error(
                f"A message can carry at most {MAX_FILES} files; {chosen} were chosen."
                " Nothing was attached."
            )
        return False

    def _add_entry(self, name: str, index: int | None = None) -> Entry:
        chip = AttachmentChip(name, self.row.widget())
        entry = Entry(chip)
        chip.remove_clicked.connect(lambda: self.remove(entry))
        chip.open_clicked.connect(lambda: self._open(entry))
        if index is None:
            self._entries.append(entry)
        else:
            self._entries.insert(index, entry)
        self.row.add(chip, index)
        self.changed.emit()
        return entry

    def _group_of(self, entry: Entry) -> list[Entry]:
        if self._stash is not None and entry in self._stash:
            return self._stash
        return self._entries

    def _forget(self, entry: Entry) -> None:
        group = self._group_of(entry)
        if entry in group:
            group.remove(entry)
        if entry.task is not None:
            entry.task.cancel()
            entry.task = None
        if group is self._entries:
            self.row.take(entry.chip)
        entry.chip.deleteLater()

    def _drop(self, entry: Entry, message: str) -> None:
        """A file that could not be attached: its chip goes, the line says why."""
        if entry in self._group_of(entry):
            self._forget(entry)
            self.changed.emit()
        self.show_error(message)

    def _focus_near(self, index: int) -> None:
        chips = self.row.chips()
        if chips:
            chips[min(index, len(chips) - 1)].remove_button.setFocus(
                Qt.FocusReason.OtherFocusReason
            )
        elif self.focus_after_last is not None:
            self.focus_after_last.setFocus(Qt.FocusReason.OtherFocusReason)

    def _pasted_name(self, suffix: str) -> str:
        taken = {e.chip.name for e in self._entries}
        name = f"{PASTED_NAME}.{suffix}"
        number = 2
        while name in taken:
            name = f"{PASTED_NAME} {number}.{suffix}"
            number += 1
        return name

    def _open(self, entry: Entry) -> None:
        if entry.attachment is not None and self.file_actions is not None:
            self.file_actions.open(entry.attachment, self.window())

    def _ask_thumbnail(self, entry: Entry) -> None:
        if self._thumbnails is None or entry.attachment is None:
            return
        self._thumbnails.set_ratio(self.devicePixelRatioF())
        image = self._thumbnails.get(entry.attachment)
        if image is not None and not image.isNull():
            entry.chip.set_thumbnail(image)

    def _on_thumbnails_loaded(self, sha256: str) -> None:
        assert self._thumbnails is not None
        for entry in [*self._entries, *(self._stash or [])]:
            attachment = entry.attachment
            if attachment is not None and attachment.sha256 == sha256:
                image = self._thumbnails.get(attachment)
                if image is not None:
                    entry.chip.set_thumbnail(image)

    def _on_task_failed(self, exc: BaseException) -> None:
        self.show_error(f"Something went wrong: {exc}")
