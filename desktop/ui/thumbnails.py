"""Thumbnails of attached images, scaled in a worker thread and kept.

A 20 MB photo takes a few hundred milliseconds to decode: never on the GUI
thread, where replies stream. :func:`scaled_image` reads an image with
``QImageReader.setScaledSize`` (a JPEG is decoded at the smaller size
directly) in a thread of the loop's executor; QImage, unlike QPixmap, may be
used there. :class:`Thumbnails` asks for one per file, keeps the last
:data:`KEEP` it made, and says when one is ready (``loaded``); its user turns
the image into a pixmap on the GUI thread, which for a thumbnail is cheap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from desktop.core.models import Attachment, AttachmentKind
from desktop.core.tasks import TaskKeeper
from desktop.services.attachments import AttachmentService

log = logging.getLogger("sidestream.ui")

KEEP = 64
"""Thumbnails kept per cache (160 x 120 at 2x: about 300 KB each at most, so ~20 MB)."""


def scaled_image(path: Path | str, box: QSize) -> QImage:
    """The image at ``path`` fitted into ``box`` (device pixels), turned as its
    EXIF says; a null image if it cannot be read. Runs in a worker thread."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > box.width() or size.height() > box.height()):
        reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        log.info("could not read the image %s: %s", path, reader.errorString())
        return QImage()
    if image.width() > box.width() or image.height() > box.height():
        # Turned by its EXIF orientation after scaling: fit it again.
        image = image.scaled(
            box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return image


class Thumbnails(QObject):
    """Thumbnails of attached images at one size, made off the GUI thread.

    :meth:`get` returns the thumbnail of an image if it is made, else None and
    starts making it; ``loaded(sha256)`` says when it is there (a null image
    if the file could not be read: then :meth:`get` returns that, and it is
    not tried again).
    """

    loaded = Signal(str)  # the sha256 of the image

    def __init__(self, files: AttachmentService, box: QSize, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._files = files
        self._box = box
        self._ratio = 1.0
        self._made: OrderedDict[str, QImage] = OrderedDict()
        self._tasks = TaskKeeper(log)
        keeper = self._tasks
        self.destroyed.connect(keeper.cancel_all)

    @property
    def box(self) -> QSize:
        """The size a thumbnail fits in, in logical pixels."""
        return self._box

    def set_ratio(self, ratio: float) -> None:
        """Make thumbnails for this device pixel ratio from now on (the screen's)."""
        if ratio != self._ratio:
            self._ratio = ratio
            self._made.clear()

    def get(self, attachment: Attachment) -> QImage | None:
        """The thumbnail, if made (a null image: unreadable); else None, and it is made."""
        if attachment.kind is not AttachmentKind.IMAGE:
            return QImage()
        key = attachment.sha256
        made = self._made.get(key)
        if made is not None:
            self._made.move_to_end(key)
            return made
        if not any(task.get_name() == key for task in self._tasks.pending()):
            try:
                self._tasks.spawn(self._make(attachment), name=key)
            except RuntimeError:  # no loop runs (a view built without one)
                return None
        return None

    def cancel(self) -> None:
        """Stop waiting for the thumbnails being made."""
        self._tasks.cancel_all()

    async def _make(self, attachment: Attachment) -> None:
        ratio = self._ratio
        device = QSize(round(self._box.width() * ratio), round(self._box.height() * ratio))
        image = await asyncio.to_thread(self._read, attachment, device)
        image.setDevicePixelRatio(ratio)
        self._made[attachment.sha256] = image
        while len(self._made) > KEEP:
            self._made.popitem(last=False)
        self.loaded.emit(attachment.sha256)

    def _read(self, attachment: Attachment, device: QSize) -> QImage:
        path = self._files.path(attachment)  # a stat: in the worker too
        return QImage() if path is None else scaled_image(path, device)
