"""Files attached to messages in the transcript (issue 17): a line under the
header of the user message, image thumbnails made off the GUI thread,
text/PDF chips, links that open and save them; the renderer's bookkeeping
holds through loads, adds, removals, streaming and a palette change, and a
message without files has no such line.

Real widgets on the offscreen platform; the files are stored by the real
AttachmentService on a real store in tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QByteArray, QUrl
from PySide6.QtGui import (
    QColor,
    QImage,
    QImageWriter,
    QPalette,
    QPixmap,
    QTextCursor,
    QTextDocument,
)
from pytestqt.qtbot import QtBot

from desktop.core.models import Attachment, AttachmentKind, Message
from desktop.core.states import MessageStatus, Role
from desktop.services.attachments import AttachmentService
from desktop.store import Store
from desktop.ui.chat_view import ChatView
from desktop.ui.file_viewer import FileViewer
from desktop.ui.render.attachments import THUMB_SIZE, file_href, image_url
from desktop.ui.render.document import BLOCK_KIND, BLOCK_MESSAGE, BlockKind
from tests.support.aio import run_on_qloop
from tests.support.view_updates import append_text, set_message_state
from tests.unit.ui.test_chat_view import anchors, check_regions, click_anchor

S = MessageStatus
WAIT = 10_000


def png(path: Path, width: int, height: int, color: str = "#3080f0") -> Path:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert QImageWriter(str(path), QByteArray(b"png")).write(image)
    return path


@pytest.fixture
def files(qloop: qasync.QEventLoop, store: Store) -> AttachmentService:
    return AttachmentService(store)


@pytest.fixture
def view(qtbot: QtBot, files: AttachmentService) -> Iterator[ChatView]:
    widget = ChatView(files=files)
    qtbot.addWidget(widget)
    widget.resize(700, 600)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget


def attach(files: AttachmentService, path: Path) -> Attachment:
    return run_on_qloop(files.attach_path(path))


def files_blocks(view: ChatView) -> dict[int, str]:
    """Message id -> the text of its files line."""
    found: dict[int, str] = {}
    block = view.document().begin()
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.property(BLOCK_KIND) == BlockKind.FILES:
            found[int(fmt.property(BLOCK_MESSAGE))] = block.text()
        block = block.next()
    return found


def test_files_line_under_the_header_and_none_without_files(
    view: ChatView, files: AttachmentService, tmp_path: Path, qtbot: QtBot
) -> None:
    image = attach(files, png(tmp_path / "photo.png", 800, 400))
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nsome words\n", encoding="utf-8")
    text = attach(files, notes)
    view.load_transcript(
        [
            Message(1, 1, Role.USER, "what is this?", S.COMPLETE, attachments=(image, text)),
            Message(2, 1, Role.ASSISTANT, "A **blue** box.", S.COMPLETE),
            Message(3, 1, Role.USER, "and plain words", S.COMPLETE),
            Message(4, 1, Role.ASSISTANT, "Words.", S.COMPLETE),
        ]
    )
    check_regions(view)
    lines = files_blocks(view)
    assert list(lines) == [1]  # message 3 has none
    assert "notes.md" in lines[1] and "photo.png" not in lines[1]  # the image is a picture
    hrefs = anchors(view)
    assert file_href(1, 0) in hrefs and file_href(1, 1) in hrefs
    assert view.link_description(file_href(1, 1)) == "Open notes.md · 20 bytes"
    assert view.message_text(1) == "what is this?"
    # A placeholder first; the thumbnail, made in a worker thread, replaces it
    # (the tile's centre turns the image's blue).
    name = image_url(image)

    def tile() -> QPixmap:
        shown = view.document().resource(QTextDocument.ResourceType.ImageResource.value, QUrl(name))
        assert isinstance(shown, QPixmap)
        return shown

    def centre() -> QColor:
        image = tile().toImage()
        return image.pixelColor(image.width() // 2, image.height() // 2)

    qtbot.waitUntil(lambda: centre().blue() > 200 and centre().red() < 100, timeout=WAIT)
    assert tile().deviceIndependentSize().toSize() == THUMB_SIZE
    assert view.blocked_resources == []


def test_bookkeeping_holds_through_adds_removals_streaming_and_a_palette_change(
    view: ChatView, files: AttachmentService, tmp_path: Path
) -> None:
    image = attach(files, png(tmp_path / "a.png", 30, 30))
    view.load_transcript([Message(1, 1, Role.USER, "", S.COMPLETE, attachments=(image,))])
    check_regions(view)
    view.add_message(Message(2, 1, Role.ASSISTANT, "", S.STREAMING))
    for word in ("Here ", "is ", "a\n\n", "```py\nx = 1\n", "```\n\nDone."):
        append_text(view, 2, word)
        check_regions(view)
    set_message_state(view, 2, S.COMPLETE)
    view.add_message(Message(3, 1, Role.USER, "again", S.COMPLETE, attachments=(image, image)))
    check_regions(view)
    assert set(files_blocks(view)) == {1, 3}
    view.remove_message(1)
    check_regions(view)
    palette = view.palette()
    palette.setColor(QPalette.ColorRole.Base, QColor("#202020"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#eeeeee"))
    view.setPalette(palette)
    check_regions(view)
    assert set(files_blocks(view)) == {3}
    assert view.message_text(2).endswith("Done.")


def test_a_click_opens_an_image_at_full_size_and_a_text_read_only(
    view: ChatView, files: AttachmentService, tmp_path: Path, qtbot: QtBot
) -> None:
    image = attach(files, png(tmp_path / "big.png", 900, 700))
    log = tmp_path / "run.log"
    log.write_text("line one\nline two\n", encoding="utf-8")
    text = attach(files, log)
    view.load_transcript([Message(1, 1, Role.USER, "see", S.COMPLETE, attachments=(image, text))])
    assert file_href(1, 1) in anchors(view)
    actions = view.file_actions
    assert actions is not None
    click_anchor(qtbot, view, file_href(1, 1))
    qtbot.waitUntil(lambda: bool(actions.viewers), timeout=WAIT)
    viewer: FileViewer = actions.viewers[-1]
    assert viewer.attachment == text and not viewer.isModal()
    qtbot.waitUntil(lambda: viewer.loaded, timeout=WAIT)
    assert viewer.text.toPlainText() == "line one\nline two\n"
    assert viewer.text.isReadOnly()
    viewer.close()
    picture = view.open_file(1, 0)
    assert picture is not None
    qtbot.waitUntil(lambda: picture.loaded, timeout=WAIT)
    canvas = picture.image_area.widget()
    assert canvas is not None and canvas.size().width() == 900 and canvas.size().height() == 700
    picture.close()


def test_save_as_copies_the_file_and_a_missing_file_is_said(
    view: ChatView, files: AttachmentService, tmp_path: Path, qtbot: QtBot
) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    attachment = attach(files, source)
    view.load_transcript([Message(1, 1, Role.USER, "", S.COMPLETE, attachments=(attachment,))])
    actions = view.file_actions
    assert actions is not None
    target = tmp_path / "out" / "copy.csv"
    target.parent.mkdir()
    actions.choose_save_path = lambda parent, name: target  # type: ignore[method-assign]
    errors: list[str] = []
    view.error_raised.connect(errors.append)
    # The context menu on the file offers Open and Save as….
    position = anchors(view)[file_href(1, 0)][0]
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    point = view.browser.cursorRect(cursor).center()
    menu = view.context_menu(point)
    labels = [action.text() for action in menu.actions()]
    assert labels[:2] == ["Open “data.csv”", "Save as…"]
    menu.actions()[1].trigger()
    qtbot.waitUntil(target.exists, timeout=WAIT)
    assert target.read_text(encoding="utf-8") == "a,b\n1,2\n"
    gone = Attachment("0" * 64, "gone.txt", "text/plain", AttachmentKind.TEXT, 3)
    view.add_message(Message(2, 1, Role.USER, "", S.COMPLETE, attachments=(gone,)))
    view.save_file(2, 0)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT)
    assert errors == [
        "Could not save “gone.txt”: This file is no longer in Sidestream's data folder."
    ]
