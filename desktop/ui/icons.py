"""Icons: the app and tray icons from resources/icons, and small action icons drawn with QPainter.

Resource files are found relative to the source tree or, in a PyInstaller build,
under ``sys._MEIPASS`` (see :func:`resources_dir`). If the files are missing the
app icon is drawn instead, so a broken install still shows a recognisable icon.
The drawing primitives (:func:`paint_dot`, :func:`paint_bell`,
:func:`paint_spinner`) are shared with the chat list's delegate so that its
indicators match the icons exactly and follow the palette; :func:`paint_file`
draws the glyph of an attached file that is not an image (a page with its
kind on it), in the composer's chips and in the transcript.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QIcon,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)

log = logging.getLogger("sidestream.ui")

APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
TRAY_ICON_SIZES = (22, 44)
_ACTION_SIZES = (16, 20, 24, 32, 48)


def resources_dir() -> Path:
    """The ``resources`` folder: next to the bundle when frozen, else at the repository root."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        frozen = Path(bundle) / "resources"
        if frozen.is_dir():
            return frozen
    return Path(__file__).resolve().parents[2] / "resources"


def icons_dir() -> Path:
    return resources_dir() / "icons"


# ------------------------------------------------------------------ file icons
def app_icon() -> QIcon:
    """The Sidestream icon in every size (drawn if the PNG files are missing)."""
    icon = QIcon()
    for size in APP_ICON_SIZES:
        path = icons_dir() / f"sidestream-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    if icon.isNull():
        log.warning("App icon files not found in %s; drawing it instead", icons_dir())
        return _drawn_icon(_paint_app_icon, APP_ICON_SIZES)
    return icon


def tray_icon(streaming: bool = False, *, symbolic: bool = False) -> QIcon:
    """The tray icon; ``streaming`` adds a live dot, ``symbolic`` is the monochrome one."""
    stem = "tray-symbolic" if symbolic else "tray"
    if streaming:
        stem += "-streaming"
    icon = QIcon()
    for size in TRAY_ICON_SIZES:
        path = icons_dir() / f"{stem}-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    if icon.isNull():
        log.warning("Tray icon files not found in %s; using the app icon", icons_dir())
        return app_icon()
    return icon


