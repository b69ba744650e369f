"""Driving a ChatView the way its tab does: every change through ``reconcile``.

The tests used to call three entry points (``show_live``, ``append_text``,
``set_message_state``); the view now has one (:meth:`ChatView.reconcile`).
These helpers say in one line what a test means, and go through that one way.
"""

from __future__ import annotations

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.streaming.events import MessageUpdate, StreamSnapshot
from desktop.ui.chat_view import ChatView


def show_live(view: ChatView, snapshot: StreamSnapshot) -> None:
    """A reply's whole live state, added to the view first if it is not there."""
    if snapshot.message_id not in view.message_ids():
        view.add_message(
            Message(
                snapshot.message_id,
                snapshot.session_id,
                Role.ASSISTANT,
                "",
                snapshot.status,
                error=snapshot.error,
                reason=snapshot.reason,
            )
        )
    view.reconcile(
        MessageUpdate(
            snapshot.message_id,
            snapshot.text,
            0,
            snapshot.status,
            snapshot.error,
            snapshot.reason,
        )
    )


def append_text(view: ChatView, message_id: int, text: str) -> None:
    """Text that arrived after what the view shows of a message."""
    view.reconcile(MessageUpdate(message_id, text, len(view.message_text(message_id))))


def set_message_state(
    view: ChatView,
    message_id: int,
    status: MessageStatus,
    error: str | None = None,
    reason: str | None = None,
) -> None:
    """A message's state changed; its text did not."""
    held = len(view.message_text(message_id))
    view.reconcile(MessageUpdate(message_id, "", held, status, error, reason))
