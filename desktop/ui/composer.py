"""The composer under a chat: a growing text box and a Send button that turns into Stop.

Enter sends, Shift+Enter starts a new line, Esc stops the reply while this
chat streams. The text box grows from one line to :attr:`Composer.MAX_LINES`
lines, then scrolls. Sending clears the box (Ctrl+Z brings the words back)
and keeps the keyboard focus in it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QFontMetricsF, QKeyEvent, QResizeEvent, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from desktop.ui import icons
from desktop.ui.plain import tooltip

log = logging.getLogger("sidestream.ui")

PLACEHOLDER = "Message Sidestream — Enter to send, Shift+Enter for a new line"
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def _clean(text: str) -> str:
    """The text to send: blank lines around it and trailing spaces dropped, indentation kept."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


class ComposerEdit(QPlainTextEdit):
    """The text box: turns Enter into "submit" and Esc into "stop"; grows with its text."""

    submitted = Signal()
    stop_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.streaming = False
        self.max_lines = 8
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def visible_lines(self) -> int:
        """How many lines tall the box is now (1..max_lines)."""
        line = QFontMetricsF(self.font()).lineSpacing()
        chrome = self._chrome()
        return max(1, round((self.height() - chrome) / line))

    def _chrome(self) -> float:
        margins = self.contentsMargins()
        viewport = self.viewportMargins()
        return (
            2 * self.document().documentMargin()
            + margins.top()
            + margins.bottom()
            + viewport.top()
            + viewport.bottom()
        )

    def _text_lines(self) -> int:
        document = self.document()
        if document.isEmpty() and self.placeholderText():
            # Room for the placeholder (or a disabled reason) in a narrow window.
            width = max(1, int(self.viewport().width() - 2 * document.documentMargin()))
            bounds = QFontMetrics(self.font()).boundingRect(
                QRect(0, 0, width, 10_000), int(Qt.TextFlag.TextWordWrap), self.placeholderText()
            )
            line = QFontMetricsF(self.font()).lineSpacing()
            return max(1, min(3, round(bounds.height() / line)))
        lines = 0
        block = self.document().firstBlock()
        while block.isValid() and lines <= self.max_lines:
            layout = block.layout()
            lines += max(1, layout.lineCount() if layout is not None else 1)
            block = block.next()
        return max(1, lines)

    def refit(self) -> None:
        """Recompute the height (after the placeholder or the font changed)."""
        self._fit_height()

    def _fit_height(self) -> None:
        lines = min(self._text_lines(), self.max_lines)
        line = QFontMetricsF(self.font()).lineSpacing()
        height = round(lines * line + self._chrome()) + 1
        if height != self.height():
            self.setFixedHeight(height)
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if self._text_lines() > self.max_lines
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_height()  # wrapping changed with the width

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.height())

    def event(self, event: QEvent) -> bool:
        # Claim Esc before a window-wide shortcut does, but only while
        # streaming: otherwise Esc belongs to whoever else wants it.
        if event.type() == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Escape and self.streaming:
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key in _ENTER_KEYS:
            if modifiers & Qt.KeyboardModifier.ShiftModifier:
                # A real paragraph break, not the U+2028 line separator Qt inserts.
                self.textCursor().insertText("\n")
                self.ensureCursorVisible()
            elif modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier):
                self.submitted.emit()
            else:
                super().keyPressEvent(event)
            event.accept()
            return
        if key == Qt.Key.Key_Escape and modifiers == Qt.KeyboardModifier.NoModifier:
            if self.streaming:
                self.stop_pressed.emit()
                event.accept()
                return
            event.ignore()  # let a dialog or window have it
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    """Text box plus Send/Stop button for one chat.

    ``send_requested(str)`` carries the text (never empty); the box is already
    cleared when it is emitted. ``stop_requested()`` comes from Stop or Esc
    while :meth:`set_streaming` is on.
    """

    send_requested = Signal(str)
    stop_requested = Signal()

    MAX_LINES = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._streaming = False
        self._disabled_reason: str | None = None

        self.input = ComposerEdit(self)
        self.input.setObjectName("composerInput")
        self.input.max_lines = self.MAX_LINES
        self.input.setPlaceholderText(PLACEHOLDER)
        self.input.refit()
        self.input.setAccessibleName("Message")
        self.input.setFrameShape(QFrame.Shape.StyledPanel)

        self.button = QPushButton(self)
        self.button.setObjectName("composerButton")
        self.button.setAutoDefault(False)
        self.button.setDefault(False)
        self.button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._send_icon = icons.send_icon()
        self._stop_icon = icons.stop_icon()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.input, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        self.setFocusProxy(self.input)

        self.input.submitted.connect(self._on_input_submitted)
        self.input.stop_pressed.connect(self.stop_requested)
        self.input.textChanged.connect(self._update_button)
        self.button.clicked.connect(self._on_button_clicked)
        self._update_button()

    # ------------------------------------------------------------------ API
    def text(self) -> str:
        return self.input.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the text (e.g. give back words whose send failed); cursor at the end."""
        self.input.setPlainText(text)
        self.input.moveCursor(QTextCursor.MoveOperation.End)

    def clear(self) -> None:
        self.input.clear()

    def focus_input(self) -> None:
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def is_streaming(self) -> bool:
        return self._streaming

    def set_streaming(self, streaming: bool) -> None:
        """Send turns into Stop (and Esc stops) while this chat's reply streams."""
        self._streaming = streaming
        self.input.streaming = streaming
        self._update_button()

    def set_enabled_reason(self, reason: str | None) -> None:
        """Disable the composer with a reason shown as its tooltip (None enables it)."""
        self._disabled_reason = reason
        self.input.setEnabled(reason is None)
        self.input.setPlaceholderText(reason or PLACEHOLDER)
        self.input.refit()
        self.input.setToolTip(tooltip(reason or ""))
        self.setToolTip(tooltip(reason or ""))
        self._update_button()

    def disabled_reason(self) -> str | None:
        return self._disabled_reason

    # ---------------------------------------------------------------- slots
    def _on_input_submitted(self) -> None:
        if self._streaming or self._disabled_reason is not None:
            return  # one reply at a time per chat; the text stays for later
        text = _clean(self.input.toPlainText())
        if not text:
            return
        # Clear through the cursor so that Ctrl+Z can bring the words back.
        cursor = self.input.textCursor()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.removeSelectedText()
        self.input.setTextCursor(cursor)
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)
        log.debug("Composer: sending %d characters", len(text))
        self.send_requested.emit(text)

    def _on_button_clicked(self) -> None:
        if self._streaming:
            self.stop_requested.emit()
        else:
            self._on_input_submitted()
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def _update_button(self) -> None:
        if self._streaming:
            self.button.setText("Stop")
            self.button.setIcon(self._stop_icon)
            self.button.setToolTip("Stop this reply (Esc)")
            self.button.setEnabled(True)
        else:
            self.button.setText("Send")
            self.button.setIcon(self._send_icon)
            self.button.setToolTip(self._disabled_reason or "Send (Enter)")
            self.button.setEnabled(
                self._disabled_reason is None and bool(self.input.toPlainText().strip())
            )