# ------------------------------------------------------------------ primitives
def paint_dot(painter: QPainter, centre: QPointF, radius: float, color: QColor) -> None:
    """A filled dot (the unread mark, the live dot)."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(centre, radius, radius)
    painter.restore()


def paint_bell(painter: QPainter, rect: QRectF, color: QColor, *, slashed: bool = True) -> None:
    """A bell fitted into ``rect``; ``slashed`` crosses it out (notifications muted)."""
    side = min(rect.width(), rect.height())
    if side <= 0:
        return
    # Drawn on its own transparent image so that the gap cut around the slash
    # never punches through whatever is under the bell (a row, a selection).
    ratio = max(1.0, painter.device().devicePixelRatioF()) if painter.device() else 1.0
    pixels = max(1, math.ceil(side * ratio))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(pixels)
    body = QPainterPath()
    body.moveTo(0.5 * s, 0.12 * s)
    body.cubicTo(0.74 * s, 0.12 * s, 0.78 * s, 0.32 * s, 0.78 * s, 0.46 * s)
    body.lineTo(0.78 * s, 0.62 * s)
    body.lineTo(0.9 * s, 0.76 * s)
    body.lineTo(0.1 * s, 0.76 * s)
    body.lineTo(0.22 * s, 0.62 * s)
    body.lineTo(0.22 * s, 0.46 * s)
    body.cubicTo(0.22 * s, 0.32 * s, 0.26 * s, 0.12 * s, 0.5 * s, 0.12 * s)
    body.closeSubpath()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawPath(body)
    p.drawEllipse(QPointF(0.5 * s, 0.86 * s), 0.09 * s, 0.09 * s)
    if slashed:
        pen = QPen(color, max(1.0, 0.1 * s))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        start, end = QPointF(0.12 * s, 0.08 * s), QPointF(0.9 * s, 0.92 * s)
        gap = QPen(pen)
        gap.setWidthF(pen.widthF() * 2.8)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        p.setPen(gap)
        p.drawLine(start, end)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        p.setPen(pen)
        p.drawLine(start, end)
    p.end()
    image.setDevicePixelRatio(ratio)
    target = QRectF(0, 0, side, side)
    target.moveCenter(rect.center())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawImage(target, image)
    painter.restore()


def paint_spinner(painter: QPainter, rect: QRectF, phase: float, color: QColor) -> None:
    """A busy ring: a faint circle with an arc that turns once per unit of ``phase``."""
    side = min(rect.width(), rect.height())
    width = max(1.5, side * 0.16)
    box = QRectF(0, 0, side - width, side - width)
    box.moveCenter(rect.center())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    faint = QColor(color)
    faint.setAlphaF(color.alphaF() * 0.25)
    pen = QPen(faint, width)
    painter.setPen(pen)
    painter.drawEllipse(box)
    pen.setColor(color)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    start = -int((phase % 1.0) * 360 * 16)
    # The arc breathes a little as it turns, which reads as "alive" at 12 fps.
    span = int((100 + 60 * math.sin(phase * 2 * math.pi)) * 16)
    painter.drawArc(box, start + 90 * 16, span)
    painter.restore()


SPINNER_STEPS = 36
"""Frames per turn of :func:`paint_spinner_frame` (at 12 fps, a turn is 13 frames)."""
_SPINNER_FRAMES_KEPT = 512
_spinner_frames: dict[tuple[int, int, int, int, float], QPixmap] = {}


def paint_spinner_frame(painter: QPainter, rect: QRectF, phase: float, color: QColor) -> None:
    """:func:`paint_spinner` from a cache of drawn frames (``phase`` in 1/36 turns).

    An antialiased ring and arc cost the chat list a few ms a second per live
    chat; a frame is drawn once and then copied.
    """
    ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
    step = round((phase % 1.0) * SPINNER_STEPS) % SPINNER_STEPS
    width, height = math.ceil(rect.width() * ratio), math.ceil(rect.height() * ratio)
    key = (width, height, color.rgba(), step, ratio)
    frame = _spinner_frames.get(key)
    if frame is None:
        if len(_spinner_frames) >= _SPINNER_FRAMES_KEPT:
            _spinner_frames.clear()
        frame = QPixmap(max(1, width), max(1, height))
        frame.setDevicePixelRatio(ratio)
        frame.fill(Qt.GlobalColor.transparent)
        frame_painter = QPainter(frame)
        paint_spinner(
            frame_painter, QRectF(0, 0, rect.width(), rect.height()), step / SPINNER_STEPS, color
        )
        frame_painter.end()
        _spinner_frames[key] = frame
    painter.drawPixmap(rect.topLeft(), frame)


def paint_stop(painter: QPainter, rect: QRectF, color: QColor) -> None:
    side = min(rect.width(), rect.height()) * 0.62
    box = QRectF(0, 0, side, side)
    box.moveCenter(rect.center())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(box, side * 0.18, side * 0.18)
    painter.restore()


def paint_send(painter: QPainter, rect: QRectF, color: QColor) -> None:
    """An arrow pointing up (send)."""
    side = min(rect.width(), rect.height())
    box = QRectF(0, 0, side, side)
    box.moveCenter(rect.center())
    x, y, s = box.x(), box.y(), side
    pen = QPen(color, max(1.5, 0.13 * s))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawLine(QPointF(x + 0.5 * s, y + 0.84 * s), QPointF(x + 0.5 * s, y + 0.18 * s))
    arrow = QPainterPath(QPointF(x + 0.22 * s, y + 0.44 * s))
    arrow.lineTo(x + 0.5 * s, y + 0.16 * s)
    arrow.lineTo(x + 0.78 * s, y + 0.44 * s)
    painter.drawPath(arrow)
    painter.restore()


def paint_plus(painter: QPainter, rect: QRectF, color: QColor) -> None:
    side = min(rect.width(), rect.height())
    c = rect.center()
    pen = QPen(color, max(1.5, 0.12 * side))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(pen)
    half = side * 0.32
    painter.drawLine(QPointF(c.x() - half, c.y()), QPointF(c.x() + half, c.y()))
    painter.drawLine(QPointF(c.x(), c.y() - half), QPointF(c.x(), c.y() + half))
    painter.restore()


def paint_paperclip(painter: QPainter, rect: QRectF, color: QColor) -> None:
    """A paperclip, leaning right (attach files)."""
    side = min(rect.width(), rect.height())
    box = QRectF(0, 0, side, side)
    box.moveCenter(rect.center())
    x, y, s = box.x(), box.y(), side
    # Drawn upright in the unit square, then turned: outer wire down, round
    # the bottom, up the other side, round the top, and the inner wire down.
    clip = QPainterPath(QPointF(x + 0.62 * s, y + 0.34 * s))
    clip.lineTo(x + 0.62 * s, y + 0.70 * s)
    clip.arcTo(QRectF(x + 0.38 * s, y + 0.58 * s, 0.24 * s, 0.24 * s), 0, -180)
    clip.lineTo(x + 0.38 * s, y + 0.24 * s)
    clip.arcTo(QRectF(x + 0.38 * s, y + 0.14 * s, 0.18 * s, 0.18 * s), 180, -180)
    clip.lineTo(x + 0.56 * s, y + 0.64 * s)
    pen = QPen(color, max(1.3, 0.075 * s))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    centre = box.center()
    painter.translate(centre)
    painter.rotate(40)
    painter.translate(-centre)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(clip)
    painter.restore()


def paint_file(painter: QPainter, rect: QRectF, color: QColor, label: str = "") -> None:
    """A page with a folded corner and ``label`` (its kind: "PDF", "TXT") on it."""
    height = min(rect.height(), rect.width() * 1.3)
    width = height / 1.3
    page = QRectF(0, 0, width, height)
    page.moveCenter(rect.center())
    fold = width * 0.32
    line = max(1.0, width * 0.06)
    outline = QPainterPath(QPointF(page.left(), page.top()))
    outline.lineTo(page.right() - fold, page.top())
    outline.lineTo(page.right(), page.top() + fold)
    outline.lineTo(page.right(), page.bottom())
    outline.lineTo(page.left(), page.bottom())
    outline.closeSubpath()
    corner = QPainterPath(QPointF(page.right() - fold, page.top()))
    corner.lineTo(page.right() - fold, page.top() + fold)
    corner.lineTo(page.right(), page.top() + fold)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, line)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(outline)
    painter.drawPath(corner)
    if label and height >= 14:
        font = painter.font()
        font.setBold(True)
        font.setPixelSize(max(5, round(width * (0.34 if len(label) <= 3 else 0.27))))
        painter.setFont(font)
        band = QRectF(page.left(), page.top() + height * 0.45, width, height * 0.4)
        painter.drawText(band, int(Qt.AlignmentFlag.AlignCenter), label)
    elif height >= 8:
        for i in range(3):
            ly = page.top() + height * (0.45 + 0.15 * i)
            painter.drawLine(
                QPointF(page.left() + width * 0.2, ly), QPointF(page.right() - width * 0.2, ly)
            )
    painter.restore()


# ---------------------------------------------------------------- action icons
def _text_color() -> QColor:
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)
    return QColor("#444444")


def _drawn_icon(
    draw: Callable[[QPainter, QRectF], None], sizes: tuple[int, ...] = _ACTION_SIZES
) -> QIcon:
    icon = QIcon()
    for size in sizes:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        draw(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def muted_icon(color: QColor | None = None) -> QIcon:
    """A slashed bell: notifications are muted for this chat."""
    c = color or _text_color()
    return _drawn_icon(lambda p, r: paint_bell(p, r.adjusted(1, 1, -1, -1), c, slashed=True))


def bell_icon(color: QColor | None = None) -> QIcon:
    """A bell: notifications are on (used for the "Unmute" action)."""
    c = color or _text_color()
    return _drawn_icon(lambda p, r: paint_bell(p, r.adjusted(1, 1, -1, -1), c, slashed=False))


def unread_icon(color: QColor | None = None) -> QIcon:
    """A dot: a reply finished while this chat was not on screen."""
    c = color or QGuiApplication.palette().color(QPalette.ColorRole.Highlight)
    return _drawn_icon(lambda p, r: paint_dot(p, r.center(), r.width() * 0.25, c))


def send_icon(color: QColor | None = None) -> QIcon:
    c = color or _text_color()
    return _drawn_icon(lambda p, r: paint_send(p, r, c))


def stop_icon(color: QColor | None = None) -> QIcon:
    c = color or _text_color()
    return _drawn_icon(lambda p, r: paint_stop(p, r, c))


def new_chat_icon(color: QColor | None = None) -> QIcon:
    c = color or _text_color()
    return _drawn_icon(lambda p, r: paint_plus(p, r, c))


def attach_icon(color: QColor | None = None) -> QIcon:
    """A paperclip: attach files to the message."""
    c = color or _text_color()
    return _drawn_icon(lambda p, r: paint_paperclip(p, r, c))


def file_glyph(label: str, size: int, color: QColor, ratio: float = 1.0) -> QImage:
    """The glyph of a file that is not an image, ``size`` pixels square (logical)."""
    pixels = max(1, math.ceil(size * ratio))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    paint_file(painter, QRectF(0, 0, pixels, pixels), color, label)
    painter.end()
    image.setDevicePixelRatio(ratio)
    return image


def _paint_app_icon(painter: QPainter, rect: QRectF) -> None:
    """Fallback for a missing resources folder: the app icon's shapes, roughly."""
    s = rect.width()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    gradient = QLinearGradient(rect.topLeft(), rect.bottomRight())
    gradient.setColorAt(0, QColor("#4C6FFF"))
    gradient.setColorAt(1, QColor("#17B7A6"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(gradient))
    inner = rect.adjusted(s * 0.03, s * 0.03, -s * 0.03, -s * 0.03)
    painter.drawRoundedRect(inner, s * 0.21, s * 0.21)
    painter.setBrush(QColor("#FFFFFF"))
    painter.drawRoundedRect(QRectF(s * 0.16, s * 0.2, s * 0.68, s * 0.52), s * 0.14, s * 0.14)
    tail = QPainterPath(QPointF(s * 0.26, s * 0.66))
    tail.lineTo(s * 0.42, s * 0.7)
    tail.lineTo(s * 0.25, s * 0.84)
    tail.closeSubpath()
    painter.drawPath(tail)
    pen = QPen(QColor("#2F6BD8"), max(1.0, s * 0.066))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    for i, end in enumerate((0.72, 0.64, 0.46)):
        y = s * (0.35 + 0.117 * i)
        painter.drawLine(QPointF(s * 0.28, y), QPointF(s * end, y))
