"""Attaching in the real window, from other applications (issue 17).

Xvfb, a private D-Bus with dunst and Sidestream as its own process (the
frozen build when it is up to date, else the source), as in
``test_keyboard.py``. Another X client (``tests/e2e/x_client.py``) owns the
clipboard with an image, then offers a file to drag: what Sidestream gets
comes through the X server (the CLIPBOARD selection; the XDND protocol), as
from an image viewer or a file manager. xdotool presses the keys and moves
the pointer through XTEST. What was sent is read back from outside with
``sidestream export``: each message's files, and the demo's reply, whose
first line names what reached it.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_keyboard import Keyboard
from tests.support.desktop_session import (
    PACKAGES,
    DesktopSession,
    desktop_session,
    missing_tools,
    wait_until,
)
from tests.support.files import png
from tests.support.frozen import ROOT, app_command

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts" / "e2e" / "attach"
WAIT = 30.0
SCREEN = (1280, 800)  # desktop_session's Xvfb


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[DesktopSession]:
    missing = missing_tools() + [t for t in ("import",) if shutil.which(t) is None]
    if missing:  # CI installs them (packaging/dev.sh): a machine without them must not pass
        pytest.fail(
            f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES} imagemagick"
        )
    with desktop_session(tmp_path / "desktop") as session:
        yield session


class Other:
    """Another application on the desktop (``tests.e2e.x_client``)."""

    def __init__(self, desktop: DesktopSession, name: str, *args: str) -> None:
        self.log = desktop.workdir / f"{name}.log"
        self.proc = desktop.start(
            [sys.executable, "-m", "tests.e2e.x_client", *args],
            self.log.name,
            QT_QPA_PLATFORM="xcb",
            PYTHONPATH=str(ROOT),
        )
        wait_until(lambda: "ready" in self.said(), WAIT, f"the {name} client to be ready")

    def said(self) -> str:
        assert self.proc.poll() is None, self.log.read_text(errors="replace")
        return self.log.read_text(errors="replace")


def screenshot(app: Keyboard, name: str) -> None:
    app.desktop.run("import", "-window", "root", str(ARTIFACTS / f"{name}.png"), timeout=WAIT)


def sent(app: Keyboard, title: str) -> list[dict[str, Any]]:
    """The messages of the chat named ``title`` (none until it is sent)."""
    for chat in app.chats():
        if chat["title"] == title:
            return list(chat["messages"])
    return []


def send(app: Keyboard, text: str) -> list[dict[str, Any]]:
    """Type ``text`` and Enter until the message is sent (Enter waits while a
    file is still being read), then wait for the reply to finish."""
    app.type(text)

    def went() -> bool:
        if sent(app, text):
            return True
        app.key("Return")
        return bool(sent(app, text))

    wait_until(went, WAIT, f"the message {text!r} to be sent")
    wait_until(lambda: sent(app, text)[-1]["status"] == "complete", WAIT, f"the reply to {text!r}")
    return sent(app, text)


def test_an_image_pasted_and_a_file_dropped_from_other_applications(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    image = tmp_path / "photo.png"
    image.write_bytes(png(64, 48, seed=9))
    notes = tmp_path / "notes.txt"
    notes.write_text("line one\nline two\nline three\n")
    command, kind = app_command()
    sys.stdout.write(f"\nthe app under test: {kind}\n")
    app = Keyboard(desktop, tmp_path / "data", command)
    try:
        app.focus()
        app.wait_for_title("New chat")

        # Paste: an image viewer put a picture on the clipboard.
        Other(desktop, "clipboard", "clipboard", str(image))
        app.focus()
        app.key("ctrl+v")
        messages = send(app, "what is in this picture")
        screenshot(app, "01-pasted-and-sent")
        (files,) = (m["attachments"] for m in messages if m["role"] == "user")
        assert [(f["name"], f["mime"], f["kind"]) for f in files] == [
            ("Pasted image.png", "image/png", "image")
        ]
        reply = messages[-1]["content"].splitlines()[0]
        assert reply.startswith("You attached 1 file: an image (PNG"), reply

        # Drop: a file manager's icon dragged onto the chat.
        app.key("ctrl+t")
        app.wait_for_title("New chat")
        source = Other(
            desktop, "drag", "drag", str(notes), str(SCREEN[0] - 150), str(SCREEN[1] - 110)
        )
        start_x, start_y = SCREEN[0] - 80, SCREEN[1] - 60
        moves: list[str] = ["mousemove", "--sync", str(start_x), str(start_y), "mousedown", "1"]
        for step in range(1, 11):  # to the middle of the transcript, as a hand would
            x = start_x + (400 - start_x) * step // 10
            y = start_y + (300 - start_y) * step // 10
            moves += ["mousemove", "--sync", str(x), str(y)]
        desktop.run("xdotool", *moves, timeout=WAIT)
        screenshot(app, "02-dragging")
        desktop.run("xdotool", "mouseup", "1", timeout=WAIT)
        wait_until(lambda: "dropped" in source.said(), WAIT, "the drop to end")
        assert "dropped 1" in source.said(), source.said()  # accepted, as a copy
        app.focus()
        messages = send(app, "summarise these notes")
        screenshot(app, "03-dropped-and-sent")
        (files,) = (m["attachments"] for m in messages if m["role"] == "user")
        assert [(f["name"], f["kind"]) for f in files] == [("notes.txt", "text")]
        reply = messages[-1]["content"].splitlines()[0]
        assert reply == "You attached 1 file: notes.txt (text, 3 lines).", reply

        app.key("ctrl+q")  # nothing streams: it quits at once
        assert app.proc.wait(timeout=WAIT) == 0, app.output()
    except BaseException:
        with contextlib.suppress(Exception):
            screenshot(app, "99-failure")
        raise
    finally:
        shutil.copy(app.log, ARTIFACTS / "app.log")
