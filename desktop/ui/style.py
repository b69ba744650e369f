"""Palette-aware colours shared by the widgets, so that light and dark themes both read well.

Nothing here hard-codes a theme: colours derive from the widget's QPalette, with
a few semantic colours (live, error, warning, success) tuned for dark and light
backgrounds.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

# Semantic colours: (on a light background, on a dark background).
_LIVE = ("#16A34A", "#4ADE80")
_ERROR = ("#B91C1C", "#F87171")
_WARNING = ("#92400E", "#FBBF24")
_SUCCESS = ("#15803D", "#4ADE80")


def is_dark(palette: QPalette) -> bool:
    """True when the palette's window background is dark."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved towards ``b`` by ``t`` (0 gives ``a``, 1 gives ``b``)."""
    t = min(max(t, 0.0), 1.0)
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        a.alphaF() + (b.alphaF() - a.alphaF()) * t,
    )


def secondary_text(palette: QPalette, group: QPalette.ColorGroup | None = None) -> QColor:
    """A dimmer text colour for second lines and hints, legible on Base."""
    g = palette.currentColorGroup() if group is None else group
    return blend(
        palette.color(g, QPalette.ColorRole.Text), palette.color(g, QPalette.ColorRole.Base), 0.42
    )


def accent(palette: QPalette) -> QColor:
    """The colour of "something new here" marks (the unread dot)."""
    return palette.color(QPalette.ColorRole.Highlight)


def _pick(palette: QPalette, pair: tuple[str, str]) -> QColor:
    return QColor(pair[1] if is_dark(palette) else pair[0])


def live_color(palette: QPalette) -> QColor:
    """The colour of a reply that is streaming right now."""
    return _pick(palette, _LIVE)


def error_color(palette: QPalette) -> QColor:
    return _pick(palette, _ERROR)


def warning_color(palette: QPalette) -> QColor:
    return _pick(palette, _WARNING)


def success_color(palette: QPalette) -> QColor:
    return _pick(palette, _SUCCESS)


def status_stylesheet(kind: str, palette: QPalette) -> str:
    """A style sheet for a status label: kind is "error", "warning", "success" or "info"."""
    colours = {
        "error": error_color,
        "warning": warning_color,
        "success": success_color,
    }
    picker = colours.get(kind)
    if picker is None:
        return f"color: {secondary_text(palette).name()};"
    return f"color: {picker(palette).name()};"


def banner_stylesheet(kind: str, palette: QPalette) -> str:
    """A framed, tinted box for a message that must not be missed (warning, error)."""
    fg = error_color(palette) if kind == "error" else warning_color(palette)
    bg = blend(palette.color(QPalette.ColorRole.Base), fg, 0.12)
    return (
        f"QLabel {{ color: {palette.color(QPalette.ColorRole.Text).name()};"
        f" background: {bg.name()}; border: 1px solid {fg.name()};"
        " border-radius: 4px; padding: 6px 8px; }"
    )
