"""The transcript view of one chat: one QTextBrowser over one QTextDocument.

``ChatView`` shows a chat's messages rendered from Markdown and keeps a
streaming reply up to date cheaply (see :mod:`desktop.ui.render.document` for
how). It is also where the transcript's safety rules live:

- images are never fetched: every image resource resolves to a placeholder
  and its URL is recorded in :attr:`ChatView.blocked_resources`, but for the
  thumbnails of the images attached to the messages shown (scaled in a
  worker thread, see :mod:`desktop.ui.thumbnails`), which the view itself
  wrote (:mod:`desktop.ui.render.attachments`);
- links open only on click, only for http(s) and mailto, and only after the
  user confirms the full URL; other schemes do nothing;
- HTML in message text is shown as text (Markdown is imported with
  ``MarkdownNoHTML``), and ``sidestream:`` links in message text are disarmed,
  so only the view's own controls can trigger its actions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QDesktopServices,
    QFont,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextLine,
)
from PySide6.QtWidgets import QDialog, QMenu, QTextBrowser, QVBoxLayout, QWidget

from desktop.core.links import OPENABLE_SCHEMES, LinkCheck, check_link
from desktop.core.models import Attachment, Message
from desktop.core.search import find_matches, query_terms
from desktop.core.states import Role
from desktop.services.attachments import AttachmentService
from desktop.streaming.events import MessageUpdate
from desktop.ui.copied_badge import CopiedBadge
from desktop.ui.file_viewer import FileActions, FileViewer
from desktop.ui.find import FindBar, Match, matches_in, selections
from desktop.ui.icons import file_glyph, paint_file
from desktop.ui.jump_button import JumpButton
from desktop.ui.link_dialog import LinkDialog
from desktop.ui.plain import tooltip
from desktop.ui.render.attachments import (
    FILE_ACTION,
    GLYPH_PREFIX,
    GLYPH_SIZE,
    IMAGE_SCHEME,
    THUMB_SIZE,
    describe,
)
from desktop.ui.render.document import (
    BLOCK_KIND,
    CODE_LANGUAGE,
    BlockKind,
    RenderStats,
    TranscriptDocument,
)
from desktop.ui.render.status import ACTION_SCHEME, action_url
from desktop.ui.render.theme import Theme
from desktop.ui.render.versions import (
    EDIT_ACTION,
    EDIT_DESCRIPTION,
    VERSION_ACTION,
    VersionMark,
)
from desktop.ui.thumbnails import Thumbnails
from desktop.ui.zoom import clamp_zoom, zoomed_font

log = logging.getLogger("sidestream.ui")

# A streaming reply is searched again at most this often while a find is on.
FIND_REFRESH_MS = 150

# Within this many pixels of the bottom counts as "at the bottom".
FOLLOW_SLACK_PX = 4
QUOTE_LEVEL = QTextFormat.Property.BlockQuoteLevel
# Blocks painted on a code panel besides code: code labels, tables shown as text.
_PANEL_KINDS = (BlockKind.CODE_LABEL, BlockKind.TABLE_TEXT)
THINKING_BAR_PX = 3


class TranscriptBrowser(QTextBrowser):
    """The QTextBrowser inside :class:`ChatView`: blocks resources, paints backdrops."""

    def __init__(self, view: ChatView) -> None:
        super().__init__(view)
        self._view = view
        self.blocked_resources: list[str] = []
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self._placeholder: QImage | None = None
        self._activated_href = ""

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        url = QUrl(name) if isinstance(name, str) else name
        if url.scheme().lower() == "qrc":
            return super().loadResource(type, url)
        text = url.toString()
        if url.scheme() == IMAGE_SCHEME:
            resource = self._view.file_resource(text)
            if resource is not None:
                return resource
        if text not in self.blocked_resources:
            self.blocked_resources.append(text)
            log.debug("Blocked a resource in the transcript: %s", text)
        return self._placeholder_image()

    def forget_placeholder(self) -> None:
        """Drop the cached placeholder image (its colour follows the palette)."""
        self._placeholder = None

    def _placeholder_image(self) -> QImage:
        if self._placeholder is None:
            image = QImage(QSize(20, 16), QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setPen(self._view.theme.muted)
            painter.drawRect(QRectF(0.5, 0.5, 19, 15))
            painter.drawLine(QPointF(4, 12), QPointF(16, 4))
            painter.end()
            self._placeholder = image
        return self._placeholder

    def take_activated_href(self) -> str:
        """The raw address of the link being activated (clicked, or Enter on
        the focused link), as the document holds it; "" when unknown."""
        href, self._activated_href = self._activated_href, ""
        return href

    def focusNextPrevChild(self, next: bool) -> bool:
        moved = super().focusNextPrevChild(next)
        self.describe_focused_link()  # Tab selects a link with no signal of its own
        return moved

    def describe_focused_link(self) -> None:
        """Let assistive technology say what the link with the keyboard focus
        does: the view's description is the link's ("Next version (2 of 3)")."""
        cursor = self.textCursor()
        description = ""
        if cursor.hasSelection():
            description = self._view.link_description(cursor.charFormat().anchorHref())
        if self.accessibleDescription() != description:
            self.setAccessibleDescription(description)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        # anchorClicked is emitted from inside the release: note the raw href first.
        self._activated_href = self.anchorAt(event.position().toPoint())
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._activated_href = self.textCursor().charFormat().anchorHref()
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self._view.context_menu(event.pos())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def paintEvent(self, event: QPaintEvent) -> None:
        self._paint_backdrops(event.rect())
        super().paintEvent(event)

    def _paint_backdrops(self, exposed: QRect) -> None:
        """Panels behind the user's messages and code blocks, in the blocks
        ``exposed`` shows (a following view mostly repaints a strip)."""
        renderer = self._view.renderer
        doc = self.document()
        layout = doc.documentLayout()
        viewport = self.viewport()
        theme = self._view.theme
        dx = self.horizontalScrollBar().value()
        dy = self.verticalScrollBar().value()
        first = self.cursorForPosition(QPoint(0, max(0, exposed.top() - 8))).position()
        last = self.cursorForPosition(QPoint(viewport.width(), exposed.bottom() + 8)).position()
        margin = doc.documentMargin()
        right = max(doc.textWidth(), float(viewport.width())) - margin + 6

        painter = QPainter(viewport)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.translate(-dx, -dy)
        for region in renderer.regions_between(first, last):
            if region.role is not Role.USER:
                continue
            top = layout.blockBoundingRect(doc.findBlock(region.start)).top()
            bottom = layout.blockBoundingRect(doc.findBlock(region.end)).bottom()
            panel = QRectF(margin - 8, top - 6, right - margin + 10, bottom - top + 12)
            painter.setBrush(theme.user_background)
            painter.drawRoundedRect(panel, 6, 6)

        run: QRectF | None = None
        thinking: QRectF | None = None  # a run of reasoning lines: one panel
        block = doc.findBlock(first)
        while block.isValid() and block.position() <= last:
            block_format = block.blockFormat()
            kind = block_format.property(BLOCK_KIND)
            if kind == BlockKind.THINKING:
                rect = layout.blockBoundingRect(block)
                line = QRectF(margin - 2, rect.top(), right - margin, rect.height())
                thinking = line if thinking is None else thinking.united(line)
                block = block.next()
                continue
            if thinking is not None:
                self._paint_thinking(painter, thinking, theme.code_background, theme.quote_bar)
                thinking = None
            if block_format.hasProperty(CODE_LANGUAGE) or kind in _PANEL_KINDS:
                rect = layout.blockBoundingRect(block)
                left = rect.left() + block_format.indent() * doc.indentWidth()
                left += block_format.leftMargin()
                line = QRectF(left - 6, rect.top(), right - left, rect.height())
                run = line if run is None else run.united(line)
            else:
                if run is not None:
                    self._paint_code_run(painter, run, theme.code_background)
                    run = None
                self._paint_inline_code(painter, block, theme.code_background)
                bar = quote_bar(block)
                if bar is not None:
                    painter.setBrush(theme.quote_bar)
                    painter.drawRect(bar)
            block = block.next()
        if run is not None:
            self._paint_code_run(painter, run, theme.code_background)
        if thinking is not None:
            self._paint_thinking(painter, thinking, theme.code_background, theme.quote_bar)
        painter.end()

    @staticmethod
    def _paint_thinking(painter: QPainter, rect: QRectF, background: QColor, bar: QColor) -> None:
        """The quote-like panel behind a reply's reasoning: a faint ground, a bar."""
        panel = rect.adjusted(0, -3, 0, 3)
        painter.setBrush(background)
        painter.drawRoundedRect(panel, 4, 4)
        painter.setBrush(bar)
        painter.drawRect(QRectF(panel.left(), panel.top(), THINKING_BAR_PX, panel.height()))

    @staticmethod
    def _paint_inline_code(painter: QPainter, block: QTextBlock, color: QColor) -> None:
        text_layout = block.layout()
        origin = text_layout.position()
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            iterator.__iadd__(1)
            if not fragment.charFormat().fontFixedPitch():
                continue
            start = fragment.position() - block.position()
            end = start + fragment.length()
            painter.setBrush(color)
            while start < end:
                line = text_layout.lineForTextPosition(start)
                if not line.isValid():
                    break
                stop = min(end, line.textStart() + line.textLength())
                left = _cursor_x(line, start)
                right = _cursor_x(line, stop)
                rect = QRectF(
                    origin.x() + left - 2, origin.y() + line.y(), right - left + 4, line.height()
                )
                painter.drawRoundedRect(rect, 3, 3)
                if stop <= start:
                    break
                start = stop

    @staticmethod
    def _paint_code_run(painter: QPainter, rect: QRectF, color: QColor) -> None:
        painter.setBrush(color)
        painter.drawRoundedRect(rect.adjusted(0, -2, 0, 5), 5, 5)


