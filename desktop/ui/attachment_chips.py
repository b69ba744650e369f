"""The chips of the files about to be sent, and the hint shown while files are dragged.

An :class:`AttachmentChip` is one file in the composer: its thumbnail (an
image) or glyph (a text file, a PDF), its name (elided in the middle) and
size, and an × that removes it. While the file is read it says "reading…".
The chip's name opens the file, the × removes it; both are keyboard stops
(Tab), and Delete on the name removes it too. :class:`ChipsRow` lays the
chips out in a row that scrolls sideways when they do not fit.

:class:`DropHint` covers a chat tab while files are dragged over it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontMetrics,
    QIcon,
    QImage,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from desktop.attachments import describe_size
from desktop.core.models import Attachment, AttachmentKind
from desktop.ui.icons import file_glyph
from desktop.ui.plain import plain_label, tooltip
from desktop.ui.render.attachments import file_label
from desktop.ui.style import secondary_text

ICON_PX = 36
NAME_PX = 150  # the widest a name is shown before it is elided
READING = "reading…"


class AttachmentChip(QFrame):
    """One file in the composer (see the module docstring)."""

    open_clicked = Signal()
    remove_clicked = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentChip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.name = name
        self.attachment: Attachment | None = None
        self.has_thumbnail = False  # an image's thumbnail is shown
        self.open_button = QToolButton(self)
        self.open_button.setAutoRaise(True)
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.open_button.setIconSize(QSize(ICON_PX, ICON_PX))
        self.open_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.open_button.installEventFilter(self)
        self.size_label = plain_label(READING, self)
        muted = self.size_label.palette()
        muted.setColor(QPalette.ColorRole.WindowText, secondary_text(self.palette()))
        self.size_label.setPalette(muted)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("×")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.remove_button.setToolTip(tooltip(f"Remove “{name}” from the message"))
        self.remove_button.setAccessibleName(f"Remove {name}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.open_button)
        layout.addWidget(self.size_label)
        layout.addWidget(self.remove_button)
        self.open_button.clicked.connect(self.open_clicked)
        self.remove_button.clicked.connect(self.remove_clicked)
        self._show_name()
        self.set_reading()

    @property
    def reading(self) -> bool:
        return self.attachment is None

    def set_reading(self) -> None:
        """The file is being read: "reading…", and nothing to open yet."""
        self.attachment = None
        self.size_label.setText(READING)
        self.open_button.setIcon(_glyph_icon("", self))
        self.open_button.setEnabled(False)
        self.open_button.setToolTip(tooltip(f"Reading “{self.name}”…"))
        self.setAccessibleName(f"{self.name}, reading")

    def set_ready(self, attachment: Attachment) -> None:
        """The file is attached: its size, its glyph (an image's thumbnail comes later)."""
        self.attachment = attachment
        self.name = attachment.name
        self._show_name()
        size = describe_size(attachment.size)
        self.size_label.setText(size)
        self.open_button.setEnabled(True)
        self.open_button.setToolTip(tooltip(f"{attachment.name} · {size} — open it"))
        self.open_button.setAccessibleName(f"Open {attachment.name}")
        self.setAccessibleName(f"{attachment.name}, {size}")
        label = "" if attachment.kind is AttachmentKind.IMAGE else file_label(attachment)
        self.open_button.setIcon(_glyph_icon(label, self))

    def set_thumbnail(self, image: QImage) -> None:
        """Show an image's thumbnail (made off the GUI thread) as the chip's icon."""
        if image.isNull():
            self.open_button.setIcon(_glyph_icon("?", self))
            return
        self.open_button.setIcon(QIcon(QPixmap.fromImage(image)))
        self.has_thumbnail = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.open_button
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        ):
            self.remove_clicked.emit()
            return True
        return super().eventFilter(watched, event)

    def _show_name(self) -> None:
        metrics = QFontMetrics(self.open_button.font())
        self.open_button.setText(
            metrics.elidedText(self.name, Qt.TextElideMode.ElideMiddle, NAME_PX)
        )


def _glyph_icon(label: str, widget: QWidget) -> QIcon:
    color = widget.palette().color(QPalette.ColorRole.WindowText)
    ratio = widget.devicePixelRatioF()
    return QIcon(QPixmap.fromImage(file_glyph(label, ICON_PX, color, ratio)))


class ChipsRow(QScrollArea):
    """The chips in a row, scrolled sideways when they do not fit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentChips")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        inner = QWidget(self)
        self._layout = QHBoxLayout(inner)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self.hide()

    def chips(self) -> list[AttachmentChip]:
        items = (self._layout.itemAt(i) for i in range(self._layout.count()))
        return [
            w for w in (item.widget() for item in items if item) if isinstance(w, AttachmentChip)
        ]

    def add(self, chip: AttachmentChip, index: int | None = None) -> None:
        """Show a chip at the end of the row, or at ``index``."""
        end = self._layout.count() - 1  # before the stretch
        self._layout.insertWidget(end if index is None else min(index, end), chip)
        chip.show()
        self._fit()

    def take(self, chip: AttachmentChip) -> None:
        """Take a chip out of the row (it is kept by whoever holds it)."""
        self._layout.removeWidget(chip)
        chip.hide()
        chip.setParent(None)
        self._fit()

    def _fit(self) -> None:
        chips = self.chips()
        self.setVisible(bool(chips))
        if chips:
            bar = self.horizontalScrollBar().sizeHint().height()
            tallest = max(chip.sizeHint().height() for chip in chips)
            self.setFixedHeight(tallest + bar + 2)


class DropHint(QWidget):
    """What a chat tab shows while files are dragged over it: drop them to attach.

    It covers the tab and takes the drag from there: ``dropped`` with what
    was dropped, ``left`` when the drag leaves (or is cancelled).
    """

    dropped = Signal(object)  # the QMimeData dropped (valid while the signal runs)
    left = Signal()

    TEXT = "Drop files here to attach them to your message"

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("dropHint")
        self.setAcceptDrops(True)
        self.setAccessibleName(self.TEXT)
        self.hide()

    def cover(self) -> None:
        """Show over the whole of the parent."""
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.hide()
        self.left.emit()

    def dropEvent(self, event: QDropEvent) -> None:
        self.hide()
        event.acceptProposedAction()
        self.dropped.emit(event.mimeData())

    def paintEvent(self, event: QPaintEvent) -> None:
        palette = self.palette()
        accent = palette.color(QPalette.ColorRole.Highlight)
        base = palette.color(QPalette.ColorRole.Base)
        veil = QColor(base)
        veil.setAlphaF(0.88)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), veil)
        pen = QPen(accent, 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        frame = QRectF(self.rect()).adjusted(10, 10, -10, -10)
        painter.drawRoundedRect(frame, 10, 10)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(
            frame, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.TEXT
        )
        painter.end()
