"""Chats read from an export file, on their way into the store (Qt-free records).

``desktop.importer`` reads a file (a Sidestream export, a ChatGPT data
export) into :class:`ImportedChat` records, checked in full; the store adds
them (``Store.import_chats``) in one transaction and answers with one
:class:`ChatImportResult` each. Times are naive UTC, as the store keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from desktop.core.models import AttachmentKind, GenerationParams
from desktop.core.states import FinishReason, MessageStatus, Role


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """A file attached to an imported message, with its bytes (checked
    against ``sha256`` by the importer)."""

    sha256: str
    name: str
    mime: str
    kind: AttachmentKind
    data: bytes
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    """One message of an imported chat's tree.

    ``parent`` is the index, in its chat's ``messages``, of the message it
    follows (always an earlier one), or None for a first message. A message's
    status is never live: a reply that was still streaming when the file was
    written comes in ``interrupted``.
    """

    parent: int | None
    role: Role
    content: str
    created_at: datetime
    status: MessageStatus = MessageStatus.COMPLETE
    updated_at: datetime | None = None  # None: created_at
    error: str | None = None
    reason: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning: str = ""
    reasoning_seconds: float | None = None
    finish: FinishReason | None = None
    attachments: tuple[ImportedFile, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportedChat:
    """A chat as an export file has it: a tree of messages, parents first.

    ``active`` is the index of the message the chat shows the path to (None:
    an empty chat). ``same_as`` are the creation times a copy of this chat
    already in the store may carry (``created_at`` and, for a local time an
    hour change made ambiguous, its other reading); empty when the file gave
    no time of its own, and then a copy is looked for by title.
    """

    title: str
    created_at: datetime
    updated_at: datetime
    messages: tuple[ImportedMessage, ...]
    active: int | None
    model: str = ""
    muted: bool = False
    system_prompt: str = ""
    params: GenerationParams = field(default_factory=GenerationParams)
    same_as: tuple[datetime, ...] = ()
    pinned: bool = False
    archived: bool = False
    folder: str = ""


@dataclass(frozen=True, slots=True)
class ChatImportResult:
    """What the store did with one imported chat.

    ``created``: it was new and is now chat ``session_id``; otherwise the
    store had it already (as ``session_id``) and ``messages_added`` are the
    messages it lacked (0: nothing was added).
    """

    session_id: int
    created: bool
    messages_added: int
