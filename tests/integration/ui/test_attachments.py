"""Attachments in the real window on real services (issue 17): the store in
tmp_path, the demo server on loopback, the AttachmentService reading files in
worker threads.

Paste an image (the real clipboard, Ctrl+V through QTest) and send it; drop
files on the chat (real QDragEnterEvent/QDropEvent with URLs); refusals and
limits said in the composer with nothing attached; a model that refuses
images, then an edit without the image that gets a reply; and a reply that
keeps streaming in one chat while a 20 MB image is attached in another, with
a 5 ms heartbeat on the GUI thread to show nothing of it runs there.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QImageWriter,
    QPixmap,
    QTextDocument,
)
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from desktop.attachments import MAX_FILES
from desktop.core.models import AttachmentKind
from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.dialects import TEXT_ONLY_MODEL
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.ui.attachment_chips import AttachmentChip
from desktop.ui.chat_tab import ChatTab
from desktop.ui.main_window import MainWindow
from desktop.ui.render.attachments import image_url
from desktop.ui.render.document import BLOCK_KIND, BLOCK_MESSAGE, BlockKind

WAIT = 20_000
HEARTBEAT_MS = 5
STALL_BOUND_MS = 100.0  # loose on purpose: the point is no 20 MB of work on the GUI thread


# ------------------------------------------------------------------ helpers


def new_tab(window: MainWindow) -> ChatTab:
    tab = window.new_chat()
    assert tab is not None
    tab.composer.focus_input()
    return tab


def chips(tab: ChatTab) -> list[AttachmentChip]:
    return tab.composer.tray.row.chips()


def names(tab: ChatTab) -> list[str]:
    return [chip.name for chip in chips(tab)]


def wait_read(qtbot: QtBot, tab: ChatTab) -> None:
    qtbot.waitUntil(lambda: not tab.composer.tray.busy, timeout=WAIT)


def png(path: Path, color: str, width: int = 240, height: int = 160) -> Path:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert QImageWriter(str(path), QByteArray(b"png")).write(image)
    return path


def file_urls(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    mime.setText("\n".join(str(path) for path in paths))
    return mime


def drop(target: QWidget, mime: QMimeData) -> None:
    """A drag that enters ``target`` and drops there, as Qt delivers them."""
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        QPoint(10, 10), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    dropped = QDropEvent(
        QPointF(10, 10), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, dropped)
    assert dropped.isAccepted()


def reply_of(services: Services, tab: ChatTab) -> int:
    path = services.chat.messages(tab.session_id)
    assert path[-1].role is Role.ASSISTANT
    return path[-1].id


def files_line(tab: ChatTab, message_id: int) -> str | None:
    block = tab.view.document().begin()
    while block.isValid():
        fmt = block.blockFormat()
        if (
            fmt.property(BLOCK_KIND) == BlockKind.FILES
            and fmt.property(BLOCK_MESSAGE) == message_id
        ):
            return block.text()
        block = block.next()
    return None


def tile_centre(tab: ChatTab, url: str) -> QColor:
    shown = tab.view.document().resource(QTextDocument.ResourceType.ImageResource.value, QUrl(url))
    assert isinstance(shown, QPixmap)
    image = shown.toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


# -------------------------------------------------------------------- tests


def test_paste_an_image_and_send_it(qtbot: QtBot, window: MainWindow, services: Services) -> None:
    tab = new_tab(window)
    picture = QImage(200, 150, QImage.Format.Format_RGB32)
    picture.fill(QColor("#1060e0"))
    QGuiApplication.clipboard().setImage(picture)
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert names(tab) == ["Pasted image.png"]
    wait_read(qtbot, tab)
    chip = chips(tab)[0]
    # The chip's thumbnail, scaled in a worker thread: the picture's blue.
    qtbot.waitUntil(
        lambda: chip.open_button.icon().pixmap(36, 36).toImage().pixelColor(18, 18).blue() > 200,
        timeout=WAIT,
    )
    qtbot.keyClicks(tab.composer.input, "What is in this picture?")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    assert chips(tab) == []  # the file went with the message
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 2, timeout=WAIT)
    question, answer = tab.view.message_ids()

    stored = services.chat.message(question)
    assert stored is not None and stored.content == "What is in this picture?"
    assert [(a.name, a.mime, a.kind) for a in stored.attachments] == [
        ("Pasted image.png", "image/png", AttachmentKind.IMAGE)
    ]
    assert services.attachments.path(stored.attachments[0]) is not None
    # The transcript shows it: its line under the header, the thumbnail drawn.
    assert files_line(tab, question) is not None
    url = image_url(stored.attachments[0])
    qtbot.waitUntil(lambda: tile_centre(tab, url).blue() > 200, timeout=WAIT)
    assert tab.view.blocked_resources == []
    # The model got it: the demo names what was attached in its first line.
    qtbot.waitUntil(
        lambda: (
            services.chat.message(answer) is not None
            and services.chat.message(answer).status is MessageStatus.COMPLETE
        ),  # type: ignore[union-attr]
        timeout=WAIT,
    )
    reply = services.chat.message(answer)
    assert reply is not None
    assert reply.content.splitlines()[0].startswith("You attached 1 file: an image (PNG")


def test_drop_files_on_the_transcript_and_on_the_composer(
    qtbot: QtBot, window: MainWindow, services: Services, tmp_path: Path
) -> None:
    tab = new_tab(window)
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\n- one\n- two\n", encoding="utf-8")
    chart = png(tmp_path / "chart.png", "#30b050")
    viewport = tab.view.browser.viewport()
    # While files are dragged over the chat, the hint covers it; leaving hides it.
    dragged = file_urls(notes)  # held: the event does not keep it alive
    enter = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        dragged,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted() and tab.drop_hint.isVisible()
    assert tab.drop_hint.geometry() == tab.rect()
    QApplication.sendEvent(tab.drop_hint, QDragLeaveEvent())
    assert not tab.drop_hint.isVisible()
    # Plain text dragged is not the tab's: no hint.
    words = QMimeData()
    words.setText("some words")
    text_drag = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        words,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, text_drag)
    assert not tab.drop_hint.isVisible()

    drop(viewport, file_urls(notes, chart))
    assert not tab.drop_hint.isVisible()
    assert names(tab) == ["notes.md", "chart.png"]
    wait_read(qtbot, tab)
    assert [a.kind for a in tab.composer.attachments()] == [
        AttachmentKind.TEXT,
        AttachmentKind.IMAGE,
    ]
    # Dropped on the text box, a file is attached too (its path is not typed in).
    extra = tmp_path / "data.csv"
    extra.write_text("a,b\n1,2\n", encoding="utf-8")
    drop(tab.composer.input.viewport(), file_urls(extra))
    wait_read(qtbot, tab)
    assert names(tab) == ["notes.md", "chart.png", "data.csv"]
    assert tab.composer.text() == ""
    assert tab.composer.input.hasFocus()
    # Sent without a word: the files are the message.
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 2, timeout=WAIT)
    question = tab.view.message_ids()[0]
    stored = services.chat.message(question)
    assert stored is not None and stored.content == ""
    assert [a.name for a in stored.attachments] == ["notes.md", "chart.png", "data.csv"]
    line = files_line(tab, question)
    assert line is not None and "notes.md" in line and "data.csv" in line
    session = services.chat.chat(tab.session_id)
    assert session is not None and session.title == "notes.md"  # named after the first file
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)


def test_unsupported_files_and_limits_are_said_and_nothing_is_attached(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    tab = new_tab(window)
    binary = tmp_path / "tool.exe"
    binary.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" * 64)
    latin = tmp_path / "old.txt"
    latin.write_bytes("na\u00efve r\u00e9sum\u00e9\n".encode("latin-1"))
    tab.composer.choose_files = lambda: [binary, latin]  # type: ignore[method-assign]
    # Ctrl+U picks files wherever the focus is in the chat (here, the transcript).
    tab.view.browser.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.keyClick(tab.view.browser, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    assert tab.composer.input.hasFocus()
    wait_read(qtbot, tab)
    assert names(tab) == [] and tab.composer.attachments() == ()
    message = tab.composer.tray.message_text()
    assert tab.composer.tray.message.isVisible()
    assert (
        "“tool.exe” is not a text file, an image (PNG, JPEG, WebP, GIF) or a PDF,"
        " so it cannot be sent to a model." in message
    )
    assert (
        "“old.txt” is not UTF-8 text (line 1 has a byte that is not UTF-8: 0xef)."
        " Save it as UTF-8 and attach it again." in message
    )
    assert not tab.composer.button.isEnabled()
    # Eleven files: refused before any is read.
    many = []
    for index in range(MAX_FILES + 1):
        path = tmp_path / f"part{index}.txt"
        path.write_text(f"part {index}\n", encoding="utf-8")
        many.append(path)
    drop(tab.view.browser.viewport(), file_urls(*many))
    assert names(tab) == []
    assert tab.composer.tray.message_text() == (
        f"A message can carry at most {MAX_FILES} files; {MAX_FILES + 1} files were chosen."
        " Nothing was attached."
    )


def test_a_model_that_refuses_images_then_an_edit_without_the_image(
    qtbot: QtBot, window: MainWindow, services: Services, tmp_path: Path
) -> None:
    tab = new_tab(window)
    session = services.chat.chat(tab.session_id)
    assert session is not None and session.provider_id is not None
    services.chat.set_chat_model(tab.session_id, session.provider_id, TEXT_ONLY_MODEL)
    photo = png(tmp_path / "photo.png", "#c04040")
    notes = tmp_path / "notes.txt"
    notes.write_text("the numbers: 1, 2, 3\n", encoding="utf-8")
    tab.composer.attach_paths([photo, notes])
    wait_read(qtbot, tab)
    qtbot.keyClicks(tab.composer.input, "Summarise these")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(tab.view.message_ids()) == 2, timeout=WAIT)
    question, refused = tab.view.message_ids()

    def status(message_id: int) -> MessageStatus | None:
        message = services.chat.message(message_id)
        return None if message is None else message.status

    qtbot.waitUntil(lambda: status(refused) is MessageStatus.FAILED, timeout=WAIT)
    # The provider's own words are shown under the failed reply.
    wanted = (
        f"{TEXT_ONLY_MODEL} does not accept images: remove the image,"
        " or pick a model that reads images."
    )
    qtbot.waitUntil(lambda: wanted in tab.view.document().toPlainText(), timeout=WAIT)
    failed = services.chat.message(refused)
    assert failed is not None and failed.error is not None and wanted in failed.error

    # Edit brings the message back with its chips; the image goes, the text stays.
    tab.view.edit_requested.emit(question)
    assert tab.composer.editing == question
    assert tab.composer.text() == "Summarise these"
    assert names(tab) == ["photo.png", "notes.txt"]
    chips(tab)[0].remove_button.click()
    assert names(tab) == ["notes.txt"]
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: len(tab.view.message_ids()) == 2 and question not in tab.view.message_ids(),
        timeout=WAIT,
    )
    edited, answer = tab.view.message_ids()
    qtbot.waitUntil(lambda: status(answer) is MessageStatus.COMPLETE, timeout=WAIT)
    reply = services.chat.message(answer)
    assert reply is not None
    assert reply.content.splitlines()[0] == "You attached 1 file: notes.txt (text, 1 line)."
    new_version = services.chat.message(edited)
    original = services.chat.message(question)
    assert new_version is not None and original is not None
    assert [a.name for a in new_version.attachments] == ["notes.txt"]
    assert [a.name for a in original.attachments] == ["photo.png", "notes.txt"]  # kept
    assert names(tab) == [] and tab.composer.editing is None


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20 MB PNG of noise (stored uncompressed: made in a fraction of a second)."""
    side = 2580  # 2580 x 2580 RGB: 20.0 MB
    image = QImage(os.urandom(side * side * 3), side, side, side * 3, QImage.Format.Format_RGB888)
    path = tmp_path_factory.mktemp("big") / "photo-20mb.png"
    writer = QImageWriter(str(path), QByteArray(b"png"))
    writer.setCompression(0)
    assert writer.write(image.copy())
    assert 19_500_000 < path.stat().st_size < 25 * 1024 * 1024
    return path


