"""Attached files on the real services and a real store (issue 17).

What a file is, by its bytes; the limits and the words for each refusal;
files stored once, 0600, under their SHA-256; sent with their message and
kept with it; removed with the last chat that used them; swept when never
sent; exported and imported back exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pytest

from desktop.attachments import MAX_FILE_BYTES, MAX_FILES, AttachmentError
from desktop.core.models import Attachment, AttachmentKind
from desktop.core.states import MessageStatus, Role
from desktop.export import export_json
from desktop.importer import ImportFileError, read_import_file
from desktop.providers.demo.server import DemoServer
from desktop.services import Services
from desktop.services.chat import ChatActionError
from desktop.store import Store
from desktop.store.files import UNSENT_GRACE_S
from tests.support.aio import run, wait_for
from tests.support.files import pdf, png
from tests.support.services import MemoryKeyring, services_on


@pytest.fixture
def services(tmp_path: Path, demo: DemoServer, memory_keyring: MemoryKeyring) -> Services:
    return services_on(demo, Store.open(tmp_path / "data"))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "files" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


async def settled(services: Services, session_id: int) -> None:
    await wait_for(lambda: not services.manager.is_live(session_id), what="the reply to end")


def test_each_kind_is_told_by_its_bytes_and_stored_once_privately(
    tmp_path: Path, services: Services
) -> None:
    image = png(seed=1)
    notes = "# Notes\nnaïve café ✓\n".encode()

    async def scenario() -> None:
        attach = services.attachments.attach_path
        shot = await attach(write(tmp_path, "shot.jpg", image))  # named .jpg, is a PNG
        assert (shot.kind, shot.mime, shot.size) == (AttachmentKind.IMAGE, "image/png", len(image))
        assert shot.sha256 == hashlib.sha256(image).hexdigest() and shot.text is None
        md = await attach(write(tmp_path, "notes.md", notes))
        assert (md.kind, md.mime) == (AttachmentKind.TEXT, "text/markdown")
        bom = await attach(write(tmp_path, "win.txt", "\ufeffhi".encode("utf-16")))
        assert bom.kind is AttachmentKind.TEXT
        doc = await attach(write(tmp_path, "paper.pdf", pdf("Lighthouse keepers", "Page two")))
        assert (doc.kind, doc.mime) == (AttachmentKind.PDF, "application/pdf")
        assert doc.text == "Lighthouse keepers\n\nPage two"
        again = await services.attachments.attach_bytes("Pasted image.png", image)
        assert again.sha256 == shot.sha256

    run(scenario())
    files = services.store.files
    stored = files.stored()
    assert len(stored) == 4  # the PNG once, though attached twice
    for sha256 in stored:
        path = files.path(sha256)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = services.store.path.parent
    assert files.root == data / "attachments"
    run(services.aclose())
    # The folder of files is one of Sidestream's own: the data folder, loosened
    # meanwhile, is still made private again when the store opens.
    data.chmod(0o755)
    Store.open(data).close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.txt", b"", "“empty.txt” is empty."),
        ("tool.bin", b"\x7fELF\x02\x01\x01\0\0\0", "is not a text file, an image"),
        ("old.txt", b"line one\nline two caf\xe9\n", "is not UTF-8 text (line 2"),
        ("scan.bmp", b"BM6\0\0\0", "is a BMP image; models take PNG, JPEG, WebP or GIF"),
        ("locked.pdf", b"%PDF-1.4\nnot really a pdf", "could not be read as a PDF"),
        ("blank.pdf", pdf(""), "has no text to read (a scanned PDF?)"),
    ],
)
def test_a_file_that_cannot_be_sent_says_why_and_nothing_is_attached(
    tmp_path: Path, services: Services, name: str, data: bytes, words: str
) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(AttachmentError) as info:
        run(services.attachments.attach_path(path))
    assert words in str(info.value)
    run(services.aclose())


def test_limits_per_file_and_per_message(tmp_path: Path, services: Services) -> None:
    big = tmp_path / "huge.log"
    with big.open("wb") as out:  # sparse: no 26 MB written to the disk
        out.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(AttachmentError, match=r"“huge.log” is 25.0 MB; a file can be at most 25.0"):
        run(services.attachments.attach_path(big))
    with pytest.raises(AttachmentError, match="no longer exists"):
        run(services.attachments.attach_path(tmp_path / "gone.txt"))
    with pytest.raises(AttachmentError, match="is a folder"):
        run(services.attachments.attach_path(tmp_path))

    one = Attachment("0" * 64, "a.txt", "text/plain", AttachmentKind.TEXT, 10)
    with pytest.raises(AttachmentError, match=f"at most {MAX_FILES} files"):
        services.attachments.check_message([one] * (MAX_FILES + 1))
    heavy = Attachment("0" * 64, "a.png", "image/png", AttachmentKind.IMAGE, 20 * 1024 * 1024)
    with pytest.raises(AttachmentError, match=r"add up to 60\.0 MB; a message can carry at most"):
        services.attachments.check_message([heavy] * 3)
    session = services.chat.create_chat()
    with pytest.raises(ChatActionError, match=r"add up to 60\.0 MB"):
        run(services.chat.send(session.id, "three big ones", [heavy] * 3))
    assert services.chat.messages(session.id) == []  # nothing was added
    run(services.aclose())


def test_files_go_with_their_message_and_edit_keeps_or_changes_them(
    tmp_path: Path, services: Services
) -> None:
    async def scenario() -> None:
        image = await services.attachments.attach_bytes("photo.png", png(seed=2))
        text = await services.attachments.attach_path(write(tmp_path, "plan.txt", b"step 1\n"))
        session = services.chat.create_chat()
        await services.chat.send(session.id, "", [image, text])  # no words: files only
        await settled(services, session.id)
        user, reply = services.chat.messages(session.id)
        assert user.content == "" and user.attachments == (image, text)
        assert reply.status is MessageStatus.COMPLETE
        # The demo names what reached it: both files, read from the store's copies.
        first_line = reply.content.splitlines()[0]
        assert "plan.txt (text, 1 line)" in first_line and "an image (PNG" in first_line
        assert services.chat.chat(session.id).title == "photo.png"  # type: ignore[union-attr]

        await services.chat.edit(user.id, "Only the plan, now")  # files unchanged
        await settled(services, session.id)
        kept = services.chat.messages(session.id)[0]
        assert kept.id != user.id and kept.attachments == (image, text)
        await services.chat.edit(kept.id, "Without the photo", [text])
        await settled(services, session.id)
        assert services.chat.messages(session.id)[0].attachments == (text,)
        # The original still has both: a version one switch away.
        assert services.chat.message(user.id).attachments == (image, text)  # type: ignore[union-attr]
        await services.aclose()

    run(scenario())


def test_a_file_goes_with_the_last_chat_that_uses_it(tmp_path: Path, services: Services) -> None:
    store = services.store

    async def scenario() -> None:
        shared = await services.attachments.attach_bytes("shared.png", png(seed=3))
        own = await services.attachments.attach_bytes("own.png", png(seed=4))
        first = services.chat.create_chat()
        second = services.chat.create_chat()
        await services.chat.send(first.id, "one", [shared, own])
        await services.chat.send(second.id, "two", [shared])
        await settled(services, first.id)
        await settled(services, second.id)
        await services.chat.delete_chat(first.id)
        assert store.files.has(shared.sha256) and not store.files.has(own.sha256)
        # Deleting the message (and the reply below it) that used it last removes it too.
        message = next(m for m in store.list_messages(second.id) if m.role is Role.USER)
        store.delete_message(message.id)
        assert not store.files.has(shared.sha256)
        await services.aclose()

    run(scenario())


def test_files_never_sent_are_swept_after_a_day(tmp_path: Path, services: Services) -> None:
    files = services.store.files

    async def scenario() -> None:
        sent = await services.attachments.attach_bytes("sent.png", png(seed=5))
        old = await services.attachments.attach_bytes("old.png", png(seed=6))
        young = await services.attachments.attach_bytes("young.png", png(seed=7))
        session = services.chat.create_chat()
        await services.chat.send(session.id, "keep", [sent])
        await settled(services, session.id)
        day_ago = time.time() - UNSENT_GRACE_S - 60
        for a in (sent, old):
            os.utime(files.path(a.sha256), (day_ago, day_ago))
        assert await services.attachments.sweep() == 1
        assert files.has(sent.sha256) and files.has(young.sha256) and not files.has(old.sha256)
        await services.aclose()

    run(scenario())


def test_export_then_import_gives_the_same_files_and_order(
    tmp_path: Path, services: Services, demo: DemoServer
) -> None:
    async def scenario() -> str:
        image = await services.attachments.attach_bytes("photo.png", png(seed=8))
        doc = await services.attachments.attach_path(write(tmp_path, "a.pdf", pdf("Keeper")))
        session = services.chat.create_chat()
        await services.chat.send(session.id, "Look", [image, doc])
        await settled(services, session.id)
        services.chat.set_pinned(session.id, True)
        services.chat.set_folder(session.id, "Lighthouses")
        archived = services.chat.create_chat()
        await services.chat.send(archived.id, "old news")
        await settled(services, archived.id)
        services.chat.set_archived(archived.id, True)
        exported = export_json(services.store)
        await services.aclose()
        return exported

    exported = run(scenario())
    document = json.loads(exported)
    assert document["version"] == 3 and len(document["files"]) == 2
    assert {c["title"] for c in document["chats"]} == {"Look", "old news"}  # archived too
    path = tmp_path / "export.json"
    path.write_text(exported)

    other = services_on(demo, Store.open(tmp_path / "other"))
    first = other.store.import_chats(read_import_file(path).chats)
    assert all(r.created for r in first)
    twice = other.store.import_chats(read_import_file(path).chats)
    assert [r.messages_added for r in twice] == [0, 0]
    again = json.loads(export_json(other.store))
    for chat in (*document["chats"], *again["chats"]):
        chat.pop("id")
        chat.pop("active_leaf")
        for m in chat["messages"]:
            m.pop("id")
            m.pop("parent")
    assert again["files"] == document["files"]
    assert again["chats"] == document["chats"]
    imported = other.chat.chats(archived=None)
    look = next(s for s in imported if s.title == "Look")
    assert (look.pinned, look.folder) == (True, "Lighthouses")
    assert next(s for s in imported if s.title == "old news").archived
    user = other.chat.messages(look.id)[0]
    assert [a.name for a in user.attachments] == ["photo.png", "a.pdf"]
    assert other.store.files.read(user.attachments[0].sha256) == png(seed=8)
    run(other.aclose())


def test_a_damaged_file_in_an_export_changes_nothing(tmp_path: Path, services: Services) -> None:
    async def scenario() -> str:
        image = await services.attachments.attach_bytes("photo.png", png(seed=9))
        session = services.chat.create_chat()
        await services.chat.send(session.id, "Look", [image])
        await settled(services, session.id)
        exported = export_json(services.store)
        await services.aclose()
        return exported

    document = json.loads(run(scenario()))
    (sha256,) = document["files"]
    document["files"][sha256] = document["files"][sha256][:-8] + "AAAAAAA="
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ImportFileError, match="is damaged"):
        read_import_file(path)
