"""A bad or unknown file gets a clear message and changes nothing: every row of
the store is the same after the failed import as before it."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from desktop.core.states import Role
from desktop.importer import (
    BadData,
    BrokenTree,
    FileTooLarge,
    ImportFileError,
    NotJson,
    UnknownFormat,
    UnreadableFile,
    UnsupportedVersion,
    import_batch,
    read_import_file,
)
from desktop.store import Store, StoreError, StoreErrorKind
from tests.unit.importer.helpers import CHATGPT, dump, exported, import_path, write_json


def chatgpt() -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = json.loads(CHATGPT.read_text(encoding="utf-8"))
    return conversations


def sidestream(**chat: Any) -> dict[str, Any]:
    base = {
        "id": 1,
        "title": "Plans",
        "model": "",
        "muted": False,
        "created_at": "2025-01-02T03:04:05.678901",
        "updated_at": "2025-01-02T03:04:05.678901",
        "system_prompt": "",
        "active_leaf": 2,
        "messages": [
            {
                "id": 1,
                "parent": None,
                "role": "user",
                "content": "Hi",
                "status": "complete",
                "created_at": "2025-01-02T03:04:06",
            },
            {
                "id": 2,
                "parent": 1,
                "role": "assistant",
                "content": "Hello",
                "status": "complete",
                "created_at": "2025-01-02T03:04:07",
            },
        ],
    }
    base.update(chat)
    return {"format": "sidestream-export", "version": 2, "chats": [base]}


def with_message(index: int, **fields: Any) -> dict[str, Any]:
    document = sidestream()
    document["chats"][0]["messages"][index].update(fields)
    return document


def cycle() -> list[dict[str, Any]]:
    conversations = chatgpt()
    mapping = conversations[1]["mapping"]
    # The user's question now follows the final answer, which follows it.
    mapping["d2000000-0000-4000-8000-000000000001"]["parent"] = (
        "d2000000-0000-4000-8000-000000000004"
    )
    return conversations


def missing_parent() -> list[dict[str, Any]]:
    conversations = chatgpt()
    conversations[0]["mapping"]["b1c0de2a-0000-4000-8000-000000000007"]["parent"] = "nowhere"
    return conversations


def wrong_mapping() -> list[dict[str, Any]]:
    conversations = chatgpt()
    conversations[1]["mapping"] = list(conversations[1]["mapping"].values())
    return conversations


def without_mapping() -> list[dict[str, Any]]:
    conversations = chatgpt()
    del conversations[2]["mapping"]
    return conversations


def role_is_a_number() -> list[dict[str, Any]]:
    conversations = chatgpt()
    node = conversations[0]["mapping"]["b1c0de2a-0000-4000-8000-000000000003"]
    node["message"]["author"]["role"] = 5
    return conversations


def write_bytes(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


def write(value: object) -> Callable[[Path], Path]:
    return lambda path: write_json(path, value)


def zip_of(files: dict[str, str]) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in files.items():
                archive.writestr(name, text)
        return path

    return make


TRUNCATED = CHATGPT.read_bytes()[: len(CHATGPT.read_bytes()) // 2]

CASES: list[tuple[str, Callable[[Path], Path], type[ImportFileError], str]] = [
    ("truncated JSON", write_bytes(TRUNCATED), NotJson, "ends before its JSON does"),
    ("not text", write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff"), NotJson, "not a JSON file"),
    ("a syntax error", write_bytes(b'{"format": "sidestream-export",, }'), NotJson, "line 1"),
    ("an empty list", write([]), BadData, "holds no conversations; there is nothing to import"),
    ("an empty file", write_bytes(b""), NotJson, "cut short"),
    ("other JSON", write({"hello": "world"}), UnknownFormat, "not a chat export Sidestream"),
    ("another format", write({"format": "notes-v1"}), UnknownFormat, "“notes-v1” format"),
    ("a list of numbers", write([1, 2, 3]), UnknownFormat, "ChatGPT's data export"),
    ("a cycle in the mapping", write(cycle()), BrokenTree, "follow each other in a circle"),
    ("a missing parent", write(missing_parent()), BrokenTree, "nowhere, which is not in the"),
    ("mapping as a list", write(wrong_mapping()), BadData, "“mapping” should be an object"),
    ("no mapping", write(without_mapping()), BadData, "Conversation 3 (“New chat”) has no"),
    ("a role that is a number", write(role_is_a_number()), BadData, "should be text, not a"),
    (
        "a newer Sidestream export",
        write({"format": "sidestream-export", "version": 4, "chats": []}),
        UnsupportedVersion,
        "version 4; this Sidestream reads versions 1 to 3. It was written by a newer",
    ),
    (
        "no chats",
        write({"format": "sidestream-export", "version": 2, "chats": []}),
        BadData,
        "holds no chats",
    ),
    (
        "a message's role",
        write(with_message(1, role="robot")),
        BadData,
        "Chat 1 (“Plans”), message 2: “role” is 'robot'; it should be one of system, user,",
    ),
    (
        "a message without text",
        write(with_message(0, content=None)),
        BadData,
        "message 1: “content” should be text, not null",
    ),
    (
        "a parent that is not there",
        write(with_message(1, parent=7)),
        BrokenTree,
        "message 2 follows message 7, which is not in the file",
    ),
    (
        "a message that is its own parent",
        write(with_message(0, parent=1)),
        BrokenTree,
        "circle",
    ),
    (
        "two messages with one id",
        write(with_message(1, id=1, parent=None)),
        BrokenTree,
        "two messages have the id 1",
    ),
    (
        "an active leaf that is not there",
        write(sidestream(active_leaf=99)),
        BrokenTree,
        "shows message 99, which is not in the file",
    ),
    (
        "a time that is no time",
        write(sidestream(created_at="yesterday")),
        BadData,
        "“created_at” is not a time ('yesterday')",
    ),
    (
        "parameters out of range",
        write(sidestream(params={"temperature": 5})),
        BadData,
        "Temperature must be between 0 and 2",
    ),
    (
        "a ZIP without conversations",
        zip_of({"export/user.json": "{}", "export/chat.html": "<html></html>"}),
        UnknownFormat,
        "a ZIP archive without conversations.json",
    ),
    (
        "a ZIP with a broken conversations.json",
        zip_of({"conversations.json": TRUNCATED.decode("utf-8", "ignore")}),
        NotJson,
        "export.bin: conversations.json ends before its JSON does",
    ),
    ("a damaged ZIP", write_bytes(b"PK\x03\x04" + b"\x00" * 64), NotJson, "damaged ZIP archive"),
]


@pytest.fixture
def full_store(store: Store) -> Store:
    """A store with chats in it already, which no failed import may touch."""
    chat = store.create_session("Already here")
    store.add_message(chat.id, Role.USER, "Keep me")
    store.add_message(chat.id, Role.ASSISTANT, "Kept")
    store.set_setting("some.setting", {"kept": True})
    return store


@pytest.mark.parametrize(
    ("make", "error", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_file_says_what_is_wrong_and_changes_nothing(
    full_store: Store,
    tmp_path: Path,
    make: Callable[[Path], Path],
    error: type[ImportFileError],
    words: str,
) -> None:
    path = make(tmp_path / "export.bin")
    before = dump(full_store)
    with pytest.raises(ImportFileError) as info:
        import_path(full_store, path)
    assert type(info.value) is error, info.value
    message = str(info.value)
    assert words in message
    assert message.endswith(" Nothing was imported.")
    assert "Traceback" not in message and "\n" not in message
    assert dump(full_store) == before


def test_a_file_too_large_is_refused_before_it_is_read(full_store: Store, tmp_path: Path) -> None:
    before = dump(full_store)
    with pytest.raises(
        FileTooLarge, match=r"json is [\d,]+ bytes; Sidestream imports at most 1,000 bytes at once"
    ):
        import_path(full_store, CHATGPT, max_bytes=1000)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("conversations.json", "[" + " " * 5000 + "]")  # packs small
    assert archive.stat().st_size < 1000
    with pytest.raises(FileTooLarge, match=r"export\.zip unpacks to 5,002 bytes"):
        import_path(full_store, archive, max_bytes=1000)
    assert dump(full_store) == before


def test_no_file_a_folder_and_a_pipe_are_named(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match=r"There is no file .*missing\.json"):
        read_import_file(tmp_path / "missing.json")
    with pytest.raises(UnreadableFile, match="is a folder; choose the export file in it"):
        read_import_file(tmp_path)
    pipe = tmp_path / "pipe"
    try:
        os.mkfifo(pipe)
    except (AttributeError, OSError):
        pytest.skip("no named pipes here")
    with pytest.raises(UnreadableFile, match="not a file Sidestream can import"):
        read_import_file(pipe)  # refused without opening it (that would wait for a writer)


def test_a_store_that_cannot_take_the_chats_keeps_none_of_them(full_store: Store) -> None:
    """All or nothing: the disk fills half-way through the chats of a file."""
    batch = read_import_file(CHATGPT)
    before = exported(full_store)
    pages = full_store._db.execute_sql("PRAGMA page_count").fetchone()[0]
    full_store._db.execute_sql(f"PRAGMA max_page_count = {pages + 1}")
    try:
        sine, sourdough = batch.chats[1], batch.chats[0]
        heavy = replace(
            sourdough,
            messages=tuple(replace(m, content=m.content * 2000) for m in sourdough.messages),
        )
        with pytest.raises(StoreError) as info:
            # The first chat fits; the second does not: neither stays.
            import_batch(full_store, replace(batch, chats=(sine, heavy)))
        assert info.value.kind is StoreErrorKind.DISK_FULL
    finally:
        full_store._db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert exported(full_store) == before
    assert [s.title for s in full_store.list_sessions()] == ["Already here"]
