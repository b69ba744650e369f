"""The question "replies are still streaming: quit?", kept true while it is open.

Replies go on streaming while the question waits for an answer (the event loop
runs inside its ``exec``): its count follows them, and once none streams any
more it closes itself with :attr:`QuitChoice.QUIT` — the question was only
asked because replies streamed, so the user's Quit (or close) goes ahead as
it would have with nothing streaming.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop import APP_NAME
from desktop.ui.plain import message_box


class QuitChoice(Enum):
    """The answer to "replies are still streaming: quit?"."""

    KEEP_RUNNING = "keep running"  # in the tray (minimised when there is no tray)
    QUIT = "quit"  # stop the replies (their text is kept) and quit
    CANCEL = "cancel"


def streaming_text(live: int) -> str:
    return f"{live} {'reply is' if live == 1 else 'replies are'} still streaming."


class QuitQuestion:
    """The quit question's box; :meth:`set_live` keeps its count current."""

    def __init__(self, live: int, tray_available: bool, parent: QWidget | None) -> None:
        where = "in the tray" if tray_available else "with the window minimised"
        self.box = message_box(
            parent,
            QMessageBox.Icon.Question,
            f"Quit {APP_NAME}",
            streaming_text(live),
            f"Keep them running {where}, or stop them and quit? "
            "Stopped replies keep their text, and you can Continue them later.",
        )
        self.box.setObjectName("quitQuestion")
        self._keep = self.box.addButton(
            "&Keep running in the tray" if tray_available else "&Keep running",
            QMessageBox.ButtonRole.AcceptRole,
        )
        self._stop = self.box.addButton("&Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        cancel = self.box.addButton(QMessageBox.StandardButton.Cancel)
        self.box.setDefaultButton(self._keep)
        self.box.setEscapeButton(cancel)
        self._nothing_streams = False

    def text(self) -> str:
        return self.box.text()

    def set_live(self, live: int) -> None:
        """Replies started or ended while the question is open."""
        if self._nothing_streams:
            return
        if live <= 0:
            # Nothing left to keep running or to stop: the quit goes ahead.
            self._nothing_streams = True
            self.box.done(0)
            return
        self.box.setText(streaming_text(live))

    def ask(self) -> QuitChoice:
        """Show the question and wait for the answer (or for no reply to stream)."""
        if not self._nothing_streams:
            self.box.exec()
        if self._nothing_streams:
            return QuitChoice.QUIT
        clicked = self.box.clickedButton()
        if clicked is self._keep:
            return QuitChoice.KEEP_RUNNING
        if clicked is self._stop:
            return QuitChoice.QUIT
        return QuitChoice.CANCEL