def quote_bar(block: QTextBlock) -> QRectF | None:
    """Where the bar beside a quoted block goes, or None.

    An empty block gets none: the block Qt keeps after a table takes the
    quote's format when a quote is inserted right after it, and it is laid
    out beside the table's last row, where a bar would float on its own.
    """
    block_format = block.blockFormat()
    if not block_format.hasProperty(QUOTE_LEVEL) or block.length() <= 1:
        return None
    layout = block.document().documentLayout()
    rect = layout.blockBoundingRect(block)
    level = max(1, int(block_format.property(QUOTE_LEVEL)))
    x = rect.left() + block_format.leftMargin() - 12 * level
    return QRectF(x, rect.top() - 2, 3, rect.height() + 4)


def _reconcile_text(
    message_id: int,
    what: str,
    held: str,
    text: str,
    offset: int,
    append: Callable[[int, str], bool],
    replace: Callable[[int, str], bool],
) -> bool:
    """Bring one of a message's texts (its answer or its reasoning), which the
    view holds as ``held``, in line with ``text`` at ``offset``: append what is
    new, replace a whole text that differs, never go back to older text."""
    overlap = len(held) - offset  # characters of the update the view holds
    if offset + len(text) > len(held):
        if overlap >= 0 and held.startswith(text[:overlap], offset):
            return append(message_id, text[overlap:])
        if offset == 0:
            # A whole text that is not what the view holds: the source is right.
            return replace(message_id, text)
        log.warning(
            "An update of message %d does not continue its %s"
            " (it holds %d characters, the update starts at %d): ignored",
            message_id,
            what,
            len(held),
            offset,
        )
        return False
    if offset == 0 and not held.startswith(text):
        # A whole text that is not what the view holds: the source is right.
        return replace(message_id, text)
    return False


