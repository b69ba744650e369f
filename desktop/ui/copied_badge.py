""" "Copied ✓", shown for a moment over the Copy link that was used."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

COPIED_TEXT = "Copied ✓"
COPIED_MS = 1500


class CopiedBadge(QLabel):
    """A small label laid over a link for ``COPIED_MS``, then gone."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(COPIED_TEXT, parent)
        self.setObjectName("copiedBadge")
        self.setAccessibleName(COPIED_TEXT)
        self.setAutoFillBackground(True)  # it covers the link's own text
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setContentsMargins(2, 0, 2, 0)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COPIED_MS)
        self._timer.timeout.connect(self.hide)

    def show_over(self, link: QRect) -> None:
        """Show over ``link`` (in the parent's coordinates), left-aligned to
        it and vertically centred on it; a new copy restarts the moment."""
        self.adjustSize()
        self.move(link.left() - 2, link.center().y() - self.height() // 2)
        self.show()
        self.raise_()
        self._timer.start()
