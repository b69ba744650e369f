"""Text from outside shown as text: labels, tooltips and message boxes that never parse HTML.

Qt guesses whether a label's, tooltip's or message box's text is rich text
(``Qt.mightBeRichText``), and rich text loads the images it names, on the GUI
thread: a provider's error ``Bad gateway <img src="file:///some/fifo">`` froze
the window for 33 s, and ``file:///dev/zero`` hangs it for good. Provider
messages, model names, chat titles, URLs from replies and file paths all come
from outside, so every label is plain text (``plain_label``), every tooltip
is escaped (``tooltip``), and every message box is built plain (``ask``,
``message_box``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGui_Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that shows its text as it is, whatever it holds."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def tooltip(text: str) -> str:
    """``text`` for ``setToolTip``: escaped where Qt would take it for rich text."""
    if not QtGui_Qt.mightBeRichText(text):
        return text
    return QtGui_Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def message_box(
    parent: QWidget | None,
    icon: QMessageBox.Icon,
    title: str,
    text: str,
    informative: str = "",
) -> QMessageBox:
    """A QMessageBox whose texts are plain (the static helpers guess the format)."""
    box = QMessageBox(parent)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
        # QMessageBox has no format for the informative text: its label is found by name.
        label = box.findChild(QLabel, "qt_msgbox_informativelabel")
        if label is not None:
            label.setTextFormat(Qt.TextFormat.PlainText)
    return box


def ask(
    parent: QWidget | None,
    title: str,
    text: str,
    buttons: QMessageBox.StandardButton = (
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    ),
    default: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton,
) -> QMessageBox.StandardButton:
    """``QMessageBox.question`` with plain text; returns the button chosen."""
    box = message_box(parent, QMessageBox.Icon.Question, title, text)
    box.setStandardButtons(buttons)
    if default != QMessageBox.StandardButton.NoButton:
        box.setDefaultButton(default)
    try:
        return QMessageBox.StandardButton(box.exec())
    finally:
        box.deleteLater()


def warn(parent: QWidget | None, title: str, text: str, *, critical: bool = False) -> None:
    """``QMessageBox.warning`` / ``critical`` with plain text."""
    icon = QMessageBox.Icon.Critical if critical else QMessageBox.Icon.Warning
    box = message_box(parent, icon, title, text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    try:
        box.exec()
    finally:
        box.deleteLater()
