"""Opening and saving the files attached to messages.

:class:`FileViewer` shows one file, read-only, in a window of its own; it is
not modal, so replies go on streaming and several files can be open. An
image is shown at full size in a scroll area: decoded in a worker thread and
painted from the QImage, never copied to a pixmap. A text file's text, or a
PDF's text as Sidestream sends it to a model, is shown in a read-only text
box (its first :data:`TEXT_LIMIT` characters; Save as… has it all).

:class:`FileActions` opens viewers and saves files ("Save as…", the copy
made in a worker thread) for the transcript and the composer; what goes
wrong is said through ``error_raised``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QImage,
    QImageReader,
    QPainter,
    QPaintEvent,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QPlainTextEdit,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.attachments import AttachmentError, describe_size, text_of
from desktop.core.models import Attachment, AttachmentKind
from desktop.core.tasks import TaskKeeper
from desktop.services.attachments import AttachmentService
from desktop.ui.plain import plain_label

log = logging.getLogger("sidestream.ui")

TEXT_LIMIT = 2_000_000
"""Characters of a text a viewer shows (laying out more takes seconds)."""
TEXT_PIECE = 100_000
"""Characters put in the viewer per turn of the event loop (~5 ms each)."""
GONE = "This file is no longer in Sidestream's data folder."


class FileGone(Exception):
    """The attached file is not in the data folder any more."""


def read_image(files: AttachmentService, attachment: Attachment) -> QImage:
    """An attached image at full size (a worker thread's work)."""
    path = files.path(attachment)
    if path is None:
        raise FileGone(GONE)
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise AttachmentError(f"“{attachment.name}” could not be shown: {reader.errorString()}.")
    return image


def read_text(files: AttachmentService, attachment: Attachment) -> str:
    """The text a model is sent for a text file or a PDF (a worker thread's work)."""
    if attachment.kind is AttachmentKind.PDF and attachment.text is not None:
        return attachment.text
    data = files.read(attachment)
    if data is None:
        raise FileGone(GONE)
    return text_of(data, attachment.name)


def kind_text(attachment: Attachment) -> str:
    """What a file is, in a word or two: "PNG image", "PDF", "text"."""
    if attachment.kind is AttachmentKind.IMAGE:
        subtype = attachment.mime.partition("/")[2].upper()
        return f"{subtype} image" if subtype else "image"
    if attachment.kind is AttachmentKind.PDF:
        return "PDF (its text)"
    return "text"


class ImageCanvas(QWidget):
    """An image at its size, painted straight from the QImage (no pixmap copy)."""

    def __init__(self, image: QImage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = image
        size = image.deviceIndependentSize().toSize()
        self.setFixedSize(size)

    def sizeHint(self) -> QSize:
        return self.image.deviceIndependentSize().toSize()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        exposed: QRect = event.rect()
        ratio = self.image.devicePixelRatio()
        source = QRect(
            round(exposed.x() * ratio),
            round(exposed.y() * ratio),
            round(exposed.width() * ratio),
            round(exposed.height() * ratio),
        )
        painter.drawImage(exposed, self.image, source)
        painter.end()


class FileViewer(QDialog):
    """One attached file, read-only: an image at full size, or a text."""

    def __init__(
        self, attachment: Attachment, actions: FileActions, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.attachment = attachment
        self._actions = actions
        self._tasks = TaskKeeper(log, on_error=self._on_task_failed)
        keeper = self._tasks
        self.destroyed.connect(keeper.cancel_all)
        self.setWindowTitle(attachment.name)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(False)

        self.title = plain_label(
            f"{attachment.name} · {describe_size(attachment.size)} · {kind_text(attachment)}", self
        )
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = plain_label("Loading…", self)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.status)
        self.image_area = QScrollArea(self)
        self.image_area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_area.setWidgetResizable(False)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.document().setUndoRedoEnabled(False)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setAccessibleName(attachment.name)
        self.pages.addWidget(self.image_area)
        self.pages.addWidget(self.text)
        self.note = plain_label("", self)
        self.note.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.save_button = buttons.addButton("Save as…", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.setToolTip("Save a copy of this file")
        buttons.rejected.connect(self.close)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.resize(640, 480)

    def load(self) -> None:
        """Read the file (in a worker thread) and show it."""
        self._tasks.spawn(self._load())

    @property
    def loaded(self) -> bool:
        return self.pages.currentWidget() is not self.status

    async def _load(self) -> None:
        files = self._actions.files
        try:
            if self.attachment.kind is AttachmentKind.IMAGE:
                image = await asyncio.to_thread(read_image, files, self.attachment)
                self._show_image(image)
            else:
                text = await asyncio.to_thread(read_text, files, self.attachment)
                await self._show_text(text)
        except (FileGone, AttachmentError) as exc:
            self.status.setText(str(exc))
        except OSError as exc:
            self.status.setText(f"“{self.attachment.name}” could not be read: {exc.strerror}.")

    def _show_image(self, image: QImage) -> None:
        screen = self.screen() or QGuiApplication.primaryScreen()
        image.setDevicePixelRatio(1.0)
        self.image_area.setWidget(ImageCanvas(image))
        self.pages.setCurrentWidget(self.image_area)
        available = screen.availableGeometry().size() * 0.85 if screen else QSize(1200, 900)
        chrome = QSize(40, 110)
        wanted = image.size() + chrome
        self.resize(
            max(320, min(wanted.width(), available.width())),
            max(240, min(wanted.height(), available.height())),
        )

    async def _show_text(self, text: str) -> None:
        if len(text) > TEXT_LIMIT:
            self.note.setText(
                f"Showing the first {TEXT_LIMIT:,} characters of {len(text):,};"
                " Save as… has it all."
            )
            self.note.show()
            text = text[:TEXT_LIMIT]
        # A piece at a time, each its own turn of the loop: 2 MB in one go
        # would keep the GUI thread (and every streaming reply) for 100 ms.
        cursor = QTextCursor(self.text.document())
        for start in range(0, len(text), TEXT_PIECE):
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(text[start : start + TEXT_PIECE])
            await asyncio.sleep(0)
        self.text.moveCursor(QTextCursor.MoveOperation.Start)
        self.pages.setCurrentWidget(self.text)
        self.text.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_save_button_clicked(self) -> None:
        self._actions.save_as(self.attachment, self)

    def _on_task_failed(self, exc: BaseException) -> None:
        self.status.setText(f"Something went wrong: {exc}")


class FileActions(QObject):
    """Open and save attached files: viewers, and "Save as…"."""

    error_raised = Signal(str)
    saved = Signal(str)  # where the copy went

    def __init__(self, files: AttachmentService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.files = files
        self._tasks = TaskKeeper(log, on_error=self._on_task_failed)
        keeper = self._tasks
        self.destroyed.connect(keeper.cancel_all)
        self._folder: Path | None = None  # where the last copy was saved
        self.viewers: list[FileViewer] = []

    def open(self, attachment: Attachment, parent: QWidget | None) -> FileViewer:
        """Show a file in a viewer of its own (not modal)."""
        viewer = FileViewer(attachment, self, parent)
        viewer.setWindowFlag(Qt.WindowType.Window, True)
        self.viewers.append(viewer)
        viewer.destroyed.connect(lambda: self._forget(viewer))
        viewer.show()
        viewer.load()
        return viewer

    def save_as(self, attachment: Attachment, parent: QWidget | None) -> None:
        """Ask where, then copy the file there (in a worker thread)."""
        target = self.choose_save_path(parent, attachment.name)
        if target is not None:
            self._folder = target.parent
            self._tasks.spawn(self.copy_to(attachment, target))

    def choose_save_path(self, parent: QWidget | None, name: str) -> Path | None:
        """Ask the user where to save a copy (tests replace this)."""
        start = (self._folder or Path.home()) / name
        chosen, _ = QFileDialog.getSaveFileName(parent, f"Save “{name}” as", str(start))
        return Path(chosen) if chosen else None

    async def copy_to(self, attachment: Attachment, target: Path) -> bool:
        """Copy a file to ``target``; False (and ``error_raised``) if it could not be."""
        try:
            await asyncio.to_thread(self._copy, attachment, target)
        except FileGone:
            self.error_raised.emit(f"Could not save “{attachment.name}”: {GONE}")
            return False
        except OSError as exc:
            self.error_raised.emit(
                f"Could not save “{attachment.name}” to {target}: {exc.strerror or exc}."
            )
            return False
        self.saved.emit(str(target))
        return True

    def close_all(self) -> None:
        for viewer in list(self.viewers):
            viewer.close()

    def _copy(self, attachment: Attachment, target: Path) -> None:
        source = self.files.path(attachment)
        if source is None:
            raise FileGone(GONE)
        shutil.copyfile(source, target)

    def _forget(self, viewer: FileViewer) -> None:
        if viewer in self.viewers:
            self.viewers.remove(viewer)

    def _on_task_failed(self, exc: BaseException) -> None:
        self.error_raised.emit(f"Something went wrong: {exc}")
