"""Zooming text: the range a zoom factor may take and a font at that size.

The transcript and the composer both zoom (``ChatTab.set_zoom``); the window
decides the factor and remembers it.
"""

from __future__ import annotations

from PySide6.QtGui import QFont

ZOOM_MIN = 0.5
ZOOM_MAX = 3.0


def clamp_zoom(factor: float) -> float:
    """``factor`` within ``ZOOM_MIN``..``ZOOM_MAX`` (1.0: the normal size)."""
    return min(ZOOM_MAX, max(ZOOM_MIN, factor))


def zoomed_font(font: QFont, factor: float) -> QFont:
    """``font`` at ``factor`` times its size (points, or pixels if it has no points).

    Whole points: Qt's Markdown importer sizes code blocks from the
    document's default font only when that has a whole point size.
    """
    zoomed = QFont(font)
    if factor == 1.0:
        return zoomed
    if font.pointSizeF() > 0:
        zoomed.setPointSize(max(1, round(font.pointSizeF() * factor)))
    elif font.pixelSize() > 0:
        zoomed.setPixelSize(max(1, round(font.pixelSize() * factor)))
    return zoomed
