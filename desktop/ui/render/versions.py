"""The version switcher in a message's header, ``‹ 2/3 ›`` (pure).

A message may have versions: the edits of a user message, the regenerations
of a reply (its siblings in the chat's tree, oldest first). The header of a
message with more than one shows which it is and links to its neighbours;
``‹`` and ``›`` are ``sidestream:version/<message id>/<version id>`` actions,
plain muted text at the ends. :class:`VersionMark` is everything the header
shows of it, so a header is written again only when its mark changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.ui.render.status import ACTION_SCHEME, action_url

VERSION_ACTION = "version"
EDIT_ACTION = "edit"
EDIT_DESCRIPTION = "Edit this message and send it again (a new version)"


@dataclass(frozen=True, slots=True)
class VersionMark:
    """Which of its versions a message is, and its neighbours (None at the ends)."""

    message_id: int
    index: int  # 1-based
    count: int
    previous: int | None
    next: int | None

    @property
    def text(self) -> str:
        """What stands between the arrows: "2/3"."""
        return f"{self.index}/{self.count}"

    def href(self, version_id: int) -> str:
        return version_url(self.message_id, version_id)

    def previous_label(self) -> str:
        """The description of ``‹``: "Previous version (1 of 3)"."""
        if self.previous is None:
            return f"No earlier version (this is 1 of {self.count})"
        return f"Previous version ({self.index - 1} of {self.count})"

    def next_label(self) -> str:
        """The description of ``›``: "Next version (3 of 3)"."""
        if self.next is None:
            return f"No later version (this is {self.count} of {self.count})"
        return f"Next version ({self.index + 1} of {self.count})"


def version_mark(message_id: int, siblings: Sequence[int]) -> VersionMark | None:
    """The mark of a message among its versions (itself included, oldest
    first); None when it has no other version (or is not among them)."""
    if len(siblings) < 2:
        return None
    try:
        index = siblings.index(message_id)
    except ValueError:
        return None
    previous = siblings[index - 1] if index > 0 else None
    following = siblings[index + 1] if index + 1 < len(siblings) else None
    return VersionMark(message_id, index + 1, len(siblings), previous, following)


def version_url(message_id: int, version_id: int) -> str:
    """``sidestream:version/12/15``: show version 15 in place of message 12."""
    return action_url(VERSION_ACTION, message_id, version_id)


def is_version_url(href: str, message_id: int) -> bool:
    """Whether ``href`` is one of this message's switcher links."""
    return href.startswith(f"{ACTION_SCHEME}:{VERSION_ACTION}/{message_id}/")
