"""The composer's files (issue 17): the paperclip and Ctrl+U, paste of an image
or of copied files, chips ("reading…", thumbnail, name, size, ×), the limits
and refusals said above the box, Send with files only, an edit that brings
its files back, and the draft's files kept meanwhile.

A real Composer on the real AttachmentService over a real store in tmp_path;
keys and pastes go through QTest and the application's clipboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QByteArray, QMimeData, Qt, QUrl
from PySide6.QtGui import QColor, QGuiApplication, QImage, QImageWriter
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop.attachments import MAX_FILES
from desktop.core.models import Attachment
from desktop.services.attachments import AttachmentService
from desktop.store import Store
from desktop.ui.attachment_chips import READING, AttachmentChip
from desktop.ui.composer import ATTACH_TOOLTIP, Composer

WAIT = 10_000


def show_active(qtbot: QtBot, widget: QWidget) -> None:
    with qtbot.waitActive(widget, timeout=5000):
        widget.show()
        widget.activateWindow()


def png(path: Path, width: int = 64, height: int = 48, color: str = "#20a040") -> Path:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert QImageWriter(str(path), QByteArray(b"png")).write(image)
    return path


def text_file(path: Path, text: str = "hello\n") -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def files(qloop: qasync.QEventLoop, store: Store) -> AttachmentService:
    return AttachmentService(store)


@pytest.fixture
def composer(qtbot: QtBot, files: AttachmentService) -> Iterator[Composer]:
    widget = Composer(attachments=files)
    qtbot.addWidget(widget)
    widget.resize(600, 240)
    show_active(qtbot, widget)
    widget.focus_input()
    yield widget
    widget.tray.cancel()


def chips(composer: Composer) -> list[AttachmentChip]:
    return composer.tray.row.chips()


def names(composer: Composer) -> list[str]:
    return [chip.name for chip in chips(composer)]


def wait_read(qtbot: QtBot, composer: Composer) -> None:
    qtbot.waitUntil(lambda: not composer.tray.busy, timeout=WAIT)


def test_no_service_no_paperclip(qtbot: QtBot) -> None:
    plain = Composer()
    qtbot.addWidget(plain)
    plain.show()
    assert plain.attach_button.isHidden() and not plain.attach_action.isEnabled()
    assert not plain.input.accepts_files


def test_paperclip_and_ctrl_u_pick_files_shown_reading_then_read(
    composer: Composer, qtbot: QtBot, tmp_path: Path
) -> None:
    assert composer.attach_button.isVisible()
    assert composer.attach_button.toolTip() == ATTACH_TOOLTIP
    assert not composer.attach_button.icon().isNull()
    picked = [png(tmp_path / "chart.png"), text_file(tmp_path / "notes.md", "# N\n")]
    asked: list[int] = []

    def choose() -> list[Path]:
        asked.append(1)
        return picked

    composer.choose_files = choose  # type: ignore[method-assign]
    qtbot.keyClick(composer.input, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    assert asked == [1]
    # At once: a chip per file, "reading…", and nothing can be sent yet.
    assert names(composer) == ["chart.png", "notes.md"]
    assert all(chip.reading and chip.size_label.text() == READING for chip in chips(composer))
    assert not composer.button.isEnabled()
    wait_read(qtbot, composer)
    chart_size = (tmp_path / "chart.png").stat().st_size
    assert [c.size_label.text() for c in chips(composer)] == [f"{chart_size} bytes", "4 bytes"]
    assert composer.button.isEnabled()  # files and no text: Send is on
    assert composer.input.hasFocus()
    # The image's chip gets its thumbnail (made in a worker thread).
    chart = chips(composer)[0]
    qtbot.waitUntil(
        lambda: chart.open_button.icon().pixmap(36, 36).toImage().pixelColor(18, 18).green() > 120,
        timeout=WAIT,
    )
    composer.attach_button.click()
    assert asked == [1, 1]
    # The same files again: each is attached already.
    wait_read(qtbot, composer)
    assert names(composer) == ["chart.png", "notes.md"]
    assert "“chart.png” is attached already." in composer.tray.message_text()


def test_ctrl_v_attaches_an_image_and_copied_files_text_stays_text(
    composer: Composer, qtbot: QtBot, tmp_path: Path
) -> None:
    clipboard = QGuiApplication.clipboard()
    image = QImage(120, 80, QImage.Format.Format_RGB32)
    image.fill(QColor("#d04020"))
    clipboard.setImage(image)
    qtbot.keyClick(composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_read(qtbot, composer)
    assert names(composer) == ["Pasted image.png"]
    pasted = composer.attachments()[0]
    assert pasted.mime == "image/png" and pasted.name == "Pasted image.png"
    assert composer.text() == ""
    qtbot.keyClick(composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_read(qtbot, composer)  # the same picture: attached already, said so
    assert names(composer) == ["Pasted image.png"]
    other = QImage(image)
    other.fill(QColor("#2040d0"))
    clipboard.setImage(other)
    qtbot.keyClick(composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_read(qtbot, composer)
    assert names(composer) == ["Pasted image.png", "Pasted image 2.png"]
    # Files copied in a file manager: attached as files.
    copied = QMimeData()
    copied.setUrls([QUrl.fromLocalFile(str(text_file(tmp_path / "copied.txt")))])
    copied.setText(str(tmp_path / "copied.txt"))
    clipboard.setMimeData(copied)
    qtbot.keyClick(composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_read(qtbot, composer)
    assert names(composer)[-1] == "copied.txt"
    assert composer.text() == ""
    # Text pastes as text, even with a picture of it (as office suites copy cells).
    cells = QMimeData()
    cells.setText("a\tb")
    cells.setImageData(image)
    clipboard.setMimeData(cells)
    qtbot.keyClick(composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert composer.text() == "a\tb"
    composer.clear()
    clipboard.setText("just words")
    qtbot.keyClick(composer.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert composer.text() == "just words"
    assert len(chips(composer)) == 3


def test_enter_sends_files_alone_and_the_chips_go_with_them(
    composer: Composer, qtbot: QtBot, tmp_path: Path
) -> None:
    composer.attach_paths([text_file(tmp_path / "a.txt")])
    # While it is read, Enter sends nothing and says why.
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert "Wait until the files are read" in composer.tray.message_text()
    wait_read(qtbot, composer)
    taken: list[tuple[str, tuple[Attachment, ...]]] = []
    composer.send_requested.connect(lambda text: taken.append((text, composer.take_attachments())))
    qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert len(taken) == 1 and taken[0][0] == ""
    assert [a.name for a in taken[0][1]] == ["a.txt"]
    assert chips(composer) == [] and composer.tray.row.isHidden()
    assert not composer.button.isEnabled()
    # A send that failed gives them back.
    composer.give_back(taken[0][1])
    assert names(composer) == ["a.txt"]


def test_the_x_removes_a_file_by_keyboard_too(
    composer: Composer, qtbot: QtBot, tmp_path: Path
) -> None:
    composer.attach_paths([text_file(tmp_path / "one.txt"), text_file(tmp_path / "two.txt", "2")])
    wait_read(qtbot, composer)
    first = chips(composer)[0]
    assert first.remove_button.accessibleName() == "Remove one.txt"
    first.remove_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(first.remove_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: names(composer) == ["two.txt"], timeout=WAIT)
    # The focus moves to the next chip's ×, then back to the box with the last.
    second = chips(composer)[0]
    assert second.remove_button.hasFocus()
    qtbot.keyClick(second.remove_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: names(composer) == [], timeout=WAIT)
    assert composer.input.hasFocus()
    # Tab order: the chips (above the box), the paperclip, the box, Send.
    composer.attach_paths([text_file(tmp_path / "four.txt", "4")])
    wait_read(qtbot, composer)
    composer.focus_input()
    qtbot.keyClick(composer.input, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert composer.attach_button.hasFocus()
    qtbot.keyClick(composer.attach_button, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert chips(composer)[0].remove_button.hasFocus()
    qtbot.keyClick(chips(composer)[0].remove_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: names(composer) == [], timeout=WAIT)
    # Delete on a chip's name removes it as well.
    composer.attach_paths([text_file(tmp_path / "three.txt", "3")])
    wait_read(qtbot, composer)
    chips(composer)[0].open_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(chips(composer)[0].open_button, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: names(composer) == [], timeout=WAIT)


def test_limits_and_refusals_are_said_and_nothing_is_attached(
    composer: Composer, qtbot: QtBot, tmp_path: Path
) -> None:
    many = [text_file(tmp_path / f"f{i}.txt", f"file {i}\n") for i in range(MAX_FILES + 1)]
    composer.attach_paths(many)
    assert chips(composer) == []
    assert composer.tray.message_text() == (
        f"A message can carry at most {MAX_FILES} files; {MAX_FILES + 1} files were chosen."
        " Nothing was attached."
    )
    composer.attach_paths(many[:8])
    wait_read(qtbot, composer)
    assert composer.tray.message_text() == ""  # a new batch clears the last one's message
    composer.attach_paths(many[8:])
    assert len(chips(composer)) == 8
    assert "it has 8, and 3 files more would make 11" in composer.tray.message_text()
    composer.tray.clear()
    binary = tmp_path / "program.bin"
    binary.write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    composer.attach_paths([binary, latin, text_file(tmp_path / "fine.txt")])
    wait_read(qtbot, composer)
    assert names(composer) == ["fine.txt"]
    message = composer.tray.message_text()
    assert "“program.bin” is not a text file, an image (PNG, JPEG, WebP, GIF) or a PDF" in message
    assert "“latin.txt” is not UTF-8 text (line 1 has a byte that is not UTF-8: 0xe9)" in message
    composer.tray.dismiss_button.click()
    assert composer.tray.message_text() == ""


def test_files_together_over_the_message_limit(
    composer: Composer, qtbot: QtBot, tmp_path: Path
) -> None:
    big = []
    for i in range(3):
        path = tmp_path / f"big{i}.log"
        path.write_bytes(f"log {i}\n".encode() + b"x" * (20 * 1024 * 1024))
        big.append(path)
    composer.attach_paths(big)
    wait_read(qtbot, composer)
    assert len(chips(composer)) == 2
    assert "a message can carry at most 50.0 MB of files" in composer.tray.message_text()


def test_an_edit_brings_its_files_back_and_the_draft_keeps_its_own(
    composer: Composer, qtbot: QtBot, tmp_path: Path, files: AttachmentService
) -> None:
    from tests.support.aio import run_on_qloop

    sent_image = run_on_qloop(files.attach_path(png(tmp_path / "sent.png")))
    sent_text = run_on_qloop(files.attach_path(text_file(tmp_path / "sent.txt")))
    qtbot.keyClicks(composer.input, "my draft")
    composer.attach_paths([text_file(tmp_path / "draft.txt", "draft")])  # still being read
    composer.begin_edit(5, "the question", (sent_image, sent_text))
    assert names(composer) == ["sent.png", "sent.txt"]
    assert not any(chip.reading for chip in chips(composer))
    # Remove the image, add a file, resend: the edit carries exactly those.
    chips(composer)[0].remove_button.click()
    composer.attach_paths([text_file(tmp_path / "extra.txt", "extra")])
    wait_read(qtbot, composer)
    with qtbot.waitSignal(composer.edit_submitted) as sent:
        qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    message_id, text, carried = sent.args
    assert (message_id, text) == (5, "the question")
    assert [a.name for a in carried] == ["sent.txt", "extra.txt"]
    # The draft is back, its file read meanwhile.
    assert composer.text() == "my draft"
    wait_read(qtbot, composer)
    assert names(composer) == ["draft.txt"]
    # Cancelling an edit gives the draft back too.
    composer.begin_edit(5, "again", (sent_image,))
    assert names(composer) == ["sent.png"]
    composer.cancel_edit()
    assert names(composer) == ["draft.txt"] and composer.text() == "my draft"
    # An edit whose text is emptied still sends with its files.
    composer.begin_edit(5, "x", (sent_image,))
    composer.input.clear()
    assert composer.button.isEnabled()
    with qtbot.waitSignal(composer.edit_submitted) as sent:
        composer.button.click()
    assert sent.args[1] == "" and [a.name for a in sent.args[2]] == ["sent.png"]
