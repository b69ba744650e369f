"""Shared by the import tests: the fixtures' paths, a store's whole content, and
an export with its ids taken out (what "the same chats" means across stores)."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

from desktop.export import export_json
from desktop.importer import ImportReport, import_batch, read_import_file
from desktop.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
CHATGPT = FIXTURES / "chatgpt_conversations.json"


def import_path(store: Store, path: Path, **kwargs: Any) -> ImportReport:
    """What ``sidestream import`` and the service do: read and check, then write."""
    return import_batch(store, read_import_file(path, **kwargs))


def dump(store: Store) -> list[str]:
    """Every row of every table, read by a connection of its own (WAL included)."""
    with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as conn:
        return list(conn.iterdump())


def exported(store: Store) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(export_json(store))
    return document


def without_ids(document: dict[str, Any]) -> dict[str, Any]:
    """The export with each chat's and message's id replaced by its place: a
    message's parent and a chat's active leaf become positions in its list."""
    document = copy.deepcopy(document)
    for chat in document["chats"]:
        place = {message["id"]: i for i, message in enumerate(chat["messages"])}
        chat["id"] = None
        if chat.get("active_leaf") is not None:
            chat["active_leaf"] = place[chat["active_leaf"]]
        for message in chat["messages"]:
            message["id"] = place[message["id"]]
            if message.get("parent") is not None:
                message["parent"] = place[message["parent"]]
    return document


def tree(chat: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """An exported chat's tree as (role, text, the text of its parent), in order."""
    by_id = {message["id"]: message for message in chat["messages"]}
    return [
        (
            message["role"],
            message["content"],
            None if message["parent"] is None else by_id[message["parent"]]["content"],
        )
        for message in chat["messages"]
    ]


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
