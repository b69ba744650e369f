"""The composer under a chat: a growing text box and a Send button that turns into Stop.

Enter sends, Shift+Enter starts a new line, Esc stops the reply while this
chat streams. The text box grows from one line to :attr:`Composer.MAX_LINES`
lines, then scrolls. Sending clears the box (Ctrl+Z brings the words back)
and keeps the keyboard focus in it.

Editing a message (:meth:`Composer.begin_edit`, asked for by the view's Edit
or by Up in an empty box) puts its text in the box under a slim "Editing your
message" bar; the draft the box held is kept and comes back when the edit
ends. While editing, the edit owns the keys and the button: Enter and Resend
send the edit (``edit_submitted``), Esc and Cancel drop it; Esc stops a
streaming reply again once the edit is over. The rule for Esc in the box:
an edit in progress first, then a streaming reply, else it is the window's.

Files (when the tab hands it an ``AttachmentService``): the paperclip and
Ctrl+U pick files, Ctrl+V pastes an image or files copied in a file manager
(text pastes as text), and files dragged onto the chat are dropped here by
the tab. Each shows as a chip above the box (:mod:`desktop.ui.attachment_tray`),
read in a worker thread; Send takes text or files or both, once every file
is read. An edit brings the message's files back as chips, which the user
can remove or add to; the draft's files wait, as its text does.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontMetrics,
    QFontMetricsF,
    QKeyEvent,
    QKeySequence,
    QResizeEvent,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models import Attachment
from desktop.services.attachments import AttachmentService
from desktop.ui import icons
from desktop.ui.attachment_tray import AttachmentTray, holds_files
from desktop.ui.plain import plain_label, tooltip
from desktop.ui.zoom import clamp_zoom, zoomed_font

log = logging.getLogger("sidestream.ui")

PLACEHOLDER = "Message Sidestream — Enter to send, Shift+Enter for a new line"
EDIT_PLACEHOLDER = "Your message — Enter to send it again, Esc to cancel"
EDIT_BAR_TEXT = "Editing your message · Esc to cancel"
ATTACH_TOOLTIP = "Attach files (Ctrl+U)"
STILL_READING = "Wait until the files are read"
FILE_FILTERS = (
    "All files (*);;Images (*.png *.jpg *.jpeg *.webp *.gif);;"
    "Text and PDF (*.txt *.md *.csv *.tsv *.json *.yaml *.yml *.toml *.log *.py *.pdf)"
)
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def _clean(text: str) -> str:
    """The text to send: blank lines around it and trailing spaces dropped, indentation kept."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