def test_a_reply_streams_in_one_chat_while_20_mb_are_attached_in_another(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer, big_png: Path
) -> None:
    demo.defaults = DemoOptions(rate=400, tokens=8000)
    a = new_tab(window)
    qtbot.keyClicks(a.composer.input, "Tell me a long story")
    qtbot.keyClick(a.composer.input, Qt.Key.Key_Return)

    def streamed() -> int:
        snapshot = services.manager.snapshot(a.session_id)
        return 0 if snapshot is None else len(snapshot.text)

    qtbot.waitUntil(lambda: streamed() > 200, timeout=WAIT)
    b = new_tab(window)  # on screen now; A streams in the background
    assert window.current_tab() is b and services.manager.is_live(a.session_id)

    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    qtbot.waitUntil(lambda: len(beats) >= 5, timeout=WAIT)  # the heartbeat runs
    before = streamed()
    started = time.perf_counter()
    b.composer.attach_paths([big_png])
    grew_in_flight: list[int] = []

    def attached() -> bool:
        if b.composer.tray.busy:
            grew_in_flight.append(streamed())
            return False
        return True

    qtbot.waitUntil(attached, timeout=WAIT)
    attach_seconds = time.perf_counter() - started
    during = streamed()
    # And its thumbnail, decoded and scaled in a worker thread too.
    chip = chips(b)[0]
    qtbot.waitUntil(lambda: chip.has_thumbnail, timeout=WAIT)
    heartbeat.stop()
    total_seconds = time.perf_counter() - started

    gaps = [(later - earlier) * 1000 for earlier, later in itertools.pairwise(beats)]
    lateness = max(gap - HEARTBEAT_MS for gap in gaps)
    print(
        f"\nattach of {big_png.stat().st_size / 1e6:.1f} MB: {attach_seconds * 1000:.0f} ms"
        f" (with its thumbnail {total_seconds * 1000:.0f} ms); reply in A grew"
        f" {before} -> {during} characters meanwhile; heartbeat max lateness"
        f" {lateness:.1f} ms over {len(gaps)} beats"
    )
    assert [a.kind for a in b.composer.attachments()] == [AttachmentKind.IMAGE]
    assert during > before, "the reply in chat A received no text while the file was attached"
    assert lateness < STALL_BOUND_MS
    services.manager.stop(a.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(a.session_id), timeout=WAIT)


def test_a_send_that_fails_gives_the_words_and_the_files_back(
    qtbot: QtBot, window: MainWindow, services: Services, demo: DemoServer, tmp_path: Path
) -> None:
    demo.defaults = DemoOptions(rate=100, tokens=4000)
    tab = new_tab(window)
    qtbot.keyClicks(tab.composer.input, "A long story, please")
    qtbot.keyClick(tab.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: services.manager.is_live(tab.session_id), timeout=WAIT)
    tab.composer.attach_paths([png(tmp_path / "later.png", "#808080")])
    wait_read(qtbot, tab)
    errors: list[str] = []
    tab.error_raised.connect(errors.append)
    # The chat still streams: the service refuses a second message.
    tab.composer.send_requested.emit("and another thing")
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT)
    assert errors == ["A reply is still streaming in this chat: stop it first."]
    assert tab.composer.text() == "and another thing"
    assert names(tab) == ["later.png"]
    assert [a.name for a in tab.composer.attachments()] == ["later.png"]
    services.manager.stop(tab.session_id)
    qtbot.waitUntil(lambda: not services.manager.is_live(tab.session_id), timeout=WAIT)
