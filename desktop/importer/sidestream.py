"""Sidestream's own JSON export (``desktop.export``), read back.

Versions 1 (each chat one path, messages in order), 2 (a tree: each
message names its ``parent``; the chat its ``active_leaf``; a system prompt
and, when set, ``params``) and 3 (attached files: each message's
``attachments``, their bytes once each in ``files`` as base64 under their
SHA-256, checked on the way in; a chat's ``pinned``, ``archived``,
``folder``). What comes back is exactly what was exported: titles, texts,
roles, statuses, errors and reasons, reasoning, finish, files, usage,
models, times, the tree and the path shown. Ids are the new store's own (the
tree between them is the file's). One exception: a reply that was still
streaming when the file was written comes in ``interrupted``, since no
stream will ever finish it here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from desktop.core.imported import ImportedChat, ImportedFile, ImportedMessage
from desktop.core.models import AttachmentKind, GenerationParams
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.importer import fields as f
from desktop.importer.errors import BadData, BrokenTree, UnsupportedVersion
from desktop.importer.tree import parents_first

log = logging.getLogger("sidestream.importer")

FORMAT = "sidestream-export"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
VERSIONS = (1, 2, 3)
STILL_STREAMING = "It was still being written when the chat was exported."
_E = TypeVar("_E", Role, MessageStatus)
_PARAMS = ("temperature", "top_p", "max_output_tokens", "reasoning_effort", "thinking_budget")


def read_export(document: dict[str, Any], name: str) -> list[ImportedChat]:
    """The chats of a Sidestream export (``document["format"]`` is :data:`FORMAT`)."""
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BadData(f"{name} is a Sidestream export without a version number.")
    if version not in VERSIONS:
        newer = (
            " It was written by a newer Sidestream: update this one."
            if version > VERSIONS[-1]
            else ""
        )
        raise UnsupportedVersion(
            f"{name} is a Sidestream export of version {version}; this Sidestream reads "
            f"versions 1 to {VERSIONS[-1]}.{newer}"
        )
    chats = f.listed(document, "chats", name)
    if not chats:
        raise BadData(f"{name} holds no chats; there is nothing to import.")
    files = _Files(document.get("files"), name)
    return [_chat(raw, index, version, files) for index, raw in enumerate(chats, 1)]


class _Files:
    """The file's ``files``: base64 under SHA-256, decoded and checked when first used."""

    def __init__(self, raw: object, name: str) -> None:
        self._raw = {} if raw is None else f.obj(raw, f"{name}: “files”")
        self._decoded: dict[str, bytes | None] = {}

    def get(self, sha256: str, where: str) -> bytes | None:
        """The bytes of file ``sha256`` (None: the export left it out, as it does
        for a file that was missing from its data folder)."""
        if sha256 not in self._decoded:
            self._decoded[sha256] = self._decode(sha256, where)
        return self._decoded[sha256]

    def _decode(self, sha256: str, where: str) -> bytes | None:
        encoded = self._raw.get(sha256)
        if encoded is None:
            log.warning("%s: attached file %s is not in the export; left out", where, sha256[:12])
            return None
        if not isinstance(encoded, str):
            raise BadData(f"{where}: the attached file {sha256[:12]}… is not base64 text.")
        try:
            data = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise BadData(f"{where}: the attached file {sha256[:12]}… is not base64.") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BadData(
                f"{where}: the attached file {sha256[:12]}… is damaged (its bytes do not"
                " match its SHA-256)."
            )
        return data


def _chat(raw: object, index: int, version: int, files: _Files) -> ImportedChat:
    data = f.obj(raw, f"Chat {index}")
    title = f.text(data, "title", f"Chat {index}")
    where = f"Chat {index} (“{title}”)"
    created_at, same_as = f.from_iso(f.text(data, "created_at", where), "created_at", where)
    updated = f.text(data, "updated_at", where, default=None)
    updated_at = created_at if updated is None else f.from_iso(updated, "updated_at", where)[0]
    listed = f.listed(data, "messages", where)
    ids: list[int] = []
    parent_of: dict[int, int | None] = {}
    drafts: dict[int, ImportedMessage] = {}
    previous: int | None = None
    for position, raw_message in enumerate(listed, 1):
        message_id, parent, draft = _message(raw_message, f"{where}, message {position}", files)
        if message_id in drafts:
            raise BrokenTree(f"{where}: two messages have the id {message_id}.")
        # Version 1 had no tree: each message followed the one before it.
        parent_of[message_id] = previous if version == 1 else parent
        ids.append(message_id)
        drafts[message_id] = draft
        previous = message_id
    ordered = parents_first(ids, parent_of, where)
    index_of = {message_id: i for i, message_id in enumerate(ordered)}
    messages = tuple(
        _with_parent(drafts[message_id], parent_of[message_id], index_of) for message_id in ordered
    )
    if version == 1:
        leaf = previous
    else:
        leaf = f.whole(data, "active_leaf", where, default=None)
        if leaf is not None and leaf not in index_of:
            raise BrokenTree(f"{where} shows message {leaf}, which is not in the file.")
    return ImportedChat(
        title=title,
        created_at=created_at,
        updated_at=updated_at,
        messages=messages,
        active=None if leaf is None else index_of[leaf],
        model=f.text(data, "model", where, default=""),
        muted=f.flag(data, "muted", where, default=False),
        system_prompt=f.text(data, "system_prompt", where, default=""),
        params=_params(data.get("params"), where),
        same_as=same_as,
        pinned=f.flag(data, "pinned", where, default=False),
        archived=f.flag(data, "archived", where, default=False),
        folder=" ".join(f.text(data, "folder", where, default="").split()),
    )


