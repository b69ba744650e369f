"""How a row of the chat list is painted: title, when, and the pin / live /
unread / muted marks, and the mark of a last reply cut short or failed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QRegion,
)
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.core.models import Session
from desktop.ui import icons, style
from desktop.ui.chat_list import (
    UNTITLED,
    ModelIndex,
    ReplyEnd,
    ReplyEndRole,
    SessionRole,
    StreamingRole,
    relative_time,
)


def paint_pin(painter: QPainter, rect: QRectF, color: QColor) -> None:
    """A push pin, tilted, filling the square ``rect``: the mark of a pinned chat."""
    side = min(rect.width(), rect.height())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(rect.center())
    painter.rotate(40)
    painter.scale(side, side)
    # Drawn pointing down in a unit square centred on the origin.
    shape = QPainterPath()
    shape.addRoundedRect(QRectF(-0.2, -0.5, 0.4, 0.16), 0.06, 0.06)  # the head
    shape.addRect(QRectF(-0.11, -0.36, 0.22, 0.34))  # the barrel
    shape.addRoundedRect(QRectF(-0.27, -0.04, 0.54, 0.13), 0.05, 0.05)  # the collar
    shape.setFillRule(Qt.FillRule.WindingFill)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawPath(shape)
    needle = QPen(color, 0.08)
    needle.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(needle)
    painter.drawLine(QPointF(0, 0.09), QPointF(0, 0.48))
    painter.restore()


def paint_reply_end(painter: QPainter, rect: QRectF, end: ReplyEnd, color: QColor) -> None:
    """The mark of a last reply that did not complete, each its own shape
    (none a filled dot, the "New reply" mark): pause bars for one stopped to
    make room, a broken ring for one interrupted, a square for one stopped, a
    triangle for one that failed."""
    side = min(rect.width(), rect.height())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(rect.center())
    painter.scale(side, side)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    if end is ReplyEnd.EVICTED:
        painter.drawRoundedRect(QRectF(-0.3, -0.32, 0.2, 0.64), 0.05, 0.05)
        painter.drawRoundedRect(QRectF(0.1, -0.32, 0.2, 0.64), 0.05, 0.05)
    elif end is ReplyEnd.INTERRUPTED:
        pen = QPen(color, 0.14)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        # Qt's angles are in sixteenths of a degree: a ring with a gap at the top right.
        painter.drawArc(QRectF(-0.3, -0.3, 0.6, 0.6), 70 * 16, 290 * 16)
    elif end is ReplyEnd.STOPPED:
        painter.drawRoundedRect(QRectF(-0.24, -0.24, 0.48, 0.48), 0.06, 0.06)
    else:
        triangle = QPainterPath()
        triangle.moveTo(0, -0.36)
        triangle.lineTo(0.36, 0.3)
        triangle.lineTo(-0.36, 0.3)
        triangle.closeSubpath()
        painter.drawPath(triangle)
    painter.restore()


def reply_end_color(end: ReplyEnd, palette: QPalette, dim: QColor) -> QColor:
    if end is ReplyEnd.FAILED:
        return style.error_color(palette)
    if end is ReplyEnd.STOPPED:
        return dim
    return style.warning_color(palette)


class ChatListDelegate(QStyledItemDelegate):
    """Paints a chat row: title, when (and its folder), and the pinned /
    streaming / unread / muted marks.

    ``phase`` (0..1) is the spinner's angle; the view advances it.
    ``show_folders``: the detail line names the chat's folder (the list
    shows every folder's chats).
    """

    PADDING = 8
    LINE_GAP = 2

    def __init__(
        self, parent: QObject | None = None, *, clock: Callable[[], datetime] = datetime.now
    ) -> None:
        super().__init__(parent)
        self.phase = 0.0
        self.show_folders = True
        self.exposed: QRegion | None = None
        """The area the view repaints now (set by the view around each paint)."""
        self._clock = clock

    @staticmethod
    def _small_font(font: QFont) -> QFont:
        small = QFont(font)
        if font.pointSizeF() > 0:
            small.setPointSizeF(max(6.0, font.pointSizeF() * 0.88))
        elif font.pixelSize() > 0:
            small.setPixelSize(max(8, round(font.pixelSize() * 0.88)))
        return small

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        title = QFontMetrics(option.font)
        small = QFontMetrics(self._small_font(option.font))
        height = 2 * self.PADDING + title.height() + self.LINE_GAP + small.height()
        return QSize(160, height)

    def mark_rect(self, rect: QRect, font: QFont) -> QRectF:
        """Where a row at ``rect`` paints its spinner or unread dot."""
        title_height = QFontMetrics(font).height()
        side = max(10, min(title_height, 16))
        right = rect.right() - self.PADDING - 2
        centre_y = rect.top() + self.PADDING + (title_height - 1) // 2
        return QRectF(right - side + 1, centre_y - side / 2 + 1, side, side)

    def _paint_spinner_only(
        self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex
    ) -> bool:
        """A spinner tick exposes only the spinner: paint that, not the row.

        (A row's full paint asks the model for a dozen roles and lays out two
        lines of text; five live chats ticking at 12 fps made that a few ms
        of every 80.)
        """
        exposed = self.exposed
        if exposed is None:
            return False
        rect: QRect = option.rect
        mark_rect = self.mark_rect(rect, option.font)
        if not mark_rect.contains(QRectF(exposed.intersected(rect).boundingRect())):
            return False
        if not index.data(StreamingRole):
            return False
        widget = option.widget
        qstyle = widget.style() if widget is not None else QApplication.style()
        qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            group = (
                QPalette.ColorGroup.Normal
                if option.state & QStyle.StateFlag.State_Enabled
                else QPalette.ColorGroup.Disabled
            )
            color = palette.color(group, QPalette.ColorRole.HighlightedText)
        else:
            color = style.live_color(palette)
        icons.paint_spinner_frame(painter, mark_rect.adjusted(1, 1, -1, -1), self.phase, color)
        return True

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        if self._paint_spinner_only(painter, option, index):
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        qstyle = widget.style() if widget is not None else QApplication.style()
        state = opt.state
        palette: QPalette = opt.palette
        rect: QRect = opt.rect
        font: QFont = opt.font

        # Background (selection, hover) as the style draws it, without the text.
        opt.text = ""
        qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)

        session = index.data(SessionRole)
        if not isinstance(session, Session):
            return
        streaming = bool(index.data(StreamingRole))
        end = index.data(ReplyEndRole)
        if not isinstance(end, ReplyEnd):
            end = None
        group = (
            QPalette.ColorGroup.Normal
            if state & QStyle.StateFlag.State_Enabled
            else QPalette.ColorGroup.Disabled
        )
        selected = bool(state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = palette.color(group, text_role)
        live = text_color if selected else style.live_color(palette)
        mark_rect = self.mark_rect(rect, font)
        background = palette.color(
            group, QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base
        )
        dim = style.blend(text_color, background, 0.42)
        mark = text_color if selected else style.accent(palette)
        end_color = text_color if selected or end is None else reply_end_color(end, palette, dim)

        painter.save()
        inner = rect.adjusted(self.PADDING + 2, self.PADDING, -self.PADDING - 2, -self.PADDING)
        title_font = QFont(font)
        if session.unread:
            title_font.setBold(True)
        small_font = self._small_font(font)
        title_fm = QFontMetrics(title_font)
        small_fm = QFontMetrics(small_font)
        title_rect = QRect(inner.left(), inner.top(), inner.width(), title_fm.height())
        detail_rect = QRect(
            inner.left(), title_rect.bottom() + 1 + self.LINE_GAP, inner.width(), small_fm.height()
        )

        # Right-hand marks: live spinner or unread dot on the title line,
        # the muted bell on the detail line.
        mark_side = round(mark_rect.width())
        if streaming or end is not None or session.unread:
            if streaming:
                spinner = mark_rect.adjusted(1, 1, -1, -1)
                icons.paint_spinner_frame(painter, spinner, self.phase, live)
            elif end is not None:
                paint_reply_end(painter, mark_rect, end, end_color)
            else:
                icons.paint_dot(painter, mark_rect.center(), mark_side * 0.3, mark)
            title_rect.setRight(title_rect.right() - mark_side - 6)
        if session.pinned:
            pin_side = max(9, min(title_fm.height() - 2, 14))
            pin_rect = QRectF(
                title_rect.right() - pin_side + 1,
                title_rect.center().y() - pin_side / 2 + 1,
                pin_side,
                pin_side,
            )
            paint_pin(painter, pin_rect, text_color if selected else dim)
            title_rect.setRight(title_rect.right() - pin_side - 5)
        if session.muted:
            bell_side = max(9, min(small_fm.height(), 14))
            bell_rect = QRectF(
                detail_rect.right() - bell_side + 1,
                detail_rect.center().y() - bell_side / 2 + 1,
                bell_side,
                bell_side,
            )
            icons.paint_bell(painter, bell_rect, dim, slashed=True)
            detail_rect.setRight(detail_rect.right() - bell_side - 6)

        painter.setFont(title_font)
        painter.setPen(text_color)
        title = title_fm.elidedText(
            session.title or UNTITLED, Qt.TextElideMode.ElideRight, title_rect.width()
        )
        painter.drawText(
            title_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), title
        )

        when = relative_time(session.updated_at, self._clock())
        if self.show_folders and session.folder:
            when = f"{when} · {session.folder}"
        if streaming:
            detail, detail_color = "Replying…", live
        elif end is not None:
            detail, detail_color = f"{end.label} · {when}", end_color
        elif session.unread:
            detail, detail_color = f"New reply · {when}", mark
        else:
            detail, detail_color = when, dim
        painter.setFont(small_font)
        painter.setPen(detail_color)
        painter.drawText(
            detail_rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            small_fm.elidedText(detail, Qt.TextElideMode.ElideRight, detail_rect.width()),
        )
        painter.restore()

        if state & QStyle.StateFlag.State_HasFocus:
            focus = QStyleOptionViewItem(opt)
            focus.rect = rect
            qstyle.drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, focus, painter, widget)
