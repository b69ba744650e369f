"""Labels, tooltips and message boxes built by desktop.ui.plain never parse HTML."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from desktop.ui.plain import message_box, plain_label, tooltip

HOSTILE = 'Bad gateway <img src="file:///dev/zero"> & <a href="https://x.example">x</a>'


def test_a_plain_label_shows_markup_as_written(qapp: QApplication) -> None:
    label = plain_label(HOSTILE)
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert label.text() == HOSTILE


def test_a_tooltip_is_escaped_only_where_qt_would_take_it_for_rich_text() -> None:
    assert tooltip("Add a provider in Settings to chat.") == "Add a provider in Settings to chat."
    escaped = tooltip(HOSTILE)
    assert "<img" not in escaped and "&lt;img" in escaped
    assert tooltip("") == ""
    assert GuiQt.mightBeRichText(HOSTILE)


def test_a_message_box_is_plain_in_its_text_and_its_informative_text(
    qapp: QApplication,
) -> None:
    box = message_box(None, QMessageBox.Icon.Warning, "t", HOSTILE, HOSTILE)
    labels = {label.objectName(): label for label in box.findChildren(QLabel)}
    for name in ("qt_msgbox_label", "qt_msgbox_informativelabel"):
        assert labels[name].textFormat() == Qt.TextFormat.PlainText
        assert labels[name].text() == HOSTILE
    box.deleteLater()
