"""Where the main window goes: its size and place remembered, always on screen.

A size that fit one screen (or one scale factor) may not fit the next: at
``QT_SCALE_FACTOR=1.5`` on a 1400x900 screen, a fixed 1180x780 default became
1769x1170 physical pixels and the composer was below the screen's edge. The
window is therefore clamped to the screen's available geometry; its default
is a share of that geometry, never a fixed size.
"""

from __future__ import annotations

from dataclasses import dataclass

GEOMETRY_KEY = "window_geometry"
DEFAULT_SIZE = (1180, 780)
"""The default size where the screen has room for it (device-independent pixels)."""
DEFAULT_SHARE = 0.9
"""At most this share of the available geometry, for the default size."""
MIN_SIZE = (480, 360)


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    def to_setting(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    @classmethod
    def from_setting(cls, value: object) -> Rect | None:
        """The rect saved by :meth:`to_setting`; None for anything else (an
        older or damaged setting is ignored, not an error)."""
        if not isinstance(value, dict):
            return None
        fields = [value.get(name) for name in ("x", "y", "width", "height")]
        if not all(isinstance(f, int) and not isinstance(f, bool) for f in fields):
            return None
        x, y, width, height = (int(f) for f in fields)  # type: ignore[arg-type]
        if width <= 0 or height <= 0:
            return None
        return cls(x, y, width, height)


def default_rect(available: Rect) -> Rect:
    """The default: DEFAULT_SIZE, or less on a small screen (at most
    DEFAULT_SHARE of it), centred."""
    width = min(DEFAULT_SIZE[0], int(available.width * DEFAULT_SHARE))
    height = min(DEFAULT_SIZE[1], int(available.height * DEFAULT_SHARE))
    return Rect(
        available.x + (available.width - width) // 2,
        available.y + (available.height - height) // 2,
        width,
        height,
    )


def clamp_rect(wanted: Rect | None, available: Rect) -> Rect:
    """``wanted`` (None: the default) made to fit inside ``available``: no
    larger than it (nor smaller than MIN_SIZE where it has room), and moved
    back onto it where it hangs over an edge."""
    if wanted is None:
        return default_rect(available)
    width = min(max(wanted.width, min(MIN_SIZE[0], available.width)), available.width)
    height = min(max(wanted.height, min(MIN_SIZE[1], available.height)), available.height)
    x = min(max(wanted.x, available.x), available.x + available.width - width)
    y = min(max(wanted.y, available.y), available.y + available.height - height)
    return Rect(x, y, width, height)