class ComposerEdit(QPlainTextEdit):
    """The text box: turns Enter into "submit", Esc into "cancel the edit" or
    "stop", Up in an empty box into "edit the last message"; grows with its text.

    With ``accepts_files`` on, a paste of files or an image is handed on
    (``mime_pasted``) instead of inserted, and a drag of them is left to the
    widgets around (the tab shows where to drop them)."""

    submitted = Signal()
    stop_pressed = Signal()
    cancel_pressed = Signal()
    up_pressed_empty = Signal()
    mime_pasted = Signal(object)  # QMimeData holding files or an image

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.streaming = False
        self.editing = False
        self.accepts_files = False
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
        # Claim Esc before a window-wide shortcut (Stop) does, but only while
        # editing or streaming: otherwise Esc belongs to whoever else wants it.
        if event.type() == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Escape and (self.editing or self.streaming):
                event.accept()
                return True
        return super().event(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        if self.accepts_files and holds_files(source):
            return True
        return super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if self.accepts_files and holds_files(source):
            self.mime_pasted.emit(source)
            return
        super().insertFromMimeData(source)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.accepts_files and holds_files(event.mimeData()):
            event.ignore()  # the tab takes files, with a hint where to drop them
            return
        super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.accepts_files and holds_files(event.mimeData()):
            event.ignore()
            return
        super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if self.accepts_files and holds_files(event.mimeData()):
            event.ignore()
            return
        super().dropEvent(event)

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
        if (
            key == Qt.Key.Key_Up
            and modifiers == Qt.KeyboardModifier.NoModifier
            and not self.editing
            and self.document().isEmpty()
        ):
            self.up_pressed_empty.emit()
            event.accept()
            return
        if key == Qt.Key.Key_Escape and modifiers == Qt.KeyboardModifier.NoModifier:
            if self.editing:  # an edit in progress first: Esc drops it, the reply goes on
                self.cancel_pressed.emit()
                event.accept()
                return
            if self.streaming:
                self.stop_pressed.emit()
                event.accept()
                return
            event.ignore()  # let a dialog or window have it
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    """Text box plus Send/Stop button for one chat, and the files attached.

    ``send_requested(str)`` carries the text (empty only when files are
    attached); the box is already cleared when it is emitted. The files go
    with it: the receiver takes them with :meth:`take_attachments` (their
    chips go then) and gives them back with :meth:`give_back` if the send
    fails. ``stop_requested()`` comes from Stop or Esc while
    :meth:`set_streaming` is on (and no edit is in progress).

    Edit mode (see the module docstring): ``edit_submitted(message id, text,
    files)`` when the edit is sent (the files the new version carries, a
    tuple), ``edit_cancelled()`` when it is dropped (Esc, Cancel,
    :meth:`cancel_edit`); either way the draft comes back, with its files.
    ``edit_last_requested()`` is Up in an empty box: the tab answers with
    :meth:`begin_edit` for the last user message shown.
    """

    send_requested = Signal(str)
    stop_requested = Signal()
    edit_submitted = Signal(int, str, object)  # message id, text, tuple[Attachment, ...]
    edit_cancelled = Signal()
    edit_last_requested = Signal()

    MAX_LINES = 8

    def __init__(
        self, parent: QWidget | None = None, *, attachments: AttachmentService | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._streaming = False
        self._disabled_reason: str | None = None
        self._editing: int | None = None
        self._draft = ("", 0)  # the box's text and cursor before the edit

        self.input = ComposerEdit(self)
        self.input.setObjectName("composerInput")
        self.input.max_lines = self.MAX_LINES
        self.input.setPlaceholderText(PLACEHOLDER)
        self.input.refit()
        self.input.setAccessibleName("Message")
        self._zoom = 1.0
        self.input.setFrameShape(QFrame.Shape.StyledPanel)
        self.input.accepts_files = attachments is not None

        self.tray = AttachmentTray(attachments, self)
        self.tray.focus_after_last = self.input
        self.attach_button = QToolButton(self)
        self.attach_button.setObjectName("composerAttach")
        self.attach_button.setIcon(icons.attach_icon())
        self.attach_button.setToolTip(ATTACH_TOOLTIP)
        self.attach_button.setAccessibleName("Attach files")
        self.attach_button.setAutoRaise(True)
        self.attach_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.attach_button.setVisible(self.tray.enabled)
        self.attach_action = QAction("Attach files…", self)
        self.attach_action.setShortcut(QKeySequence("Ctrl+U"))
        self.attach_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.attach_action.setEnabled(self.tray.enabled)
        self.addAction(self.attach_action)
        self._folder: Path | None = None  # where files were last picked from

        self.button = QPushButton(self)
        self.button.setObjectName("composerButton")
        self.button.setAutoDefault(False)
        self.button.setDefault(False)
        self.button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._send_icon = icons.send_icon()
        self._stop_icon = icons.stop_icon()

        self.edit_bar = QWidget(self)
        self.edit_bar.setObjectName("composerEditBar")
        self.edit_label = plain_label(EDIT_BAR_TEXT, self.edit_bar)
        self.edit_label.setAccessibleName("Editing your message")
        self.cancel_button = QToolButton(self.edit_bar)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Drop the edit and get your draft back (Esc)")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        bar = QHBoxLayout(self.edit_bar)
        bar.setContentsMargins(2, 0, 0, 0)
        bar.setSpacing(6)
        bar.addWidget(self.edit_label)
        bar.addWidget(self.cancel_button)
        bar.addStretch(1)
        self.edit_bar.hide()

        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.input, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(2)
        layout.addWidget(self.edit_bar)
        layout.addWidget(self.tray)
        layout.addLayout(row)
        self.setFocusProxy(self.input)

        self.input.submitted.connect(self._on_input_submitted)
        self.input.stop_pressed.connect(self.stop_requested)
        self.input.cancel_pressed.connect(self.cancel_edit)
        self.input.up_pressed_empty.connect(self.edit_last_requested)
        self.cancel_button.clicked.connect(self.cancel_edit)
        self.input.textChanged.connect(self._update_button)
        self.input.mime_pasted.connect(self.attach_mime)
        self.tray.changed.connect(self._on_tray_changed)
        self.attach_button.clicked.connect(self.attach_files)
        self.attach_action.triggered.connect(self.attach_files)
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

    # ---------------------------------------------------------------- files
    def attachments(self) -> tuple[Attachment, ...]:
        """The files attached and read, in order."""
        return self.tray.attachments()

    def take_attachments(self) -> tuple[Attachment, ...]:
        """The files attached, handed over with a send: their chips go."""
        return self.tray.take()

    def give_back(self, files: Sequence[Attachment]) -> None:
        """Files whose send failed: their chips come back, in front."""
        self.tray.give_back(files)

    def attach_files(self) -> None:
        """Ask for files (Ctrl+U, the paperclip) and attach them."""
        if not self.tray.enabled:
            return
        paths = self.choose_files()
        if paths:
            self._folder = paths[0].parent
            self.attach_paths(paths)
        self.focus_input()

    def choose_files(self) -> list[Path]:
        """The files the user picks in a file dialog (tests replace this)."""
        chosen, _ = QFileDialog.getOpenFileNames(
            self, "Attach files", str(self._folder or Path.home()), FILE_FILTERS
        )
        return [Path(name) for name in chosen]

    def attach_paths(self, paths: Sequence[Path]) -> None:
        """Attach files (picked, or dropped on the chat)."""
        self.tray.attach_paths(paths)

    def attach_mime(self, mime: QMimeData) -> bool:
        """Attach the files or the image that were pasted or dropped; False
        if there are none (or attaching is off)."""
        if not self.tray.enabled:
            return False
        return self.tray.attach_mime(mime)

    @property
    def zoom(self) -> float:
        return self._zoom

    def set_zoom(self, factor: float) -> None:
        """Show the text box's text ``factor`` times its normal size."""
        factor = clamp_zoom(factor)
        if factor == self._zoom:
            return
        self._zoom = factor
        self.input.setFont(zoomed_font(self.font(), factor))
        self.input.refit()

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
        self._update_placeholder()
        self.input.setToolTip(tooltip(reason or ""))
        self.setToolTip(tooltip(reason or ""))
        self._update_button()

    def disabled_reason(self) -> str | None:
        return self._disabled_reason

    @property
    def editing(self) -> int | None:
        """The id of the message being edited, or None."""
        return self._editing

    def begin_edit(
        self, message_id: int, text: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        """Edit a message: its text in the box (cursor at the end) and its
        files as chips, the bar above, Resend for Send. The draft the box
        held (and its files) comes back when the edit ends; editing another
        message meanwhile keeps that draft."""
        if self._editing is None:
            self._draft = (self.input.toPlainText(), self.input.textCursor().position())
            self.tray.stash()
        self._editing = message_id
        self.tray.set_attachments(attachments)
        self.input.editing = True
        self.edit_bar.show()
        self._update_placeholder()
        self.input.setAccessibleDescription(EDIT_BAR_TEXT)
        self.set_text(text)
        self._update_button()
        self.focus_input()
        log.debug("Composer: editing message %d", message_id)

    def cancel_edit(self) -> None:
        """Drop the edit in progress (if any) and give the draft back."""
        if self._editing is None:
            return
        self._end_edit()
        self.edit_cancelled.emit()

    # ---------------------------------------------------------------- slots
    def _end_edit(self) -> None:
        """Leave edit mode, the draft back in the box where it was."""
        self._editing = None
        self.input.editing = False
        self.edit_bar.hide()
        self._update_placeholder()
        self.input.setAccessibleDescription("")
        text, position = self._draft
        self._draft = ("", 0)
        self.tray.clear()
        self.tray.unstash()
        self.input.setPlainText(text)
        cursor = self.input.textCursor()
        cursor.setPosition(min(position, len(text)))
        self.input.setTextCursor(cursor)
        self._update_button()
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def _submit_edit(self, message_id: int) -> None:
        # A streaming reply does not hold an edit back: the edit starts its
        # own branch beside it (ChatService.edit), and the reply goes on.
        if self._disabled_reason is not None or self._still_reading():
            return
        text = _clean(self.input.toPlainText())
        files = self.tray.attachments()
        if not text and not files:
            return
        self._end_edit()
        log.debug("Composer: sending an edit of message %d", message_id)
        self.edit_submitted.emit(message_id, text, files)

    def _on_input_submitted(self) -> None:
        if self._editing is not None:
            self._submit_edit(self._editing)
            return
        if self._streaming or self._disabled_reason is not None:
            return  # one reply at a time per chat; the text stays for later
        if self._still_reading():
            return
        text = _clean(self.input.toPlainText())
        if not text and not self.tray.attachments():
            return
        # Clear through the cursor so that Ctrl+Z can bring the words back.
        cursor = self.input.textCursor()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.removeSelectedText()
        self.input.setTextCursor(cursor)
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)
        log.debug(
            "Composer: sending %d characters, %d files", len(text), len(self.tray.attachments())
        )
        self.send_requested.emit(text)

    def _still_reading(self) -> bool:
        """Whether a file is still being read (then nothing is sent yet: say so)."""
        if not self.tray.busy:
            return False
        self.tray.show_note(f"{STILL_READING}: Enter sends then.")
        return True

    def _on_button_clicked(self) -> None:
        if self._editing is not None:
            self._submit_edit(self._editing)
        elif self._streaming:
            self.stop_requested.emit()
        else:
            self._on_input_submitted()
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def _update_placeholder(self) -> None:
        default = PLACEHOLDER if self._editing is None else EDIT_PLACEHOLDER
        self.input.setPlaceholderText(self._disabled_reason or default)
        self.input.refit()

    def _on_tray_changed(self) -> None:
        self._update_button()
        self._order_tabs()

    def _order_tabs(self) -> None:
        """Tab goes through the chips (as they read, above the box), then the
        paperclip, the box and Send."""
        chain: list[QWidget] = []
        for chip in self.tray.row.chips():
            chain += [chip.open_button, chip.remove_button]
        chain += [self.attach_button, self.input, self.button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _can_send(self) -> bool:
        has_content = bool(self.input.toPlainText().strip()) or bool(self.tray.attachments())
        return self._disabled_reason is None and has_content and not self.tray.busy

    def _update_button(self) -> None:
        reading = STILL_READING if self.tray.busy else None
        if self._editing is not None:
            self.button.setText("Resend")
            self.button.setIcon(self._send_icon)
            self.button.setToolTip(
                self._disabled_reason
                or reading
                or "Send the edited message as a new version (Enter)"
            )
            self.button.setEnabled(self._can_send())
        elif self._streaming:
            self.button.setText("Stop")
            self.button.setIcon(self._stop_icon)
            self.button.setToolTip("Stop this reply (Esc)")
            self.button.setEnabled(True)
        else:
            self.button.setText("Send")
            self.button.setIcon(self._send_icon)
            self.button.setToolTip(self._disabled_reason or reading or "Send (Enter)")
            self.button.setEnabled(self._can_send())
