"""Notifications end to end: the app as a process on Xvfb, a private D-Bus and dunst.

The app runs on the demo provider with short, quick replies
(``SIDESTREAM_DEMO_OPTIONS``). It is driven from outside with xdotool and read
from outside: the ``Notify`` calls dbus-monitor saw, dunst's own count, the
window title (``Sidestream — <chat title>``), ``sidestream export`` and the
store's unread flags (read-only).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.ui.notifications import DesktopNotifier
from tests.support.desktop_session import (
    PACKAGES,
    DesktopSession,
    desktop_session,
    missing_tools,
    wait_until,
)

pytestmark = pytest.mark.e2e

DEMO_OPTIONS = "rate=40;tokens=80"  # about two seconds per reply
WAIT = 20.0


class App:
    """The app process on a desktop session, and ways to drive and read it."""

    def __init__(
        self, desktop: DesktopSession, data_dir: Path, demo_options: str = DEMO_OPTIONS
    ) -> None:
        self.desktop = desktop
        self.data_dir = data_dir
        self.log = desktop.workdir / "app.log"
        self.proc = desktop.start(
            [
                sys.executable,
                "-m",
                "desktop",
                "--data-dir",
                str(data_dir),
                "--demo",
                "--log-level",
                "INFO",
            ],
            "app.log",
            QT_QPA_PLATFORM="xcb",
            SIDESTREAM_DEMO_OPTIONS=demo_options,
        )
        self.window = ""
        wait_until(lambda: self._find_window() or not self.alive(), WAIT, "the app's window")
        assert self.alive(), f"the app exited:\n{self.output()}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def _find_window(self) -> bool:
        found = self.find("^Sidestream")
        if found:
            self.window = found
            return True
        return False

    def find(self, name: str) -> str | None:
        """A visible window whose title matches ``name`` (a regular expression)."""
        found = self.desktop.run("xdotool", "search", "--onlyvisible", "--name", name, check=False)
        return found.split()[0] if found.split() else None

    def title(self) -> str:
        return self.desktop.run("xdotool", "getwindowname", self.window).strip()

    def focus(self, window: str | None = None) -> None:
        """Give a window the keyboard focus (no window manager runs to do it)."""
        target = window or self.window
        self.desktop.run("xdotool", "windowfocus", "--sync", target)
        wait_until(
            lambda: self.desktop.run("xdotool", "getwindowfocus").strip() == target,
            WAIT,
            f"the keyboard focus on window {target}",
        )

    def key(self, *keys: str) -> None:
        # Through XTEST to the focused window, as a keyboard types. Sent with
        # --window (XSendEvent) and --clearmodifiers, a Ctrl was now and then
        # left held in Qt's view: the quit question then took Alt+S as
        # Ctrl+Alt+S and ignored it, however often it was pressed.
        self.desktop.run("xdotool", "key", "--delay", "30", *keys)

    def type(self, text: str) -> None:
        self.desktop.run("xdotool", "type", "--delay", "5", text)

    def export(self) -> list[dict[str, Any]]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "desktop",
                "export",
                "--data-dir",
                str(self.data_dir),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        chats: list[dict[str, Any]] = json.loads(done.stdout)["chats"]
        return chats

    def reply_status(self, title: str) -> str | None:
        for chat in self.export():
            if chat["title"] == title:
                replies = [m for m in chat["messages"] if m["role"] == "assistant"]
                return str(replies[-1]["status"]) if replies else None
        return None

    def unread(self, title: str) -> bool:
        uri = f"file:{self.data_dir / 'sidestream.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=5) as db:
            row = db.execute("SELECT unread FROM sessions WHERE title = ?", (title,)).fetchone()
        assert row is not None, f"no chat titled {title!r}"
        return bool(row[0])


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[DesktopSession]:
    missing = missing_tools()
    if missing:
        # CI installs them (packaging/dev.sh): a machine without them must not pass quietly.
        pytest.fail(f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES}")
    with desktop_session(tmp_path / "desktop") as session:
        yield session


@pytest.fixture
def app(desktop: DesktopSession, tmp_path: Path) -> Iterator[App]:
    running = App(desktop, tmp_path / "data")
    yield running
    assert running.alive(), f"the app died during the test:\n{running.output()}"


def test_a_reply_finishing_in_a_hidden_tab_notifies_once_and_the_click_opens_it(
    app: App, desktop: DesktopSession
) -> None:
    app.focus()
    assert app.title() == "Sidestream — New chat"

    # A reply in the chat on screen: no notification.
    app.type("bravo on screen")
    app.key("Return")
    wait_until(lambda: app.reply_status("bravo on screen") == "complete", WAIT, "the visible reply")

    # A reply in a chat then left for a new tab: it ends unseen.
    app.key("ctrl+t")
    app.type("alpha in the background")
    app.key("Return")
    app.key("ctrl+t")  # keys are handled in order: the reply starts, then the tab changes
    wait_until(lambda: app.title() == "Sidestream — New chat", WAIT, "the new tab")
    wait_until(lambda: len(desktop.notify_calls()) >= 1, WAIT, f"a Notify\n{app.output()}")
    assert app.reply_status("alpha in the background") == "complete"
    assert app.unread("alpha in the background")

    [notify] = desktop.notify_calls()
    assert notify.app_name == "Sidestream"
    assert notify.title == "alpha in the background"
    assert notify.body  # the reply's first line
    assert notify.icon.startswith("file://") and notify.icon.endswith(".png")
    assert "default" in notify.actions and "Open" in notify.actions
    assert desktop.dunstctl("count", "displayed").strip() == "1"
    assert not app.unread("bravo on screen")

    # Clicking it shows the window on that chat and clears its unread mark.
    desktop.dunstctl("action", "0")
    wait_until(lambda: app.title() == "Sidestream — alpha in the background", WAIT, "the click")
    wait_until(lambda: not app.unread("alpha in the background"), WAIT, "the unread mark")
    # Never twice for one reply, and still nothing for the one seen.
    assert len(desktop.notify_calls()) == 1


def test_viewing_the_chat_takes_its_notification_back(app: App, desktop: DesktopSession) -> None:
    app.focus()
    app.type("charlie in the background")
    app.key("Return")
    app.key("ctrl+t")
    wait_until(lambda: app.title() == "Sidestream — New chat", WAIT, "the new tab")
    wait_until(lambda: len(desktop.notify_calls()) >= 1, WAIT, f"a Notify\n{app.output()}")
    assert desktop.dunstctl("count", "displayed").strip() == "1"

    # Back to that chat with the keyboard, not through the notification.
    app.key("ctrl+Prior")
    wait_until(lambda: app.title() == "Sidestream — charlie in the background", WAIT, "the tab")
    wait_until(
        lambda: desktop.dunstctl("count", "displayed").strip() == "0",
        WAIT,
        f"the notification taken back\n{app.output()}",
    )
    assert not app.unread("charlie in the background")
    assert len(desktop.notify_calls()) == 1


def test_without_a_notification_service_the_app_says_why_once(tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        pytest.fail(f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES}")
    with desktop_session(tmp_path / "desktop", notification_daemon=False) as desktop:
        app = App(desktop, tmp_path / "data")
        app.focus()
        for title in ("first unseen", "second unseen"):
            app.type(title)
            app.key("Return")
            app.key("ctrl+t")
            wait_until(lambda t=title: app.unread(t), WAIT, f"{title} to end unseen")
        wait_until(lambda: "cannot show native notifications" in app.output(), WAIT, "the log line")
        assert app.output().count("cannot show native notifications") == 1
        assert "no notification service on the session bus" in app.output()
        assert desktop.notify_calls() == []
        assert app.alive()


def test_quit_with_a_reply_streaming_asks_and_stop_and_quit_keeps_the_partial_text(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    app = App(desktop, tmp_path / "data", demo_options="rate=20;tokens=2000")
    app.focus()
    app.type("a long story")
    app.key("Return")
    wait_until(lambda: app.reply_status("a long story") == "streaming", WAIT, "the reply")
    app.key("ctrl+q")
    wait_until(lambda: app.find("^Quit Sidestream$") is not None, WAIT, "the quit question")
    dialog = app.find("^Quit Sidestream$")
    assert dialog is not None
    assert app.alive()  # it asks; it does not quit yet
    app.focus(dialog)
    app.key("alt+s")  # &Stop and quit
    try:
        code = app.proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the app did not quit:\n{app.output()}") from None
    assert code == 0, app.output()
    [chat] = [c for c in app.export() if c["title"] == "a long story"]
    [reply] = [m for m in chat["messages"] if m["role"] == "assistant"]
    assert reply["status"] == "interrupted"
    assert reply["reason"] == "app quit"
    assert reply["content"]  # the partial text was flushed before exit


def test_markup_in_a_reply_reaches_the_notification_service_as_text(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dunst advertises ``body-markup``: a reply's first line with tags (model
    output) must arrive escaped, not as bold text, an image, or a link that
    opens without the app's confirmation."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.bus_address)
    line = 'Hi <b>bold</b> <a href="https://evil.example">x</a> <img src="file:///x.png"> & co'

    async def send() -> None:
        notifier = DesktopNotifier()
        try:
            await notifier.send("A <i>title</i>", line, 1)
        finally:
            await notifier.aclose()

    asyncio.run(send())
    wait_until(lambda: len(desktop.notify_calls()) == 1, WAIT, "the Notify call")
    [notify] = desktop.notify_calls()
    assert notify.body == (
        'Hi &lt;b&gt;bold&lt;/b&gt; &lt;a href="https://evil.example"&gt;x&lt;/a&gt; '
        '&lt;img src="file:///x.png"&gt; &amp; co'
    )
    assert notify.title == "A <i>title</i>"  # the summary is plain text by the spec
    assert desktop.dunstctl("count", "displayed").strip() == "1"
