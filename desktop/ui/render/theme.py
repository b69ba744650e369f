"""The transcript's colours, derived from the widget palette."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette

from desktop.ui.render.highlight import SyntaxTheme


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
    )


@dataclass(frozen=True)
class Theme:
    """Colours derived from a palette, so light and dark palettes both read well."""

    text: QColor
    muted: QColor
    accent: QColor
    link: QColor
    error: QColor
    code_background: QColor
    code_label: QColor
    user_background: QColor
    quote_bar: QColor
    dark: bool
    syntax: SyntaxTheme

    @classmethod
    def for_palette(cls, palette: QPalette) -> Theme:
        role = QPalette.ColorRole
        base = palette.color(role.Base)
        text = palette.color(role.Text)
        dark = base.lightness() < 128
        accent = palette.color(role.Highlight)
        link = palette.color(role.Link)
        if dark and link.lightness() < 110:
            link = _mix(link, QColor("white"), 0.45)
        if dark and accent.lightness() < 110:
            accent = _mix(accent, QColor("white"), 0.35)
        return cls(
            text=text,
            muted=_mix(text, base, 0.42),
            accent=accent,
            link=link,
            error=_mix(QColor("#ef5350" if dark else "#c62828"), text, 0.15),
            code_background=_mix(base, text, 0.09 if dark else 0.05),
            code_label=_mix(text, base, 0.5),
            user_background=_mix(base, accent, 0.10 if dark else 0.06),
            quote_bar=_mix(base, text, 0.25),
            dark=dark,
            syntax=SyntaxTheme.for_palette(palette),
        )
