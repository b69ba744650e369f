"""The window's size and place: remembered, restored, and always fitting the screen."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.services import Services
from desktop.ui.geometry import GEOMETRY_KEY, Rect, clamp_rect, default_rect
from desktop.ui.main_window import MainWindow

# The screen: 1400x900 at QT_SCALE_FACTOR=1.5 is 933x600 device-independent pixels.
SCALED = Rect(0, 0, 933, 600)


def test_the_default_fits_a_scaled_small_screen() -> None:
    rect = default_rect(SCALED)
    assert rect.width <= 0.9 * SCALED.width and rect.height <= 0.9 * SCALED.height
    assert rect == clamp_rect(None, SCALED)
    assert rect.x >= 0 and rect.y >= 0  # centred, on screen
    assert rect.x + rect.width <= SCALED.width and rect.y + rect.height <= SCALED.height


def test_the_default_on_a_big_screen_is_the_usual_size() -> None:
    assert default_rect(Rect(0, 0, 2560, 1440)) == Rect(690, 330, 1180, 780)


@pytest.mark.parametrize(
    ("wanted", "available", "expected"),
    [
        # Fits: kept as it is.
        (Rect(100, 50, 800, 500), Rect(0, 0, 1920, 1080), Rect(100, 50, 800, 500)),
        # Larger than the screen: as large as the screen.
        (Rect(0, 0, 1769, 1170), SCALED, Rect(0, 0, 933, 600)),
        # Hanging over the right and bottom edges: moved back.
        (Rect(800, 500, 600, 400), Rect(0, 0, 1280, 800), Rect(680, 400, 600, 400)),
        # Off a screen that is gone (left of this one): brought onto it.
        (Rect(-2000, -50, 700, 500), Rect(0, 30, 1280, 770), Rect(0, 30, 700, 500)),
        # On a second screen with an offset: kept inside it.
        (Rect(1900, 10, 900, 700), Rect(1920, 0, 1280, 1024), Rect(1920, 10, 900, 700)),
        # Too small to use: the minimum.
        (Rect(10, 10, 50, 40), Rect(0, 0, 1280, 800), Rect(10, 10, 480, 360)),
    ],
)
def test_clamp_rect(wanted: Rect, available: Rect, expected: Rect) -> None:
    assert clamp_rect(wanted, available) == expected


@pytest.mark.parametrize(
    "value",
    [None, "1180x780", {"x": 1, "y": 2, "width": 0, "height": 5}, {"x": 1, "y": 2}, [1, 2, 3, 4]],
)
def test_a_damaged_setting_is_ignored(value: object) -> None:
    assert Rect.from_setting(value) is None


def _available() -> Rect:
    area = QGuiApplication.primaryScreen().availableGeometry()
    return Rect(area.x(), area.y(), area.width(), area.height())


def test_the_window_fits_the_screen_by_default(window: MainWindow) -> None:
    available = _available()
    geometry = window.geometry()
    assert geometry.width() <= 0.9 * available.width
    assert geometry.height() <= 0.9 * available.height
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert area.contains(geometry)


def test_size_and_place_are_remembered_and_clamped(
    qtbot: QtBot, window: MainWindow, services: Services
) -> None:
    window.setGeometry(40, 50, 500, 400)
    window.save_geometry()
    again = MainWindow(services.chat, services.settings)
    qtbot.addWidget(again)
    assert again.geometry().getRect() == (40, 50, 500, 400)
    again.allow_close = True

    available = _available()
    services.settings.set(GEOMETRY_KEY, {"x": 300, "y": 200, "width": 5000, "height": 4000})
    third = MainWindow(services.chat, services.settings)
    qtbot.addWidget(third)
    assert third.geometry().getRect() == (
        available.x,
        available.y,
        available.width,
        available.height,
    )
    third.allow_close = True