def _with_parent(
    draft: ImportedMessage, parent: int | None, index_of: dict[int, int]
) -> ImportedMessage:
    return draft if parent is None else replace(draft, parent=index_of[parent])


def _message(raw: object, where: str, files: _Files) -> tuple[int, int | None, ImportedMessage]:
    data = f.obj(raw, where)
    message_id = f.whole(data, "id", where)
    parent = f.whole(data, "parent", where, default=None)
    role = _choice(Role, f.text(data, "role", where), "role", where)
    status = _choice(MessageStatus, f.text(data, "status", where), "status", where)
    reason = f.text(data, "reason", where, default=None)
    if status.is_live:
        status, reason = MessageStatus.INTERRUPTED, STILL_STREAMING
    finish = f.text(data, "finish", where, default=None)
    seconds = f.number(data, "reasoning_seconds", where, default=None)
    created_at: datetime = f.from_iso(f.text(data, "created_at", where), "created_at", where)[0]
    return (
        message_id,
        parent,
        ImportedMessage(
            parent=None,
            role=role,
            content=f.text(data, "content", where),
            created_at=created_at,
            status=status,
            error=f.text(data, "error", where, default=None),
            reason=reason,
            model=f.text(data, "model", where, default=None),
            input_tokens=f.whole(data, "input_tokens", where, default=None),
            output_tokens=f.whole(data, "output_tokens", where, default=None),
            reasoning=f.text(data, "reasoning", where, default=""),
            reasoning_seconds=seconds,
            finish=None if finish is None else _finish(finish),
            attachments=_attachments(data, where, files),
        ),
    )


def _attachments(data: dict[str, Any], where: str, files: _Files) -> tuple[ImportedFile, ...]:
    raw = data.get("attachments")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadData(f"{where}: “attachments” is {f.kind_of(raw)}; it should be a list.")
    found: list[ImportedFile] = []
    for position, item in enumerate(raw, 1):
        here = f"{where}, attachment {position}"
        entry = f.obj(item, here)
        sha256 = f.text(entry, "sha256", here).lower()
        if not _SHA256.match(sha256):
            raise BadData(f"{here}: “sha256” is not a SHA-256.")
        kind_name = f.text(entry, "kind", here)
        try:
            kind = AttachmentKind(kind_name)
        except ValueError:
            kind = AttachmentKind.TEXT  # a newer Sidestream's kind: its text is still text
        content = files.get(sha256, here)
        if content is None:
            continue
        found.append(
            ImportedFile(
                sha256=sha256,
                name=f.text(entry, "name", here),
                mime=f.text(entry, "mime", here),
                kind=kind,
                data=content,
                text=f.text(entry, "text", here, default=None),
            )
        )
    return tuple(found)


def _choice(kind: type[_E], value: str, key: str, where: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise BadData(f"{where}: “{key}” is {value!r}; it should be one of {known}.") from None


def _finish(value: str) -> FinishReason:
    try:
        return FinishReason(value)
    except ValueError:  # a newer Sidestream's reason: kept as "other", as the store does
        return FinishReason.OTHER


def _params(value: object, where: str) -> GenerationParams:
    """A chat's parameters, checked as the chat settings check them."""
    if value is None:
        return GenerationParams()
    data = f.obj(value, f"{where}: “params”")
    known = {name: data[name] for name in _PARAMS if data.get(name) is not None}
    try:
        return GenerationParams(**known).validate()
    except ValueError as exc:
        raise BadData(f"{where}: {exc}.") from exc
