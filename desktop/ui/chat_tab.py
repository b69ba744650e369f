"""One open chat: its transcript view, its composer, and the feed that keeps it live.

A tab keeps its view (and the view's laid-out document) while it is open.
Switching away moves its feed to the background: the chat no longer counts
as on screen, and the view catches up at a low rate, so that coming back
only lays out the last moment's text instead of everything that arrived
meanwhile. Closing the tab detaches the feed; the reply goes on.

Files dragged onto the tab (its transcript or its composer) are attached to
the message being written; while they are dragged over it, a hint covers the
tab (:class:`~desktop.ui.attachment_chips.DropHint`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from desktop.core.models import Attachment, Message, Session
from desktop.core.states import Role
from desktop.core.tasks import TaskKeeper
from desktop.services.attachments import AttachmentService
from desktop.services.chat import ChatActionError, ChatService
from desktop.streaming.events import MessageUpdate
from desktop.ui.attachment_chips import DropHint
from desktop.ui.attachment_tray import holds_files
from desktop.ui.bridge import ViewFeed
from desktop.ui.chat_view import ChatView
from desktop.ui.composer import Composer
from desktop.ui.plain import plain_label
from desktop.ui.zoom import clamp_zoom

log = logging.getLogger("sidestream.ui")

# A path change of more messages than this loads the transcript anew rather
# than removing and adding message by message.
RELOAD_AT = 40


class ChatTab(QWidget):
    """The chat view, composer and live feed of one chat."""

    error_raised = Signal(str)
    model_change_requested = Signal(int)  # session id
    chat_changed = Signal(int)  # session id: its title or order may have changed
    version_switched = Signal(int)  # the message id of the version now shown

    def __init__(
        self,
        chat: ChatService,
        session: Session,
        parent: QWidget | None = None,
        *,
        attachments: AttachmentService | None = None,
        zoom: float = 1.0,
    ) -> None:
        super().__init__(parent)
        self._chat = chat
        self._zoom = clamp_zoom(zoom)
        # None: attaching is off (tests that build a tab without the service).
        self._attachments = attachments
        self._session = session
        self._tasks = TaskKeeper(log, on_error=self._on_task_failed)
        self._active = False

        self.view = ChatView(self, files=attachments, zoom=self._zoom)
        # The view of the branch shown before the last big switch, kept laid
        # out (as a tab keeps its view): switching back to it costs a swap.
        self._stashed: ChatView | None = None
        self._views = QStackedWidget(self)
        self._views.addWidget(self.view)
        self.composer = Composer(self, attachments=attachments)
        self.composer.set_zoom(self._zoom)
        # The ids of the path the chat shows (the branch on screen), as last read.
        self._path: set[int] = set(chat.path_ids(session.id))
        self.feed = ViewFeed(chat.manager, session.id, self, shows=self.shows)

        self._model_label = plain_label(parent=self)  # a model name from the provider
        self._model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._model_button = QToolButton(self)
        self._model_button.setText("Change…")
        self._model_button.setToolTip("Choose the provider and model for this chat")
        self._model_button.setAutoRaise(True)
        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        header.addWidget(self._model_label)
        header.addWidget(self._model_button)
        header.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self._views, 1)
        layout.addWidget(self.composer)
        # Ctrl+U attaches files wherever the focus is in the tab.
        self.addAction(self.composer.attach_action)
        self.drop_hint = DropHint(self)
        self.setAcceptDrops(attachments is not None)
        self._connect_signals()
        self.refresh_header()
        messages = [self._as_shown(m) for m in chat.messages(session.id)]
        # Replies the view shows as live: the store has their end once they end.
        self._unsettled = {m.id for m in messages if m.status.is_live}
        # The versions first: the transcript is then laid out with its switchers.
        self.view.set_versions(chat.versions(session.id))
        self.view.load_transcript(messages)
        self.composer.set_streaming(chat.live_on_path(session.id) is not None)
        # Alt+Left / Alt+Right switch versions from the composer too.
        self.composer.addAction(self.view.previous_version_action)
        self.composer.addAction(self.view.next_version_action)

    def _connect_signals(self) -> None:
        self.feed.updated.connect(self._on_feed_updated)
        self.composer.send_requested.connect(self._on_composer_send_requested)
        self.composer.stop_requested.connect(self.stop)
        self._connect_view(self.view)
        self.composer.edit_submitted.connect(self._on_composer_edit_submitted)
        self.composer.edit_last_requested.connect(self._on_composer_edit_last_requested)
        self.drop_hint.dropped.connect(self._on_drop_hint_dropped)
        self._model_button.clicked.connect(
            lambda: self.model_change_requested.emit(self._session.id)
        )

    def _connect_view(self, view: ChatView) -> None:
        view.continue_requested.connect(self._on_view_continue_requested)
        view.retry_requested.connect(self._on_view_retry_requested)
        view.version_requested.connect(self._on_view_version_requested)
        view.edit_requested.connect(self._on_view_edit_requested)
        view.error_raised.connect(self.error_raised)

    # ------------------------------------------------------------------ state
    @property
    def session_id(self) -> int:
        return self._session.id

    @property
    def session(self) -> Session:
        return self._session

    @property
    def active(self) -> bool:
        return self._active

    def shows(self, message_id: int) -> bool:
        """Whether the tab shows that message: it is on the chat's active path
        (read again from the store when it is not on the path last read)."""
        if message_id in self._path:
            return True
        self._path = set(self._chat.path_ids(self._session.id))
        return message_id in self._path

    def set_session(self, session: Session) -> None:
        self._session = session
        self.refresh_header()

    def refresh_header(self) -> None:
        try:
            label = self._chat.model_label(self._session)
        except Exception as exc:  # no provider could be built: say so, do not crash
            label = f"No provider: {exc}"
            self.composer.set_enabled_reason(f"No provider is available: {exc}")
        else:
            self.composer.set_enabled_reason(None)
        self._model_label.setText(label)

    def activate(self) -> None:
        """The tab is on screen: catch up with the store, then follow live."""
        if self._active:
            return
        self._active = True
        self._sync_with_store()
        live = self.feed.attach()
        self.composer.set_streaming(live)
        self.composer.focus_input()

    def deactivate(self) -> None:
        """The tab left the screen: follow in the background; the reply goes on."""
        if not self._active:
            return
        self._active = False
        self.feed.follow_in_background()

    def stop(self) -> None:
        """Stop the reply on the branch shown (a reply on another branch goes on)."""
        self._chat.stop(self._session.id)

    def switch_version(self, message_id: int, version_id: int) -> None:
        """Show another version of a message, and the newest path below it. A
        reply streaming on the branch left goes on; coming back shows it live."""
        self._tasks.spawn(self._switch_version(message_id, version_id, keep_focus=False))

    def edit_message(
        self, message_id: int, text: str, attachments: Sequence[Attachment] | None = None
    ) -> None:
        """Resend one of the user's messages changed: a new version of it, and a
        reply to that, shown; the original and its replies stay (a reply of
        theirs still streaming goes on, on its own branch). ``attachments``:
        the files the new version carries (None: the original's)."""
        self._tasks.spawn(self._edit_message(message_id, text, attachments))

    async def _edit_message(
        self, message_id: int, text: str, attachments: Sequence[Attachment] | None
    ) -> None:
        try:
            await self._chat.edit(message_id, text, attachments)
        except ChatActionError as exc:
            self.error_raised.emit(str(exc))
            # The edit comes back to the composer, words and files, to be fixed.
            message = self._chat.message(message_id)
            if message is not None and message.role is Role.USER and self.composer.editing is None:
                files = message.attachments if attachments is None else attachments
                self.composer.begin_edit(message_id, text, files)
            return
        self._sync_with_store()

    def show_reply(self, message_id: int) -> None:
        """Show the branch a message is on (a notification about it was clicked)."""
        if not self.shows(message_id):
            self._tasks.spawn(self._show_reply(message_id))

    async def _show_reply(self, message_id: int) -> None:
        try:
            await self._chat.show_message(message_id)
        except ChatActionError as exc:
            self.error_raised.emit(str(exc))
            return
        self._sync_with_store()

    async def _switch_version(self, message_id: int, version_id: int, *, keep_focus: bool) -> None:
        try:
            await self._chat.switch_version(message_id, version_id)
        except ChatActionError as exc:
            self.error_raised.emit(str(exc))
            return
        self._sync_with_store()
        if keep_focus:
            self.view.focus_versions(version_id)
        self.version_switched.emit(version_id)

    def close_tab(self) -> None:
        """Closing a tab detaches; it never stops the reply (invariant 3)."""
        self._active = False
        self.feed.detach()
        self._tasks.cancel_all()
        self.composer.tray.cancel()

    # ------------------------------------------------------------------ slots
    def _on_feed_updated(self, update: MessageUpdate) -> None:
        if update.message_id not in self.view.message_ids():
            self._sync_with_store()  # a reply started here by a send or a retry
        self.view.reconcile(update)
        if update.status is None:
            return
        if update.status.is_live:
            self._unsettled.add(update.message_id)
        else:
            self._unsettled.discard(update.message_id)
        self.composer.set_streaming(update.status.is_live)

    def _on_view_version_requested(self, message_id: int, version_id: int) -> None:
        # A keyboard user on the switcher keeps their place on it after the
        # switch (the version shown replaces the message's region).
        keep_focus = self.view.browser.hasFocus()
        self._tasks.spawn(self._switch_version(message_id, version_id, keep_focus=keep_focus))

    def _on_view_edit_requested(self, message_id: int) -> None:
        message = self._chat.message(message_id)
        if message is None or message.role is not Role.USER:
            return
        self.composer.begin_edit(message_id, message.content, message.attachments)
        self.composer.focus_input()

    def _on_composer_edit_last_requested(self) -> None:
        """Up in the empty composer: edit the last message you sent on this branch."""
        path = self._chat.messages(self._session.id)
        mine = [m for m in path if m.role is Role.USER]
        if mine:
            self.composer.begin_edit(mine[-1].id, mine[-1].content, mine[-1].attachments)

    def _on_composer_send_requested(self, text: str) -> None:
        # The composer cleared itself (undoably); the text and files come back on error.
        self._tasks.spawn(self._send(text, self.composer.take_attachments()))

    def _on_composer_edit_submitted(
        self, message_id: int, text: str, attachments: tuple[Attachment, ...]
    ) -> None:
        self.edit_message(message_id, text, attachments)

    # ------------------------------------------------------------ dropping
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._attachments is None or not holds_files(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_hint.cover()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._attachments is None or not holds_files(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_hint.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_hint.hide()
        if self._attachments is None or not holds_files(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()
        self._on_drop_hint_dropped(event.mimeData())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.drop_hint.isVisible():
            self.drop_hint.cover()

    def _on_drop_hint_dropped(self, mime: QMimeData) -> None:
        if self.composer.attach_mime(mime):
            self.composer.focus_input()

    def _on_view_continue_requested(self, message_id: int) -> None:
        self._tasks.spawn(self._run_action(self._chat.continue_reply(message_id)))

    def _on_view_retry_requested(self, message_id: int) -> None:
        self._tasks.spawn(self._run_action(self._chat.retry(message_id)))

    def retry_newest(self) -> None:
        """Ctrl+R: regenerate the chat's newest reply (the keyboard twin of its Retry).

        While a reply streams, or with no reply yet, it says why it does nothing.
        """
        replies = [m for m in self._chat.messages(self._session.id) if m.role is Role.ASSISTANT]
        if not replies:
            self.error_raised.emit("There is no reply to regenerate in this chat yet.")
        elif self._chat.live_on_path(self._session.id) is not None:
            self.error_raised.emit("A reply is still streaming in this chat: stop it first.")
        else:
            self._on_view_retry_requested(replies[-1].id)

    # -------------------------------------------------------------- internals
    async def _send(self, text: str, attachments: tuple[Attachment, ...] = ()) -> None:
        try:
            await self._chat.send(self._session.id, text, attachments)
        except ChatActionError as exc:
            self.composer.set_text(text)  # give the words back, and the files
            self.composer.give_back(attachments)
            self.error_raised.emit(str(exc))
            return
        self._sync_with_store()
        self.chat_changed.emit(self._session.id)  # the first message names the chat

    async def _run_action(self, action: Coroutine[Any, Any, Message]) -> None:
        try:
            await action
        except ChatActionError as exc:
            self.error_raised.emit(str(exc))
            return
        self._sync_with_store()

    def _sync_with_store(self) -> None:
        """Bring the view in line with the store: messages added or removed
        elsewhere (a send, a retry), and replies that ended while the view
        showed them live but heard no end (the store has it).

        A reply the manager has live is shown empty at first: its text comes
        from the feed, from the start, like any live text.
        """
        path = self._chat.path_ids(self._session.id)
        self._path = set(path)
        shown_ids = self.view.message_ids()
        # The view keeps what the path still shares with it (another branch
        # differs from the message switched on down).
        kept = _shared(shown_ids, path)
        if len(shown_ids) - kept + len(path) - kept > RELOAD_AT:
            stashed = self._stashed
            if stashed is not None and _shared(stashed.message_ids(), path) > kept:
                # Back to the branch shown before: its view is still laid out.
                self._swap_views(stashed)
                self._sync_with_store()
                self._after_path_change()  # even with nothing else to bring in
                return
            self._show_new_path(path)
            return
        dropped = shown_ids[kept:]
        for message_id in dropped:
            self._forget(message_id)
        for message_id in reversed(dropped):
            self.view.remove_message(message_id)
        # Read only what the view lacks: the new messages, and the replies it
        # shows live whose end it may have missed.
        unsettled = [m for m in path[:kept] if m in self._unsettled]
        added = set(path[kept:])
        manager = self._chat.manager
        # By id, which is the path's order (ids grow down a path).
        for message in self._chat.messages_by_id([*unsettled, *path[kept:]]):
            if message.id in added:
                message = self._as_shown(message)
                self.view.add_message(message)
                if message.status.is_live:
                    self._unsettled.add(message.id)
            elif (
                not message.status.is_live
                and manager.text_length(self._session.id, message.id) is None
            ):
                self._unsettled.discard(message.id)
                self.view.reconcile(
                    MessageUpdate(
                        message.id,
                        message.content,
                        0,
                        message.status,
                        message.error,
                        message.reason,
                        reasoning=message.reasoning,
                        finish=message.finish,
                        input_tokens=message.input_tokens,
                        output_tokens=message.output_tokens,
                        reasoning_seconds=message.reasoning_seconds,
                    )
                )
        if dropped or len(path) > kept:
            self._after_path_change()

    def _show_new_path(self, path: list[int]) -> None:
        """Many messages change (a branch near the top): the path shown goes to
        a view of its own, laid out anew; the view of the branch left is kept."""
        old = self._stashed
        previous = self.view
        kept = set(previous.message_ids())
        if old is not None:
            # The older stash makes way: what only it showed is forgotten.
            for message_id in old.message_ids():
                if message_id not in kept:
                    self.feed.forget(message_id)
                    self._unsettled.discard(message_id)
            view = old
        else:
            view = ChatView(self, files=self._attachments, zoom=self._zoom)
            self._views.addWidget(view)
            self._connect_view(view)
        self._stashed = None
        self._swap_views(view)
        self._stashed = previous
        messages = [self._as_shown(m) for m in self._chat.messages(self._session.id)]
        for message in messages:
            if message.id not in kept:
                self.feed.forget(message.id)  # this view gets it whole, from the start
            if message.status.is_live:
                self._unsettled.add(message.id)
        versions = self._chat.versions(self._session.id)
        view.set_versions(versions)
        view.load_transcript(messages)
        self._after_path_change(versions)

    @property
    def zoom(self) -> float:
        return self._zoom

    def set_zoom(self, factor: float) -> None:
        """Show the transcript's and the composer's text ``factor`` times
        its normal size (1.0; ``desktop.ui.zoom`` gives the range). A view
        kept for a branch left zooms when it is shown again."""
        self._zoom = clamp_zoom(factor)
        self.view.set_zoom(self._zoom)
        self.composer.set_zoom(self._zoom)

    def _swap_views(self, view: ChatView) -> None:
        """Show ``view`` in place of the current one (kept as the stash)."""
        previous = self.view
        for action in (previous.previous_version_action, previous.next_version_action):
            self.composer.removeAction(action)
        self.view = view
        self._stashed = previous
        view.set_zoom(self._zoom)
        self._views.setCurrentWidget(view)
        self.composer.addAction(view.previous_version_action)
        self.composer.addAction(view.next_version_action)

    def _forget(self, message_id: int) -> None:
        """The current view dropped a message: unless the stashed view holds it
        too, its text comes again from the start should it be shown again."""
        if self._stashed is not None and message_id in self._stashed.message_ids():
            return
        self.feed.forget(message_id)
        self._unsettled.discard(message_id)

    def _after_path_change(self, versions: dict[int, tuple[int, ...]] | None = None) -> None:
        """The path shown changed: its versions (unless just set), the live reply
        on it (followed, if any), and an edit of a message it no longer shows
        (given up)."""
        if versions is None:
            self.view.set_versions(self._chat.versions(self._session.id))
        editing = self.composer.editing
        if editing is not None and editing not in self._path:
            self.composer.cancel_edit()
        live = self.feed.refollow() if self.feed.following else False
        live_here = self._chat.manager.live_messages(self._session.id)
        self.composer.set_streaming(live or any(m in self._path for m in live_here))

    def _as_shown(self, message: Message) -> Message:
        """``message`` as the view first shows it: a live reply without its text
        and reasoning (both come from the feed, from the start)."""
        if self._chat.manager.text_length(self._session.id, message.id) is None:
            return message
        return dataclasses.replace(message, content="", reasoning="")

    def _on_task_failed(self, exc: BaseException) -> None:
        self.error_raised.emit(f"Something went wrong: {exc}")


def _shared(shown: list[int], path: list[int]) -> int:
    """How many messages a view's transcript shares with a path, from the top."""
    kept = 0
    while kept < min(len(shown), len(path)) and shown[kept] == path[kept]:
        kept += 1
    return kept