def _parse_action(url: QUrl) -> tuple[str, list[int]] | None:
    """``sidestream:version/12/15`` -> ("version", [12, 15]); None if it is not one."""
    if url.scheme().lower() != ACTION_SCHEME:
        return None
    action, _, rest = url.path().partition("/")
    try:
        return action, [int(part) for part in rest.split("/")]
    except ValueError:
        return None


def _cursor_x(line: QTextLine, position: int) -> float:
    # PySide returns (x, position) for QTextLine.cursorToX(int).
    result = line.cursorToX(position)
    return float(result[0]) if isinstance(result, tuple) else float(cast(float, result))


class ChatView(QWidget):
    """The transcript of one chat; see the module docstring.

    All text and state reach it through :meth:`reconcile`. A message with
    versions shows ``‹ 2/3 ›`` in its header (:meth:`set_versions`);
    ``‹``/``›`` (a click, Enter on the focused link, or Alt+Left/Alt+Right
    for the newest message with versions) emit ``version_requested(message
    id, version id)``, and the tab shows the other path. A user message's
    Edit (header link, or "Edit and resend" in the context menu) emits
    ``edit_requested(message id)``.
    """

    continue_requested = Signal(int)
    retry_requested = Signal(int)
    version_requested = Signal(int, int)  # message id, the version to show instead
    edit_requested = Signal(int)  # a user message's id
    copied = Signal(str)
    find_changed = Signal(int, int)  # the current match (0-based, -1: none), how many
    error_raised = Signal(str)  # a file that could not be opened or saved

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        files: AttachmentService | None = None,
        zoom: float = 1.0,
    ) -> None:
        super().__init__(parent)
        self._zoom = clamp_zoom(zoom)
        # The files attached to messages: opened, saved and shown as
        # thumbnails through these (None: a view without files, as in tests).
        self.file_actions = FileActions(files, self) if files is not None else None
        self._thumbnails = Thumbnails(files, THUMB_SIZE, self) if files is not None else None
        self._tiles: dict[str, QPixmap | QImage] = {}  # resource name -> what is shown
        self.browser = TranscriptBrowser(self)
        self.find_bar = FindBar(self)
        self.find_bar.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.browser)
        # Find in the chat: the words, the matches in the document and which
        # one is current. A document change finds again, at most every
        # FIND_REFRESH_MS (a streaming reply changes it every frame).
        self._find_terms: list[str] = []
        self._matches: list[Match] = []
        self._current_match = -1
        self._find_timer = QTimer(self)
        self._find_timer.setSingleShot(True)
        self._find_timer.setInterval(FIND_REFRESH_MS)
        self._find_timer.timeout.connect(self._refresh_find)
        self.find_bar.query_changed.connect(self._on_find_bar_query_changed)
        self.find_bar.step_requested.connect(self.find_step)
        self.find_bar.closed.connect(self.close_find)
        self.theme = Theme.for_palette(self.palette())
        self.renderer = TranscriptDocument(self._make_document, self.theme, self.content_font())
        self._following = True
        self._auto_scrolling = False
        self._set_document(self.renderer.document)
        # Shown while the user reads above a reply that streams in.
        self.jump_button = JumpButton(self)
        self.jump_button.clicked.connect(self._on_jump_button_clicked)
        # "Copied ✓" over the Copy link just used.
        self.copied_badge = CopiedBadge(self.browser.viewport())
        # Counts a wait for the first token up, a second at a time, while a
        # reply waits (and only then).
        self._wait_timer = QTimer(self)
        self._wait_timer.setSingleShot(True)
        self._wait_timer.timeout.connect(self._on_wait_timer_timeout)

        bar = self.browser.verticalScrollBar()
        bar.rangeChanged.connect(self._on_scroll_range_changed)
        bar.valueChanged.connect(self._on_scroll_value_changed)
        self.browser.anchorClicked.connect(self._on_browser_anchor_clicked)
        if self.file_actions is not None and self._thumbnails is not None:
            self.file_actions.error_raised.connect(self.error_raised)
            self._thumbnails.loaded.connect(self._on_thumbnails_loaded)
        self.browser.highlighted.connect(self._on_browser_link_hovered)
        self.browser.cursorPositionChanged.connect(self.browser.describe_focused_link)

        # Which way the user last went through versions (-1 back, +1 on):
        # focus_versions puts the focus on that arrow again where it can.
        self._version_step = -1
        self.previous_version_action = self._shortcut(
            "Previous version", "Alt+Left", self._on_previous_version_triggered
        )
        self.next_version_action = self._shortcut(
            "Next version", "Alt+Right", self._on_next_version_triggered
        )

    # ------------------------------------------------------------- public API

    @property
    def blocked_resources(self) -> list[str]:
        """URLs of images (or other resources) the view refused to load."""
        return self.browser.blocked_resources

    @property
    def following(self) -> bool:
        """True while the view sticks to the bottom as text arrives."""
        return self._following

    @property
    def update_count(self) -> int:
        """How many updates changed the document (loads, appends, state changes)."""
        return self.renderer.stats.updates + self.renderer.stats.loads

    @property
    def render_stats(self) -> RenderStats:
        return self.renderer.stats

    def document(self) -> QTextDocument:
        return self.renderer.document

    @property
    def zoom(self) -> float:
        """How much larger than the widget's font the transcript's text is."""
        return self._zoom

    def content_font(self) -> QFont:
        """The font the transcript is rendered with: the widget's, zoomed.

        Everything in it is sized from this font (Qt's importer sizes code
        blocks from the document's default font; headers, labels, status
        lines and tables shown as text from the renderer's style).
        """
        return zoomed_font(self.font(), self._zoom)

    def set_zoom(self, factor: float) -> None:
        """Show all text ``factor`` times its normal size (clamped to
        ``desktop.ui.zoom``'s range): one re-render and one layout, as a
        change of theme costs. The view keeps following the end, or keeps
        the same share of the transcript above the viewport's top."""
        factor = clamp_zoom(factor)
        if factor == self._zoom:
            return
        self._zoom = factor
        self._restyle()

    def load_transcript(self, messages: Sequence[Message]) -> None:
        """Show exactly these messages (replaces everything)."""
        self.renderer.load(messages)
        self._set_document(self.renderer.document)
        self.scroll_to_bottom()
        self._schedule_wait_tick()
        if self._find_terms:
            self._refresh_find()

    def add_message(self, message: Message) -> None:
        if self.renderer.add(message):
            self._after_update()

    def remove_message(self, message_id: int) -> None:
        if self.renderer.remove(message_id):
            self._after_update()
            self._schedule_wait_tick()

    def set_versions(self, versions: Mapping[int, tuple[int, ...]]) -> None:
        """Each message's versions: its siblings, itself included, oldest first
        (a message left out, or with one, shows no switcher). Kept for the
        messages added or loaded later. Only the headers whose switcher
        changes are written again, each on its own: cheap on a long chat."""
        if self.renderer.set_versions(versions):
            self._after_update()

    def focus_versions(self, message_id: int) -> bool:
        """Put the keyboard focus on a message's switcher (the arrow the user
        last went by, else the other), so that a keyboard user switching
        versions keeps their place; False if it shows no switcher."""
        region = self.renderer.region(message_id)
        if region is None or region.versions is None:
            return False
        while not region.in_document and self.renderer.hidden_count:
            self.show_earlier()
        mark = region.versions
        ahead = (mark.next, mark.previous) if self._version_step > 0 else (mark.previous, mark.next)
        spans = [
            self.renderer.header_link(message_id, mark.href(target))
            for target in ahead
            if target is not None
        ]
        span = next((span for span in spans if span is not None), None)
        if span is None:
            return False
        self.browser.setFocus(Qt.FocusReason.OtherFocusReason)
        cursor = QTextCursor(self.renderer.document)
        cursor.setPosition(span[0])
        cursor.setPosition(span[1], QTextCursor.MoveMode.KeepAnchor)
        self.browser.setTextCursor(cursor)
        self.browser.ensureCursorVisible()
        self.browser.describe_focused_link()
        return True

    def reconcile(self, update: MessageUpdate) -> None:
        """Bring one message in line with ``update``: the one way text and state
        reach the view, whatever their source (a live reply a frame at a
        time, its final text, a stored message).

        This is the one place that decides what is new: text the view holds
        already is never laid out again, and older text never replaces newer
        text (no flicker back). The reasoning is reconciled the same way,
        before the text (it comes first). A message the view does not show is
        ignored (its tab adds it first).
        """
        message_id = update.message_id
        region = self.renderer.region(message_id)
        if region is None:
            log.debug("An update for message %d, which this view does not show", message_id)
            return
        self._settle_size()
        renderer = self.renderer
        changed = False
        if update.reasoning:
            changed = _reconcile_text(
                message_id,
                "reasoning",
                region.reasoning,
                update.reasoning,
                update.reasoning_offset,
                renderer.append_reasoning,
                renderer.replace_reasoning,
            )
        if update.text:
            changed = (
                _reconcile_text(
                    message_id,
                    "text",
                    region.text,
                    update.text,
                    update.offset,
                    renderer.append,
                    renderer.replace_text,
                )
                or changed
            )
        if update.status is not None:
            state = (update.status, update.error, update.reason, update.finish)
            changed = renderer.set_state(message_id, *state) or changed
        changed = (
            renderer.set_details(
                message_id,
                input_tokens=update.input_tokens,
                output_tokens=update.output_tokens,
                reasoning_seconds=update.reasoning_seconds,
                waiting_since=update.waiting_since,
            )
            or changed
        )
        if changed:
            self._after_update()
            self._schedule_wait_tick()

    def message_text(self, message_id: int) -> str:
        """The raw Markdown the view holds for a message ("" if not shown)."""
        region = self.renderer.region(message_id)
        return region.text if region is not None else ""

    def message_reasoning(self, message_id: int) -> str:
        """The reasoning the view holds for a message ("" if none or not shown)."""
        region = self.renderer.region(message_id)
        return region.reasoning if region is not None else ""

    def toggle_thinking(self, message_id: int) -> None:
        """Open a reply's Thinking section, or close it, keeping the view still
        (it stops following the end: the reader is reading)."""
        bar = self.browser.verticalScrollBar()
        value = bar.value()
        self._following = False
        if self.renderer.toggle_thinking(message_id):
            self._scroll_to(value)

    def message_ids(self) -> list[int]:
        """Every message of the transcript, including older ones not rendered yet."""
        return self.renderer.message_ids()

    @property
    def hidden_count(self) -> int:
        """Older messages not rendered yet (shown by scrolling to the top)."""
        return self.renderer.hidden_count

    def show_earlier(self) -> int:
        """Render the next batch of older messages above, keeping the view still."""
        bar = self.browser.verticalScrollBar()
        doc = self.renderer.document
        layout = doc.documentLayout()
        before = layout.documentSize().height()
        shown = self.renderer.show_earlier()
        if shown:
            layout.blockBoundingRect(doc.lastBlock())
            grown = layout.documentSize().height() - before
            self._scroll_to(bar.value() + round(grown))
            if self._find_terms:
                self._refresh_find()
        return shown

    # ------------------------------------------------------------------- find

    @property
    def find_status(self) -> tuple[int, int]:
        """(the current match, 0-based or -1, how many matches)."""
        return self._current_match, len(self._matches)

    def matches(self) -> list[Match]:
        """The matches highlighted now, in document order."""
        return list(self._matches)

    def find_text(self, query: str, message_id: int | None = None) -> int:
        """Highlight every match of ``query``'s words and go to the first one
        (the first in ``message_id`` when given); returns how many there are.

        Older messages not rendered yet that hold a match are rendered first.
        An empty query clears the highlights.
        """
        self._find_terms = query_terms(query)
        if self._find_terms:
            self._bring_in_matches(message_id)
        self._matches = self._find_matches()
        self._current_match = 0 if self._matches else -1
        if message_id is not None:
            self._current_match = next(
                (i for i, m in enumerate(self._matches) if m.message_id == message_id),
                self._current_match,
            )
            if self._current_match < 0:
                self.reveal_message(message_id)
        self._show_matches(scroll=True)
        return len(self._matches)

    def highlight_matches(self, message_id: int, query: str) -> int:
        """Open the find bar on ``query`` and go to its first match in that message."""
        self.open_find_bar(query, focus=False)
        return self.find_text(query, message_id)

    def find_step(self, step: int) -> None:
        """Go to the next (``step`` 1) or previous (-1) match, round the end."""
        if not self._matches:
            return
        self._current_match = (self._current_match + step) % len(self._matches)
        self._show_matches(scroll=True)

    def open_find_bar(self, query: str | None = None, *, focus: bool = True) -> None:
        """Show the find bar (with ``query`` when given), its words selected."""
        self.find_bar.show()
        if query is not None:
            self.find_bar.set_query(query)
        if focus:
            self.find_bar.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.find_bar.field.selectAll()
        self.find_bar.set_count(*self.find_status)

    def close_find(self) -> None:
        """Hide the find bar and clear every highlight."""
        had_focus = self.find_bar.field.hasFocus()
        self.find_bar.hide()
        self._find_terms = []
        self._matches = []
        self._current_match = -1
        self._find_timer.stop()
        self._show_matches(scroll=False)
        if had_focus:
            self.browser.setFocus(Qt.FocusReason.OtherFocusReason)

    def reveal_message(self, message_id: int) -> bool:
        """Scroll so that a message's start is in view (rendering older
        messages first if it is among them); False if the view lacks it."""
        region = self.renderer.region(message_id)
        if region is None:
            return False
        while not region.in_document and self.renderer.hidden_count:
            if not self.show_earlier():
                break
        if not region.in_document:
            return False
        self._scroll_to_position(region.start, 0.0)
        return True

    def _bring_in_matches(self, message_id: int | None) -> None:
        wanted = [] if message_id is None else [message_id]
        for mid in self.renderer.message_ids():
            region = self.renderer.region(mid)
            hidden = region is not None and not region.in_document
            if hidden and region is not None and find_matches(region.text, self._find_terms):
                wanted.append(mid)
        for mid in wanted:
            region = self.renderer.region(mid)
            while region is not None and not region.in_document and self.renderer.hidden_count:
                if not self.show_earlier():
                    break

    def _find_matches(self) -> list[Match]:
        renderer = self.renderer
        return matches_in(renderer.document, renderer.regions(), self._find_terms)

    def _refresh_find(self) -> None:
        """Find again in the changed document, keeping the current match's place."""
        self._find_timer.stop()
        if not self._find_terms:
            return
        self._matches = self._find_matches()
        if not self._matches:
            self._current_match = -1
        else:
            self._current_match = min(max(self._current_match, 0), len(self._matches) - 1)
        self._show_matches(scroll=False)

    def _show_matches(self, *, scroll: bool) -> None:
        document = self.renderer.document
        self.browser.setExtraSelections(selections(document, self._matches, self._current_match))
        self.find_bar.set_count(*self.find_status)
        if scroll and self._current_match >= 0:
            self._scroll_to_position(self._matches[self._current_match].start, 0.33)
        self.find_changed.emit(*self.find_status)

    def _scroll_to_position(self, position: int, fraction: float) -> None:
        """Scroll so that ``position`` shows ``fraction`` of the way down the
        viewport; the view stops following the end (the reader is reading)."""
        doc = self.renderer.document
        layout = doc.documentLayout()
        layout.blockBoundingRect(doc.lastBlock())  # lay out to the end first
        block = doc.findBlock(position)
        top = layout.blockBoundingRect(block).top()
        line = block.layout().lineForTextPosition(position - block.position())
        if line.isValid():
            top += line.y()
        self._following = False
        viewport = self.browser.viewport().height()
        self._scroll_to(max(0, round(top - viewport * fraction)))

    def _on_find_bar_query_changed(self, text: str) -> None:
        self.find_text(text)

    def scroll_to_bottom(self) -> None:
        """Jump to the end and follow new text from now on."""
        doc = self.renderer.document
        # Lay out to the end now, so "the bottom" is the real one.
        doc.documentLayout().blockBoundingRect(doc.lastBlock())
        self._following = True
        bar = self.browser.verticalScrollBar()
        self._scroll_to(bar.maximum())
        self._sync_jump_button()

    def _on_jump_button_clicked(self) -> None:
        had_focus = self.jump_button.hasFocus()
        self.scroll_to_bottom()
        if had_focus:
            # The button goes away: the keyboard stays in the transcript.
            self.browser.setFocus(Qt.FocusReason.OtherFocusReason)

    def _sync_jump_button(self) -> None:
        """Show "↓ Latest" while the user reads above a streaming reply; hide
        it once the view follows the end again."""
        button = self.jump_button
        if self._following:
            if button.isVisible():
                button.hide()
        elif not button.isVisible() and self._reply_streaming():
            button.place(self.browser.geometry())
            button.show()

    def _reply_streaming(self) -> bool:
        regions = self.renderer.regions()
        return bool(regions) and regions[-1].status.is_live

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.jump_button.isVisible():
            self.jump_button.place(self.browser.geometry())

    def confirm_open_url(self, check: LinkCheck) -> bool:
        """Ask before opening a link, showing where it leads (or why it is
        refused: then it never opens). Tests replace this."""
        dialog = LinkDialog(check, self)
        try:
            return dialog.exec() == QDialog.DialogCode.Accepted and check.refusal is None
        finally:
            dialog.deleteLater()

    def copy_message(self, message_id: int) -> None:
        region = self.renderer.region(message_id)
        if region is None:
            return
        QGuiApplication.clipboard().setText(region.text)
        self._show_copied(message_id, action_url("copy", message_id))
        self.copied.emit("Copied the message")

    def copy_code(self, message_id: int, index: int) -> None:
        code = self.renderer.code_text(message_id, index)
        if code is None:
            log.debug("No code block %d in message %d", index, message_id)
            return
        QGuiApplication.clipboard().setText(code)
        self._show_copied(message_id, action_url("copy-code", message_id, index))
        self.copied.emit("Copied the code block")

    def _show_copied(self, message_id: int, href: str) -> None:
        """Say "Copied ✓" over the link ``href`` of a message, if it is shown."""
        span = self._find_link(message_id, href)
        if span is None:
            return
        cursor = QTextCursor(self.renderer.document)
        cursor.setPosition(span[0])
        first = self.browser.cursorRect(cursor)
        cursor.setPosition(span[1])
        self.copied_badge.show_over(first.united(self.browser.cursorRect(cursor)))

    def _find_link(self, message_id: int, href: str) -> tuple[int, int] | None:
        """Where a link of a message is in the document: (start, end)."""
        region = self.renderer.region(message_id)
        if region is None or not region.in_document:
            return None
        doc = self.renderer.document
        block = doc.findBlock(region.start)
        while block.isValid() and block.position() <= region.end:
            iterator = block.begin()
            while not iterator.atEnd():
                fragment = iterator.fragment()
                if fragment.charFormat().anchorHref() == href:
                    return fragment.position(), fragment.position() + fragment.length()
                iterator.__iadd__(1)
            block = block.next()
        return None

    def copy_selection(self) -> None:
        selection = self.browser.textCursor().selection()
        if selection.isEmpty():
            return
        QGuiApplication.clipboard().setText(selection.toPlainText())
        self.copied.emit("Copied the selection")

    # ----------------------------------------------------------------- files

    def open_file(self, message_id: int, index: int) -> FileViewer | None:
        """Show a message's attached file in a viewer of its own."""
        attachment = self.renderer.attachment(message_id, index)
        if attachment is None or self.file_actions is None:
            return None
        return self.file_actions.open(attachment, self)

    def save_file(self, message_id: int, index: int) -> None:
        """Ask where, and save a copy of a message's attached file there."""
        attachment = self.renderer.attachment(message_id, index)
        if attachment is not None and self.file_actions is not None:
            self.file_actions.save_as(attachment, self)

    def file_resource(self, name: str) -> QPixmap | QImage | None:
        """What the transcript shows for one of its file images (a thumbnail,
        a placeholder while it is made, a file's glyph), or None for a name
        the view did not write (it is blocked like any other)."""
        shown = self._tiles.get(name)
        if shown is not None:
            return shown
        ratio = self.browser.devicePixelRatioF()
        prefix = f"{IMAGE_SCHEME}:{GLYPH_PREFIX}"
        if name.startswith(prefix):
            label = name[len(prefix) :]
            if not label.isalnum() or len(label) > 4:
                return None
            glyph = file_glyph(label, GLYPH_SIZE, self.theme.link, ratio)
            self._tiles[name] = glyph
            return glyph
        attachment = self.renderer.image(name)
        if attachment is None:
            return None
        thumbnail = None
        if self._thumbnails is not None:
            self._thumbnails.set_ratio(ratio)
            thumbnail = self._thumbnails.get(attachment)
        tile = self._tile(thumbnail, ratio)
        if thumbnail is not None:
            self._tiles[name] = tile  # a placeholder is not kept: the thumbnail replaces it
        return tile

    def _tile(self, thumbnail: QImage | None, ratio: float) -> QPixmap:
        """An image's place in the transcript: its thumbnail centred on a panel;
        a placeholder while it is made (None), or a broken-file glyph (null)."""
        size = THUMB_SIZE
        pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        panel = QRectF(0.5, 0.5, size.width() - 1, size.height() - 1)
        painter.setPen(self.theme.quote_bar)
        painter.setBrush(self.theme.code_background)
        painter.drawRoundedRect(panel, 6, 6)
        if thumbnail is None:
            painter.setPen(self.theme.muted)
            painter.drawText(panel, int(Qt.AlignmentFlag.AlignCenter), "…")
        elif thumbnail.isNull():
            glyph = QRectF(0, 0, 40, 40)
            glyph.moveCenter(panel.center())
            paint_file(painter, glyph, self.theme.muted, "?")
        else:
            shown = thumbnail.deviceIndependentSize()
            target = QRectF(0, 0, shown.width(), shown.height())
            target.moveCenter(panel.center())
            painter.drawImage(target, thumbnail)
        painter.end()
        return pixmap

    def _on_thumbnails_loaded(self, sha256: str) -> None:
        """A thumbnail is made: the document shows it in place of the
        placeholder (same size: only a repaint, no layout)."""
        name = f"{IMAGE_SCHEME}:{sha256}"
        self._tiles.pop(name, None)
        tile = self.file_resource(name)
        if tile is not None:
            kind = QTextDocument.ResourceType.ImageResource.value
            self.renderer.document.addResource(kind, QUrl(name), tile)
            self.browser.viewport().update()

    def _file_link(self, href: str) -> tuple[int, int, Attachment] | None:
        """(message id, index, file) of a file link, or None if it is not one."""
        parsed = _parse_action(QUrl(href))
        if parsed is None or parsed[0] != FILE_ACTION or len(parsed[1]) != 2:
            return None
        message_id, index = parsed[1]
        attachment = self.renderer.attachment(message_id, index)
        return None if attachment is None else (message_id, index, attachment)

    def message_at(self, pos: QPoint) -> int | None:
        """The id of the message under a point of the viewport, if any."""
        position = self.browser.cursorForPosition(pos).position()
        region = self.renderer.region_at(position)
        return region.message_id if region is not None else None

    def context_menu(self, pos: QPoint) -> QMenu:
        """The context menu for a point of the viewport (the caller shows it)."""
        menu = QMenu(self)
        link = self._file_link(self.browser.anchorAt(pos))
        if link is not None and self.file_actions is not None:
            file_message, index, attachment = link
            opened = menu.addAction(f"Open “{attachment.name}”")
            opened.triggered.connect(lambda: self.open_file(file_message, index))
            save = menu.addAction("Save as…")
            save.triggered.connect(lambda: self.save_file(file_message, index))
            menu.addSeparator()
        message_id = self.message_at(pos)
        region = self.renderer.region(message_id) if message_id is not None else None
        if region is not None and region.role is Role.USER:
            edit = menu.addAction("Edit and resend")
            edit.triggered.connect(lambda: self.edit_requested.emit(region.message_id))
            menu.addSeparator()
        copy_message = menu.addAction("Copy message")
        copy_message.setEnabled(message_id is not None)
        if message_id is not None:
            copy_message.triggered.connect(lambda: self.copy_message(message_id))
        copy_selection = menu.addAction("Copy selection")
        copy_selection.setEnabled(self.browser.textCursor().hasSelection())
        copy_selection.triggered.connect(self.copy_selection)
        menu.addSeparator()
        select_all = menu.addAction("Select all")
        select_all.triggered.connect(self.browser.selectAll)
        return menu

    # ---------------------------------------------------------------- events

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            theme = Theme.for_palette(self.palette())
            if theme != self.theme or event.type() == QEvent.Type.FontChange:
                self.theme = theme
                self._restyle()

    def _restyle(self) -> None:
        """Render the transcript again with the current theme and font."""
        self.browser.forget_placeholder()
        self._tiles.clear()
        following = self._following
        bar = self.browser.verticalScrollBar()
        share = bar.value() / bar.maximum() if bar.maximum() > 0 else 1.0
        self.renderer.set_theme(self.theme, self.content_font())
        self._set_document(self.renderer.document)
        if following:
            self.scroll_to_bottom()
        else:
            doc = self.renderer.document
            doc.documentLayout().blockBoundingRect(doc.lastBlock())
            self._scroll_to(round(share * bar.maximum()))

    def _on_browser_anchor_clicked(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == ACTION_SCHEME:
            self._run_action(url)
            return
        # The address as the reply wrote it: QUrl has already dropped (or
        # choked on) the invisible characters that are the point of the check.
        href = self.browser.take_activated_href() or url.toString()
        check = check_link(href)
        if check.scheme not in OPENABLE_SCHEMES:
            log.debug("Ignored a click on a %r link", check.scheme)
            return
        target = QUrl(href.strip())
        if check.refusal is None and not target.isValid():
            check = dataclasses.replace(check, refusal="Its address is not valid.")
        if self.confirm_open_url(check) and check.refusal is None:
            QDesktopServices.openUrl(target)

    def _on_browser_link_hovered(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme in OPENABLE_SCHEMES:
            text = url.toString()
        elif scheme == ACTION_SCHEME:
            text = self.link_description(url.toString())
        else:
            text = ""
        self.browser.setToolTip(tooltip(text))

    def link_description(self, href: str) -> str:
        """What one of the view's own links does, in words (its tooltip and,
        while it has the keyboard focus, the view's accessible description):
        "Previous version (1 of 3)"; "" for a link that needs none."""
        parsed = _parse_action(QUrl(href))
        if parsed is None:
            return ""
        action, numbers = parsed
        if action == EDIT_ACTION:
            return EDIT_DESCRIPTION
        if action == FILE_ACTION:
            link = self._file_link(href)
            return f"Open {describe(link[2])}" if link is not None else ""
        if action != VERSION_ACTION or len(numbers) != 2:
            return ""
        region = self.renderer.region(numbers[0])
        mark = region.versions if region is not None else None
        if mark is None:
            return ""
        if numbers[1] == mark.previous:
            return mark.previous_label()
        if numbers[1] == mark.next:
            return mark.next_label()
        return ""

    def _run_action(self, url: QUrl) -> None:
        parsed = _parse_action(url)
        if parsed is None:
            log.debug("Malformed action link: %s", url.toString())
            return
        action, numbers = parsed
        message_id = numbers[0]
        if action == "copy":
            self.copy_message(message_id)
        elif action == "copy-code" and len(numbers) == 2:
            self.copy_code(message_id, numbers[1])
        elif action == "continue":
            self.continue_requested.emit(message_id)
        elif action == "retry":
            self.retry_requested.emit(message_id)
        elif action == "thinking":
            self.toggle_thinking(message_id)
        elif action == "earlier":
            self.show_earlier()
        elif action == EDIT_ACTION:
            self.edit_requested.emit(message_id)
        elif action == FILE_ACTION and len(numbers) == 2:
            self.open_file(message_id, numbers[1])
        elif action == VERSION_ACTION and len(numbers) == 2:
            region = self.renderer.region(message_id)
            if region is not None and region.versions is not None:
                self._request_version(region.versions, numbers[1])
        else:
            log.debug("Unknown action link: %s", url.toString())

    # ------------------------------------------------------------ versions

    def _shortcut(self, text: str, keys: str, slot: Callable[[], None]) -> QAction:
        """A key of the view (and of any widget the action is added to, such
        as the composer): active while the focus is in one of them."""
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _on_previous_version_triggered(self) -> None:
        mark = self.renderer.newest_versions()
        if mark is not None and mark.previous is not None:
            self._request_version(mark, mark.previous)

    def _on_next_version_triggered(self) -> None:
        mark = self.renderer.newest_versions()
        if mark is not None and mark.next is not None:
            self._request_version(mark, mark.next)

    def _request_version(self, mark: VersionMark, version_id: int) -> None:
        if version_id == mark.previous:
            self._version_step = -1
        elif version_id == mark.next:
            self._version_step = 1
        else:
            log.debug("Version %d is not next to message %d", version_id, mark.message_id)
            return
        self.version_requested.emit(mark.message_id, version_id)

    # ----------------------------------------------------------- following

    def _on_scroll_value_changed(self, value: int) -> None:
        if self._auto_scrolling:
            return
        bar = self.browser.verticalScrollBar()
        self._following = value >= bar.maximum() - FOLLOW_SLACK_PX
        self._sync_jump_button()
        if value == bar.minimum() and bar.maximum() > 0 and self.renderer.hidden_count:
            # Reached the top: bring in older messages (after this scroll event).
            QTimer.singleShot(0, self, self._on_reached_top)

    def _on_reached_top(self) -> None:
        bar = self.browser.verticalScrollBar()
        if bar.value() == bar.minimum():
            self.show_earlier()

    def _on_scroll_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._following:
            self._scroll_to(maximum)

    def _scroll_to(self, value: int) -> None:
        self._auto_scrolling = True
        try:
            self.browser.verticalScrollBar().setValue(value)
        finally:
            self._auto_scrolling = False

    def _settle_size(self) -> None:
        """Deliver the resize events Qt holds back for a hidden view.

        The browser lays its document out at its viewport's width only once
        the viewport has had a resize event, and Qt sends a hidden widget's
        resize events when it is shown. A view that follows its chat in the
        background would then lay out nothing until it is shown, and all of
        it at once then; delivered now, each update is laid out as it comes.
        """
        if self.isVisible():
            return
        pending = Qt.WidgetAttribute.WA_PendingResizeEvent
        for widget in (self, *self.findChildren(QWidget)):
            if widget.testAttribute(pending):
                widget.setAttribute(pending, False)
                QCoreApplication.sendEvent(widget, QResizeEvent(widget.size(), QSize(-1, -1)))

    def _after_update(self) -> None:
        if self._following:
            self._scroll_to(self.browser.verticalScrollBar().maximum())
        else:
            self._sync_jump_button()
        if self._find_terms and not self._find_timer.isActive():
            self._find_timer.start()

    # ------------------------------------------------------------ waiting

    @property
    def counting_wait(self) -> bool:
        """True while the view counts a reply's wait for its first token."""
        return self._wait_timer.isActive()

    def _schedule_wait_tick(self) -> None:
        delay = self.renderer.next_wait_tick_ms()
        if delay is None:
            if self._wait_timer.isActive():
                self._wait_timer.stop()
        elif not self._wait_timer.isActive():
            self._wait_timer.start(delay)

    def _on_wait_timer_timeout(self) -> None:
        if self.renderer.refresh_waiting():
            self._after_update()
        self._schedule_wait_tick()

    # --------------------------------------------------------------- helpers

    def _make_document(self) -> QTextDocument:
        # Parented to the browser: images then resolve through its loadResource.
        return QTextDocument(self.browser)

    def _set_document(self, document: QTextDocument) -> None:
        old = self.browser.document()
        if old is document:
            return
        # Documents this view made are deleted here; the browser's own first
        # document is deleted by Qt when replaced.
        ours = old is not None and old.parent() is self.browser
        self._auto_scrolling = True
        try:
            self.browser.setDocument(document)
        finally:
            self._auto_scrolling = False
        if ours:
            old.deleteLater()
