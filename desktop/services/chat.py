"""ChatService: what a person does with a chat (send, edit, regenerate, continue,
switch versions, stop), Qt-free.

A chat is a tree of messages and shows one path, from its first message to its
active leaf (:meth:`Store.active_path`). Sending adds to the end of that path;
editing a message adds a sibling of it, with a reply of its own; regenerating
a reply (Retry, Ctrl+R) adds a sibling reply. Nothing is replaced: the older
versions stay, one switch away (:meth:`ChatService.switch_version`).

Send, retry, continue and delete write through the manager's writer thread,
so they are ordered after any write of a reply that is still finishing (an
evicted stream, say); renaming, muting and the like are single-row edits on
the caller's thread (the rule is in :mod:`desktop.services`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from desktop.attachments import AttachmentError, check_message
from desktop.core.models import (
    Attachment,
    ChatRequest,
    ChatTurn,
    GenerationParams,
    Message,
    Session,
)
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.services.attachments import turn_files
from desktop.services.chat_presets import default_preset
from desktop.services.directory import ProviderDirectory
from desktop.store import Store
from desktop.streaming.manager import StreamManager
from desktop.streaming.stream import ConcurrencyLimitError

log = logging.getLogger("sidestream.chat")
_T = TypeVar("_T")

DEFAULT_TITLE = "New chat"
_TITLE_LENGTH = 48


class ChatActionError(RuntimeError):
    """An action the user asked for cannot be done now; the message says why."""


def can_continue(status: MessageStatus, finish: FinishReason | None) -> bool:
    """Whether Continue may go on from a reply: one cut short (stopped or
    interrupted), or one the model completed at its token limit."""
    if status.can_continue:
        return True
    return status is MessageStatus.COMPLETE and finish is FinishReason.LENGTH


class ChatService:
    def __init__(self, store: Store, manager: StreamManager, directory: ProviderDirectory) -> None:
        self._store = store
        self._manager = manager
        self._directory = directory

    @property
    def manager(self) -> StreamManager:
        return self._manager

    # ------------------------------------------------------------------ reads
    def chats(
        self,
        search: str | None = None,
        *,
        archived: bool | None = False,
        folder: str | None = None,
        limit: int | None = None,
    ) -> list[Session]:
        """Chats in the list's order (pinned first, then newest activity);
        archived ones only when ``archived`` is True (None: all)."""
        return self._store.list_sessions(
            search=search, limit=limit, archived=archived, folder=folder
        )

    def folders(self) -> list[str]:
        """The folders chats are in, by name."""
        return self._store.folders()

    def chat(self, session_id: int) -> Session | None:
        return self._store.get_session(session_id)

    def messages(self, session_id: int) -> list[Message]:
        """The messages the chat shows: the path to its active leaf."""
        return self._store.active_path(session_id)

    def messages_by_id(self, message_ids: Sequence[int]) -> list[Message]:
        """Those messages, by id (any that no longer exist are left out)."""
        return self._store.get_messages(message_ids) if message_ids else []

    def path_ids(self, session_id: int) -> list[int]:
        """The ids of :meth:`messages` (cheap: no text is read)."""
        return self._store.active_path_ids(session_id)

    def versions(self, session_id: int) -> dict[int, tuple[int, ...]]:
        """For each message of the chat, its versions (itself and its siblings,
        oldest first): ``‹ 2/3 ›`` is its index among them."""
        versions: dict[int, tuple[int, ...]] = {}
        for children in self._store.branches(session_id).values():
            siblings = tuple(children)
            for message_id in siblings:
                versions[message_id] = siblings
        return versions

    def message(self, message_id: int) -> Message | None:
        return self._store.get_message(message_id)

    def model_label(self, session: Session) -> str:
        """ "Provider · model" for a chat, as the UI shows it."""
        _, stored = self._directory.provider(session.provider_id)
        return f"{stored.name} · {session.model or stored.default_model}"

    # ---------------------------------------------------------------- changes
    def rename_chat(self, session_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ChatActionError("A chat needs a title.")
        self._store.rename_session(session_id, title)

    def set_chat_model(self, session_id: int, provider_id: int, model: str) -> None:
        self._store.set_session_model(session_id, provider_id, model)

    def set_muted(self, session_id: int, muted: bool) -> None:
        self._store.set_muted(session_id, muted)

    def set_pinned(self, session_id: int, pinned: bool) -> None:
        """Pin a chat to the top of the list (or unpin it)."""
        self._store.set_pinned(session_id, pinned)

    def set_archived(self, session_id: int, archived: bool) -> None:
        """Move a chat out of the list into the archive (or back). A reply
        streaming in it goes on; it is still found by search."""
        self._store.set_archived(session_id, archived)

    def set_folder(self, session_id: int, folder: str) -> None:
        """Put a chat in a folder ("" takes it out); a folder is made by its first chat."""
        self._store.set_folder(session_id, _folder_name(folder))

    async def rename_folder(self, old: str, new: str) -> int:
        """Rename a folder ("" dissolves it: its chats go back to the list);
        every chat of it moves in one write, on the writer thread."""
        return await self._write(self._store.rename_folder, old, _folder_name(new))

    def set_unread(self, session_id: int, unread: bool) -> None:
        self._store.set_unread(session_id, unread)

    async def delete_chat(self, session_id: int) -> None:
        """Delete a chat, stopping its reply first (the UI asks before)."""
        await self._manager.stop_and_wait(session_id)
        await self._write(self._store.delete_session, session_id)

    def create_chat(
        self, title: str = DEFAULT_TITLE, provider_id: int | None = None, model: str = ""
    ) -> Session:
        """A new, empty chat: from the default preset if there is one (its system
        prompt, parameters, provider and model), else the default provider's
        default model. One row: Ctrl+N stays instant."""
        preset = default_preset(self._store) if provider_id is None else None
        if preset is not None and preset.provider_id is not None:
            provider_id, model = preset.provider_id, model or preset.model
        stored = self._directory.default_provider() if provider_id is None else None
        if stored is not None:
            provider_id, model = stored.id, model or stored.default_model
        return self._store.create_session(
            title,
            provider_id=provider_id,
            model=model,
            system_prompt=preset.system_prompt if preset else "",
            params=preset.params if preset else None,
            preset_id=preset.id if preset else None,
        )

    def set_chat_settings(
        self, session_id: int, system_prompt: str, params: GenerationParams
    ) -> None:
        """A chat's own system prompt and parameters (used from its next reply on)."""
        try:
            params = params.validate()
        except ValueError as exc:
            raise ChatActionError(str(exc)) from exc
        self._store.set_session_settings(session_id, system_prompt.strip(), params)

    async def send(
        self, session_id: int, text: str, attachments: Sequence[Attachment] = ()
    ) -> Message:
        """Add the user's turn (with the files attached, stored by
        :class:`~desktop.services.attachments.AttachmentService`) and start
        streaming the assistant's reply."""
        text = text.strip()
        if not text and not attachments:
            raise ChatActionError("Type a message first.")
        _check_files(attachments)
        self._require_stored(attachments)
        if self.live_on_path(session_id) is not None:
            raise ChatActionError("A reply is still streaming in this chat: stop it first.")
        session = self._require_session(session_id)
        user = await self._write(
            functools.partial(
                self._store.add_message,
                session_id,
                Role.USER,
                text,
                attachments=tuple(attachments),
            )
        )
        if session.title == DEFAULT_TITLE:
            first = text or attachments[0].name
            await self._write(self._store.rename_session, session_id, title_from(first))
        return await self._start(session, continue_message=None, parent=user)

    async def edit(
        self, message_id: int, text: str, attachments: Sequence[Attachment] | None = None
    ) -> Message:
        """Resend a user message changed: a new version of it (its sibling), and
        a reply to that; the original and its replies stay, one switch away.

        ``attachments``: the files the new version carries (None: the
        original's, unchanged)."""
        text = text.strip()
        message = self._require_message(message_id)
        files = message.attachments if attachments is None else tuple(attachments)
        if not text and not files:
            raise ChatActionError("Type a message first.")
        _check_files(files)
        self._require_stored(files)
        if message.role is not Role.USER:
            raise ChatActionError("Only your own messages can be edited.")
        # A reply still streaming below the original goes on, on its own
        # branch: the edit starts another beside it.
        session = self._require_session(message.session_id)
        user = await self._write(
            functools.partial(
                self._store.add_message,
                session.id,
                Role.USER,
                text,
                parent_id=message.parent_id,
                attachments=files,
            )
        )
        return await self._start(session, continue_message=None, parent=user)

    async def continue_reply(self, message_id: int) -> Message:
        """Ask the model to go on from a reply's text: one stopped or interrupted,
        or one cut at the model's token limit (:func:`can_continue`)."""
        message = self._require_message(message_id)
        if message.role is not Role.ASSISTANT or not can_continue(message.status, message.finish):
            raise ChatActionError(
                "Only a reply that was stopped, interrupted or cut at the model's token limit"
                " can be continued."
            )
        if self._manager.is_message_live(message.id):
            raise ChatActionError("This reply is still streaming.")
        session = self._require_session(message.session_id)
        return await self._start(session, continue_message=message)

    async def retry(self, message_id: int) -> Message:
        """Regenerate a reply: a new version of it (its sibling), from the turns
        before it; the older versions stay."""
        message = self._require_message(message_id)
        if (
            message.role is not Role.ASSISTANT
            or message.status.is_live
            or self._manager.is_message_live(message.id)
        ):
            raise ChatActionError("Only a finished reply can be retried.")
        session = self._require_session(message.session_id)
        parent = self._store.get_message(message.parent_id) if message.parent_id else None
        return await self._start(session, continue_message=None, parent=parent)

    async def switch_version(self, message_id: int, version_id: int) -> None:
        """Show another version of a message (a sibling) and the newest path below it."""
        message = self._require_message(message_id)
        other = self._require_message(version_id)
        if other.session_id != message.session_id or other.parent_id != message.parent_id:
            raise ChatActionError("That is not a version of this message.")
        await self.show_message(version_id)

    async def show_message(self, message_id: int) -> None:
        """Show the branch a message is on: the newest path through it."""
        message = self._require_message(message_id)
        await self._write(self._store.show_branch, message.session_id, message.id)

    def stop(self, session_id: int, message_id: int | None = None) -> bool:
        """Stop a live reply: ``message_id``'s, else the one on the path the chat
        shows (else every live reply of the chat)."""
        if message_id is None:
            message_id = self.live_on_path(session_id)
        if message_id is None:
            return self._manager.stop(session_id)
        return self._manager.stop_message(message_id)

    def live_on_path(self, session_id: int) -> int | None:
        """The live reply on the path the chat shows, if one is (the newest)."""
        live = self._manager.live_messages(session_id)
        if not live:
            return None
        on_path = set(self._store.active_path_ids(session_id))
        shown = [message_id for message_id in live if message_id in on_path]
        return shown[-1] if shown else None

    # ---------------------------------------------------------------- internals
    async def _start(
        self,
        session: Session,
        *,
        continue_message: Message | None,
        parent: Message | None = None,
    ) -> Message:
        """Stream a reply: a new one under ``parent`` (on the path to it), or
        ``continue_message`` going on from its text."""
        provider, stored = self._directory.provider(session.provider_id)
        model = session.model or stored.default_model
        if continue_message is not None:
            history = self._store.path_to(continue_message.id)
        else:
            history = self._store.path_to(parent.id) if parent is not None else []
        if any(m.attachments for m in history):  # files to read: off the loop
            turns = await asyncio.to_thread(_turns, self._store, history, model)
        else:
            turns = _turns(self._store, history, model)
        request = ChatRequest(
            model=model,
            turns=tuple(turns),
            system=session.system_prompt or None,
            continue_partial=continue_message is not None,
            params=session.params,
        )
        if continue_message is None:
            message = await self._write(
                functools.partial(
                    self._store.add_message,
                    session.id,
                    Role.ASSISTANT,
                    "",
                    status=MessageStatus.STREAMING,
                    model=model,
                    parent_id=parent.id if parent is not None else None,
                )
            )
            initial = ""
        else:
            await self._write(
                self._store.update_message_status, continue_message.id, MessageStatus.STREAMING
            )
            message = continue_message
            initial = continue_message.content
        try:
            self._manager.start_reply(
                session.id,
                message.id,
                provider,
                request,
                initial_text=initial,
                initial_reasoning=message.reasoning,
                initial_blocks=message.reasoning_blocks,
            )
        except ConcurrencyLimitError as exc:
            await self._write(
                functools.partial(
                    self._store.finish_message,
                    message.id,
                    initial,
                    MessageStatus.FAILED,
                    error=str(exc),
                )
            )
            raise ChatActionError(str(exc)) from exc
        fresh = self._store.get_message(message.id)
        assert fresh is not None
        return fresh

    async def _write(self, fn: Callable[..., _T], *args: object) -> _T:
        return await self._manager.run_store(fn, *args)

    def _require_stored(self, attachments: Sequence[Attachment]) -> None:
        # A file attached, then removed with the last chat that had sent it
        # before this message went: it has to be attached again.
        for a in attachments:
            if not self._store.files.has(a.sha256):
                raise ChatActionError(f"“{a.name}” is no longer stored: attach it again.")

    def _require_session(self, session_id: int) -> Session:
        session = self._store.get_session(session_id)
        if session is None:
            raise ChatActionError("This chat no longer exists.")
        return session

    def _require_message(self, message_id: int) -> Message:
        message = self._store.get_message(message_id)
        if message is None:
            raise ChatActionError("This message no longer exists.")
        return message


