"""The sidebar's message hits: one row per message found, its chat's title
over a snippet with the matched words highlighted.

The snippet arrives as text with private marks around the matches
(:func:`desktop.core.search.split_marked`); the delegate lays it out as plain
text with ``QTextLayout`` and paints the matches with a ``QTextCharFormat``.
Nothing of a message is ever read as HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.core.search import SearchHit, split_marked
from desktop.ui.find import MATCH_COLOR

HitRole = Qt.ItemDataRole.UserRole + 1
"""The row's :class:`SearchHit`."""

ModelIndex = QModelIndex | QPersistentModelIndex

_PAD = 6


class SearchHitModel(QAbstractListModel):
    """The hits of the last search, in the order the service gave them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        if role == HitRole:
            return hit
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{hit.title}: {split_marked(hit.snippet)[0]}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return hit.title
        return None

    def set_hits(self, hits: Sequence[SearchHit]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def hit_at(self, row: int) -> SearchHit | None:
        return self._hits[row] if 0 <= row < len(self._hits) else None

    def hits(self) -> list[SearchHit]:
        return list(self._hits)


class SearchHitDelegate(QStyledItemDelegate):
    """Two lines: the chat's title (bold), then the snippet, its matches highlighted."""

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        metrics = QFontMetrics(option.font)
        return QSize(200, metrics.height() * 3 + _PAD * 2)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        hit = index.data(HitRole)
        if not isinstance(hit, SearchHit):
            return
        rect = option.rect
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if selected:
            painter.fillRect(rect, palette.highlight())
        text_color = palette.highlightedText() if selected else palette.text()
        painter.setPen(text_color.color())
        title_font = QFont(option.font)
        title_font.setBold(True)
        metrics = QFontMetrics(title_font)
        width = rect.width() - 2 * _PAD
        title = metrics.elidedText(hit.title, Qt.TextElideMode.ElideRight, width)
        painter.setFont(title_font)
        painter.drawText(rect.x() + _PAD, rect.y() + _PAD + metrics.ascent(), title)
        layout = snippet_layout(hit.snippet, option.font, width)
        body_top = rect.y() + _PAD + metrics.height()
        painter.setClipRect(rect)
        layout.draw(painter, QPointF(rect.x() + _PAD, body_top), layout.formats())
        painter.restore()


def snippet_layout(snippet: str, font: QFont, width: int) -> QTextLayout:
    """A snippet laid out at ``width`` in at most two lines, its matches
    highlighted by formats over the plain text (read them with ``formats()``)."""
    text, ranges = split_marked(" ".join(snippet.split()))
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    formats = []
    for start, end in ranges:
        found = QTextCharFormat()
        found.setBackground(MATCH_COLOR)
        found.setForeground(Qt.GlobalColor.black)
        found.setFontWeight(QFont.Weight.Bold)
        span = QTextLayout.FormatRange()
        span.start, span.length, span.format = start, end - start, found
        formats.append(span)
    layout.setFormats(formats)
    layout.beginLayout()
    y = 0.0
    for _ in range(2):
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, y))
        y += line.height()
    layout.endLayout()
    return layout


class SearchResultsView(QListView):
    """The list of hits; Enter or a click emits ``hit_activated``."""

    hit_activated = Signal(object)  # the SearchHit

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchResults")
        self.setAccessibleName("Messages found")
        self.model_ = SearchHitModel(self)
        self.setModel(self.model_)
        self.setItemDelegate(SearchHitDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.clicked.connect(self._on_clicked)

    def _on_clicked(self, index: QModelIndex) -> None:
        hit = self.model_.hit_at(index.row())
        if hit is not None:
            self.hit_activated.emit(hit)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            index = self.currentIndex()
            if index.isValid():
                self._on_clicked(index)
                return
        super().keyPressEvent(event)
