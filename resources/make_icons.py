"""Regenerate the PNG (and .ico/.icns) icons in resources/icons/ from their SVG sources.

Run from anywhere: ``python resources/make_icons.py`` (works offscreen, no display).

- ``sidestream.svg``      -> ``sidestream-<N>.png`` for every size in APP_SIZES,
                             ``sidestream.ico`` (Windows) and ``sidestream.icns`` (macOS)
- ``tray.svg``            -> ``tray-22.png`` / ``tray-44.png`` (the @2x one for HiDPI panels)
- ``tray.svg`` + live dot -> ``tray-streaming-22.png`` / ``tray-streaming-44.png``
- ``tray-symbolic.svg``   -> ``tray-symbolic-22.png`` / ``tray-symbolic-44.png``

The "live dot" of the streaming tray icon is painted here with QPainter, so that
its size stays legible whatever the icon's size.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent / "icons"
APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (22, 44)
LIVE_DOT = QColor("#22C55E")
LIVE_RING = QColor("#FFFFFF")


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def with_live_dot(image: QImage) -> QImage:
    """The tray icon with a green dot (ringed in white) at its lower right."""
    out = image.copy()
    size = out.width()
    radius = size * 0.22
    centre = QPointF(size - radius - size * 0.02, size - radius - size * 0.02)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    # Clear a margin around the dot so that it separates from the bubble.
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    painter.setBrush(Qt.GlobalColor.black)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(centre, radius + size * 0.07, radius + size * 0.07)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
    painter.setPen(QPen(LIVE_RING, max(1.0, size * 0.045)))
    painter.setBrush(LIVE_DOT)
    painter.drawEllipse(centre, radius, radius)
    painter.end()
    return out


def save(image: QImage, path: Path) -> None:
    if not image.save(str(path)):
        raise SystemExit(f"cannot write {path}")
    sys.stdout.write(f"wrote {path.relative_to(ICONS.parent.parent)}\n")


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    app_svg = ICONS / "sidestream.svg"
    for size in APP_SIZES:
        save(render(app_svg, size), ICONS / f"sidestream-{size}.png")
    # Windows and macOS want one file with several sizes; Qt's ico/icns writers
    # take the largest image they support, so give each a suitable one.
    save(render(app_svg, 256), ICONS / "sidestream.ico")
    save(render(app_svg, 512), ICONS / "sidestream.icns")
    for size in TRAY_SIZES:
        tray = render(ICONS / "tray.svg", size)
        save(tray, ICONS / f"tray-{size}.png")
        save(with_live_dot(tray), ICONS / f"tray-streaming-{size}.png")
        symbolic = render(ICONS / "tray-symbolic.svg", size)
        save(symbolic, ICONS / f"tray-symbolic-{size}.png")
        save(with_live_dot(symbolic), ICONS / f"tray-symbolic-streaming-{size}.png")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