MAX_FOLDER_NAME = 80


def _folder_name(name: str) -> str:
    name = " ".join(name.split())
    if len(name) > MAX_FOLDER_NAME:
        raise ChatActionError(f"A folder name can be at most {MAX_FOLDER_NAME} characters.")
    return name


def _check_files(attachments: Sequence[Attachment]) -> None:
    try:
        check_message(attachments)
    except AttachmentError as exc:
        raise ChatActionError(str(exc)) from exc


def _turns(store: Store, history: list[Message], model: str) -> list[ChatTurn]:
    """The transcript a model sees: user turns with their files and the text of
    every reply, with the signed reasoning blocks of the replies this model
    wrote (the Anthropic dialect sends them back unchanged, as the API
    requires; the others leave them out; another model's signatures would be
    refused). Reads attached files: run it in a worker thread.

    Failed replies with no text are left out (they carry an error, not an answer).
    """
    turns: list[ChatTurn] = []
    for m in history:
        if m.role is Role.ASSISTANT and not m.content:
            continue
        blocks = m.reasoning_blocks if m.model in (None, model) else ()
        files = turn_files(store, m) if m.attachments else ()
        turns.append(ChatTurn(m.role, m.content, blocks, files))
    return turns


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"(\*\*|__|\*|`+|~~|^#+\s*|^>\s*)", re.MULTILINE)


def title_from(text: str) -> str:
    """A chat's title from its first message: plain text on one line (Markdown
    emphasis, code marks, headings and links read as their words)."""
    plain = _MARKUP.sub("", _LINK.sub(r"\1", text))
    line = " ".join(plain.split()) or " ".join(text.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1].rstrip() + "…"
