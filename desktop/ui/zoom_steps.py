"""The window's zoom of all chat text: its steps (Ctrl+= / Ctrl+- / Ctrl+0) and
its setting. (How a tab shows a factor is ``ChatTab.set_zoom``'s.)"""

from __future__ import annotations

ZOOM_KEY = "chat_zoom"
MIN_ZOOM = 0.5
MAX_ZOOM = 3.0
STEPS = (0.5, 0.67, 0.75, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
"""The zoom levels Ctrl+= and Ctrl+- go through (a browser's)."""


def valid_zoom(value: object) -> float:
    """A stored or computed zoom made valid: within range (anything not a number: 1.0)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return 1.0
    return min(MAX_ZOOM, max(MIN_ZOOM, float(value)))


def zoom_in(factor: float) -> float:
    return next((s for s in STEPS if s > factor + 1e-6), MAX_ZOOM)


def zoom_out(factor: float) -> float:
    return next((s for s in reversed(STEPS) if s < factor - 1e-6), MIN_ZOOM)
