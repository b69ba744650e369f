"""Importing chats from a file: Sidestream's own JSON export, or ChatGPT's data export.

Two steps, so that a bad file changes nothing: :func:`read_import_file`
reads and checks the whole file (no store involved; any problem is an
:class:`ImportFileError` whose text says what is wrong), then
:func:`import_batch` writes every chat in one transaction
(``Store.import_chats``). A chat the store has already, from an earlier
import or because the file was exported from it, is recognised (see
:mod:`desktop.store.merge`): importing the same file twice adds nothing.

Formats: :mod:`.sidestream` (``{"format": "sidestream-export", ...}``,
versions 1 and 2), :mod:`.chatgpt` (``conversations.json``: a list of
conversations, each a tree in ``mapping``; also one conversation alone, and
the export's ``.zip``). Reading the file is :mod:`.source`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.core.imported import ImportedChat
from desktop.importer.chatgpt import read_conversations
from desktop.importer.errors import (
    NOTHING_IMPORTED,
    BadData,
    BrokenTree,
    FileTooLarge,
    ImportFileError,
    NotJson,
    UnknownFormat,
    UnreadableFile,
    UnsupportedVersion,
)
from desktop.importer.sidestream import FORMAT as SIDESTREAM_FORMAT
from desktop.importer.sidestream import read_export
from desktop.importer.source import MAX_IMPORT_BYTES, load_json
from desktop.store import Store

__all__ = [
    "MAX_IMPORT_BYTES",
    "NOTHING_IMPORTED",
    "BadData",
    "BrokenTree",
    "FileTooLarge",
    "ImportBatch",
    "ImportFileError",
    "ImportReport",
    "NotJson",
    "UnknownFormat",
    "UnreadableFile",
    "UnsupportedVersion",
    "import_batch",
    "read_import_file",
]

log = logging.getLogger("sidestream.import")

CHATGPT = "a ChatGPT export"
SIDESTREAM = "a Sidestream export"
_KNOWN = (
    "Sidestream imports its own JSON export and ChatGPT's data export "
    "(conversations.json, or the whole .zip)."
)


@dataclass(frozen=True, slots=True)
class ImportBatch:
    """A file read and checked: its chats, ready for the store."""

    source: str  # CHATGPT or SIDESTREAM
    chats: tuple[ImportedChat, ...]
    left_out: int = 0  # messages of the file no chat shows (ChatGPT's hidden and tool turns)
    empty: int = 0  # conversations with nothing to show, not imported


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    source: str
    chats_added: int
    chats_updated: int  # here already, given the messages they lacked
    chats_unchanged: int  # here already, complete
    messages_added: int  # in the chats added
    messages_merged: int = 0  # added to chats that were here already
    left_out: int = 0
    empty: int = 0
    session_ids: tuple[int, ...] = field(default=())  # chats added or updated, file order

    def summary(self) -> str:
        """One line for a person: what came in, what was here already."""
        parts: list[str] = []
        if self.chats_added:
            parts.append(
                f"Imported {_count(self.chats_added, 'chat')} "
                f"({_count(self.messages_added, 'message')}) from {self.source}."
            )
        if self.chats_updated:
            parts.append(
                f"{_count(self.chats_updated, 'chat')} already here got "
                f"{_count(self.messages_merged, 'new message')}."
            )
        if self.chats_unchanged:
            were = "was" if self.chats_unchanged == 1 else "were"
            parts.append(f"{_count(self.chats_unchanged, 'chat')} {were} here already.")
        if not self.chats_added and not self.chats_updated:
            parts.insert(0, f"Nothing new in {self.source}.")
        if self.left_out:
            parts.append(
                f"Left out {_count(self.left_out, 'hidden or tool message')} "
                "(Sidestream shows no tool turns)."
            )
        if self.empty:
            parts.append(f"Skipped {_count(self.empty, 'empty conversation')}.")
        return " ".join(parts)


def read_import_file(path: Path, *, max_bytes: int = MAX_IMPORT_BYTES) -> ImportBatch:
    """Read and check ``path`` in full; raises :class:`ImportFileError` (nothing written)."""
    documents = load_json(Path(path), max_bytes)
    if len(documents) == 1:
        name, document = documents[0]
        if isinstance(document, dict) and "format" in document:
            return _sidestream(document, name)
        conversations = _chatgpt_list(document, name)
    else:  # a ChatGPT archive in parts
        conversations = []
        for name, document in documents:
            conversations.extend(_chatgpt_list(document, name))
    read = read_conversations(conversations, Path(path).name)
    return ImportBatch(CHATGPT, tuple(read.chats), read.left_out, read.empty)


def import_batch(store: Store, batch: ImportBatch) -> ImportReport:
    """Write a checked batch in one transaction; raises ``StoreError`` (then nothing
    was written) when the store cannot take it."""
    results = store.import_chats(batch.chats)
    added = [r for r in results if r.created]
    updated = [r for r in results if not r.created and r.messages_added]
    changed = {r.session_id: None for r in results if r.created or r.messages_added}
    report = ImportReport(
        source=batch.source,
        chats_added=len(added),
        chats_updated=len(updated),
        chats_unchanged=len(results) - len(added) - len(updated),
        messages_added=sum(r.messages_added for r in added),
        messages_merged=sum(r.messages_added for r in updated),
        left_out=batch.left_out,
        empty=batch.empty,
        session_ids=tuple(changed),
    )
    log.info("Imported %s: %s", batch.source, report.summary())
    return report


def _sidestream(document: dict[str, Any], name: str) -> ImportBatch:
    kind = document["format"]
    if kind != SIDESTREAM_FORMAT:
        label = f"“{kind}”" if isinstance(kind, str) else "unknown"
        raise UnknownFormat(f"{name} is JSON of an {label} format, not a chat export. {_KNOWN}")
    return ImportBatch(SIDESTREAM, tuple(read_export(document, name)))


def _chatgpt_list(document: object, name: str) -> list[Any]:
    if isinstance(document, dict) and "mapping" in document:
        return [document]  # one conversation alone
    if isinstance(document, list):
        if not document:
            raise BadData(f"{name} holds no conversations; there is nothing to import.")
        if isinstance(document[0], dict) and "mapping" in document[0]:
            return document
    raise UnknownFormat(f"{name} is JSON, but not a chat export Sidestream knows. {_KNOWN}")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
