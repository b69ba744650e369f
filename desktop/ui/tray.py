"""The system tray icon: what is live, what is unread, and a menu to act on it.

The icon shows whether replies are streaming (a live dot), the tooltip counts
them and the unread chats ("Sidestream — 2 replies streaming, 1 unread"), and
the menu offers Show, New chat, Stop all, Do not disturb and Quit. The tray
only declares signals; the app decides what they do. It also carries the
balloon messages: the notification fallback and the "still running" hint.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop import APP_NAME
from desktop.ui.icons import app_icon, tray_icon

log = logging.getLogger("sidestream.ui")

BALLOON_MSECS = 10_000


def tooltip_text(live: int, unread: int) -> str:
    """ "Sidestream — 2 replies streaming, 1 unread" (just the name when idle)."""
    parts: list[str] = []
    if live:
        parts.append(f"{live} {'reply' if live == 1 else 'replies'} streaming")
    if unread:
        parts.append(f"{unread} unread")
    return f"{APP_NAME} — {', '.join(parts)}" if parts else APP_NAME


class Tray(QObject):
    """A QSystemTrayIcon with Sidestream's menu and live/unread state.

    ``live_count`` and ``unread_count`` are asked at each :meth:`refresh`
    (the app calls it when a reply starts or ends and when unread marks
    change). ``available`` overrides Qt's answer to "is there a tray?"
    (tests; None asks Qt).
    """

    show_requested = Signal()
    new_chat_requested = Signal()
    stop_all_requested = Signal()
    quit_requested = Signal()
    do_not_disturb_toggled = Signal(bool)
    message_clicked = Signal()
    message_shown = Signal(str, str)  # title, body: a balloon was shown

    def __init__(
        self,
        live_count: Callable[[], int],
        unread_count: Callable[[], int],
        *,
        available: bool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._live_count = live_count
        self._unread_count = unread_count
        self._available = available
        # macOS wants a monochrome template image in its menu bar.
        symbolic = sys.platform == "darwin"
        self._icons = {s: tray_icon(s, symbolic=symbolic) for s in (False, True)}
        if symbolic:
            for icon in self._icons.values():
                icon.setIsMask(True)
        self._streaming = False
        self.icon = QSystemTrayIcon(self._icons[False], self)
        self.icon.setToolTip(APP_NAME)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.action_show = self._action("&Show Sidestream", self.show_requested.emit)
        self.action_new_chat = self._action("&New chat", self.new_chat_requested.emit)
        self.menu.addSeparator()
        self.action_stop_all = self._action("&Stop all replies", self.stop_all_requested.emit)
        self.action_dnd = self._action("&Do not disturb", self._on_dnd_triggered)
        self.action_dnd.setCheckable(True)
        self.menu.addSeparator()
        self.action_quit = self._action("&Quit", self.quit_requested.emit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_icon_activated)
        self.icon.messageClicked.connect(self.message_clicked.emit)
        self.refresh()

    def _action(self, text: str, slot: Callable[..., object]) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    # ----------------------------------------------------------------- state
    @property
    def available(self) -> bool:
        """Whether the desktop has a system tray to show this icon in."""
        if self._available is not None:
            return self._available
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def streaming(self) -> bool:
        """Whether the icon shows live replies."""
        return self._streaming

    def icon_for(self, streaming: bool) -> QIcon:
        return self._icons[streaming]

    def tooltip(self) -> str:
        return self.icon.toolTip()

    def set_do_not_disturb(self, on: bool) -> None:
        """Reflect the setting in the menu (does not emit ``do_not_disturb_toggled``)."""
        self.action_dnd.setChecked(on)

    def show(self) -> None:
        if self.available:
            self.icon.show()
        else:
            log.info("no system tray on this desktop: the tray icon is not shown")

    def hide(self) -> None:
        self.icon.hide()

    def refresh(self) -> None:
        """Update icon, tooltip and menu from the live and unread counts."""
        live, unread = self._live_count(), self._unread_count()
        streaming = live > 0
        if streaming != self._streaming:
            self._streaming = streaming
            self.icon.setIcon(self._icons[streaming])
        self.icon.setToolTip(tooltip_text(live, unread))
        self.action_stop_all.setEnabled(streaming)

    def show_message(self, title: str, body: str) -> None:
        """A balloon from the tray icon (the notification fallback, hints)."""
        self.icon.showMessage(title, body, app_icon(), BALLOON_MSECS)
        self.message_shown.emit(title, body)

    # ----------------------------------------------------------------- slots
    def _on_dnd_triggered(self, checked: bool) -> None:
        self.do_not_disturb_toggled.emit(checked)

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.show_requested.emit()
