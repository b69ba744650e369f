"""The real window, driven with the keyboard only, checked from outside.

Xvfb, a private D-Bus with dunst (``tests/support/desktop_session.py``), the
demo provider, and Sidestream as a separate process: the frozen build when it
is up to date (``tests/e2e/test_frozen.py`` builds it first in a full run),
else the source. xdotool types into the focused window through XTEST, as a
keyboard would. A fresh start opens a new chat with the keyboard focus on its
composer; from there:

    prompt A, Enter        A streams
    Ctrl+T, prompt B, Enter   a new chat; B streams, A goes on unseen
    Ctrl+Shift+Tab         back to A (then Ctrl+Tab to B and round to A)
    Esc                    A stops (its partial text is kept)
                           B finishes while A is on screen: one notification
    prompt A2, Enter       A streams again
    Ctrl+Q                 "replies are still streaming" -> Alt+S, Stop and quit

Then, from outside: ``sidestream export`` (JSON and Markdown) for the store's
contents, dunst for the notifications, and screenshots of the whole screen
under ``test-artifacts/e2e/keyboard/`` (git-ignored) with the app's log.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.providers.demo import demo_reply
from tests.support.desktop_session import (
    PACKAGES,
    DesktopSession,
    desktop_session,
    missing_tools,
    wait_until,
)
from tests.support.frozen import ROOT, app_command

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts" / "e2e" / "keyboard"
TOKENS = 400
DEMO_OPTIONS = f"rate=40;tokens={TOKENS}"  # ten seconds a reply
WAIT = 30.0
PROMPT_A = "alpha tell me a long story"
PROMPT_B = "bravo another story please"
PROMPT_A2 = "alpha again until the quit"


class Keyboard:
    """Sidestream on a desktop session, typed at and looked at from outside."""

    def __init__(self, desktop: DesktopSession, data_dir: Path, command: list[str]) -> None:
        self.desktop = desktop
        self.data_dir = data_dir
        self.command = command
        self.log = desktop.workdir / "app.log"
        self.proc = desktop.start(
            [*command, "--data-dir", str(data_dir), "--demo", "--log-level", "INFO"],
            "app.log",
            QT_QPA_PLATFORM="xcb",
            SIDESTREAM_DEMO_OPTIONS=DEMO_OPTIONS,
        )
        self.window = self.wait_for_window("^Sidestream")

    # ------------------------------------------------------------ looking
    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def find(self, name: str) -> str | None:
        """A visible window whose title matches ``name`` (a regular expression)."""
        found = self.desktop.run("xdotool", "search", "--onlyvisible", "--name", name, check=False)
        return found.split()[0] if found.split() else None

    def wait_for_window(self, name: str) -> str:
        found: list[str] = []

        def appeared() -> bool:
            assert self.alive(), f"the app exited:\n{self.output()}"
            window = self.find(name)
            if window:
                found.append(window)
            return bool(window)

        wait_until(appeared, WAIT, f"a window named {name!r}")
        return found[0]

    def title(self) -> str:
        return self.desktop.run("xdotool", "getwindowname", self.window).strip()

    def wait_for_title(self, chat_title: str) -> None:
        expected = f"Sidestream — {chat_title}"
        wait_until(lambda: self.title() == expected, WAIT, f"the title {expected!r}")

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.desktop.run("import", "-window", "root", str(path), timeout=WAIT)
        return path

    def export(self, *args: str) -> str:
        done = subprocess.run(
            [*self.command, "export", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def chats(self) -> list[dict[str, Any]]:
        chats: list[dict[str, Any]] = json.loads(self.export("--format", "json"))["chats"]
        return chats

    def replies(self, title: str) -> list[dict[str, Any]]:
        for chat in self.chats():
            if chat["title"] == title:
                return [m for m in chat["messages"] if m["role"] == "assistant"]
        return []

    def reply_status(self, title: str, index: int = -1) -> str | None:
        """The status of a chat's reply (the last by default), None if there is none."""
        replies = self.replies(title)
        try:
            return str(replies[index]["status"])
        except IndexError:
            return None

    # ------------------------------------------------------------- typing
    def focus(self, window: str | None = None) -> None:
        """Give a window the keyboard focus (no window manager runs to do it)."""
        target = window or self.window
        self.desktop.run("xdotool", "windowfocus", "--sync", target, timeout=WAIT)
        wait_until(
            lambda: self.desktop.run("xdotool", "getwindowfocus").strip() == target,
            WAIT,
            f"the keyboard focus on window {target}",
        )

    def type(self, text: str) -> None:
        self.desktop.run("xdotool", "type", "--delay", "20", text, timeout=WAIT)

    def key(self, *keys: str) -> None:
        self.desktop.run("xdotool", "key", "--delay", "30", *keys, timeout=WAIT)


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[DesktopSession]:
    missing = missing_tools() + [t for t in ("import",) if shutil.which(t) is None]
    if missing:
        # CI installs them (packaging/dev.sh): a machine without them must not pass quietly.
        pytest.fail(
            f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES} imagemagick"
        )
    with desktop_session(tmp_path / "desktop") as session:
        yield session


@pytest.fixture
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def test_two_chats_stop_notify_and_quit_with_the_keyboard_only(
    desktop: DesktopSession, tmp_path: Path, artifacts: Path
) -> None:
    command, kind = app_command()
    sys.stdout.write(f"\nthe app under test: {kind} ({' '.join(command)})\n")
    started = time.monotonic()
    app = Keyboard(desktop, tmp_path / "data", command)
    try:
        _scenario(app, desktop)
    except BaseException:
        with contextlib.suppress(Exception):
            app.screenshot("99-failure")  # the screen as the test gave up
        raise
    finally:
        shutil.copy(app.log, artifacts / "app.log")
        dunst_log = desktop.workdir / "dunst.log"
        if dunst_log.exists():
            shutil.copy(dunst_log, artifacts / "dunst.log")
    sys.stdout.write(f"keyboard scenario ({kind}): {time.monotonic() - started:.1f} s\n")

    _check_store(app, artifacts)
    _check_notifications(desktop)
    shots = sorted(p.name for p in artifacts.glob("*.png"))
    assert shots == [
        "01-new-chat.png",
        "02-two-replies-streaming.png",
        "03-first-stopped.png",
        "04-second-notified.png",
        "05-quit-question.png",
    ]
    for shot in artifacts.glob("*.png"):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot


def _scenario(app: Keyboard, desktop: DesktopSession) -> None:
    app.focus()
    app.wait_for_title("New chat")  # a fresh start opens a new chat, the composer focused
    app.screenshot("01-new-chat")

    app.type(PROMPT_A)
    app.key("Return")
    wait_until(lambda: app.reply_status(PROMPT_A) == "streaming", WAIT, "reply A to stream")
    app.wait_for_title(PROMPT_A)  # the chat is named after its first message

    app.key("ctrl+t")
    app.wait_for_title("New chat")
    app.type(PROMPT_B)
    app.key("Return")
    wait_until(lambda: app.reply_status(PROMPT_B) == "streaming", WAIT, "reply B to stream")
    app.screenshot("02-two-replies-streaming")

    app.key("ctrl+shift+Tab")  # the previous tab (Qt gets Backtab with Shift)
    app.wait_for_title(PROMPT_A)
    app.key("ctrl+Tab")
    app.wait_for_title(PROMPT_B)
    app.key("ctrl+Tab")  # wraps around
    app.wait_for_title(PROMPT_A)
    app.key("Escape")
    wait_until(lambda: app.reply_status(PROMPT_A) == "stopped", WAIT, "reply A to stop")
    # B must end after this point, while A is the chat on screen.
    assert app.reply_status(PROMPT_B) == "streaming", "reply B ended too early for this test"
    app.screenshot("03-first-stopped")

    wait_until(lambda: app.reply_status(PROMPT_B) == "complete", WAIT, "reply B to finish")
    wait_until(
        lambda: desktop.dunstctl("count", "displayed").strip() == "1",
        WAIT,
        f"dunst to show the notification\n{app.output()}",
    )
    app.screenshot("04-second-notified")

    app.type(PROMPT_A2)  # the composer of A still has the focus
    app.key("Return")
    wait_until(lambda: app.reply_status(PROMPT_A, 1) == "streaming", WAIT, "reply A2 to stream")

    app.key("ctrl+q")
    dialog = app.wait_for_window("^Quit Sidestream$")
    app.screenshot("05-quit-question")
    assert app.alive(), "it must ask, not quit"
    app.focus(dialog)
    app.key("alt+s")  # "&Stop and quit"
    try:
        code = app.proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the app did not quit:\n{app.output()}") from None
    assert code == 0, app.output()


def _check_store(app: Keyboard, artifacts: Path) -> None:
    """What the store holds after the quit, read with ``sidestream export``."""
    exported = app.export("--format", "json")
    (artifacts / "export.json").write_text(exported, encoding="utf-8")
    document = json.loads(exported)
    assert document["format"] == "sidestream-export"
    chats = {chat["title"]: chat for chat in document["chats"]}
    assert sorted(chats) == sorted([PROMPT_A, PROMPT_B])

    a = chats[PROMPT_A]["messages"]
    assert [(m["role"], m["status"]) for m in a] == [
        ("user", "complete"),
        ("assistant", "stopped"),
        ("user", "complete"),
        ("assistant", "interrupted"),
    ]
    assert [a[0]["content"], a[2]["content"]] == [PROMPT_A, PROMPT_A2]
    stopped, cut = a[1], a[3]
    full = demo_reply(PROMPT_A, TOKENS)
    assert stopped["content"], "the stopped reply kept no text"
    assert full.startswith(stopped["content"]) and len(stopped["content"]) < len(full)
    assert cut["reason"] == "app quit"
    assert demo_reply(PROMPT_A2, TOKENS).startswith(cut["content"])

    b = chats[PROMPT_B]["messages"]
    assert [(m["role"], m["status"]) for m in b] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert b[1]["content"] == demo_reply(PROMPT_B, TOKENS)

    markdown = app.export("--format", "markdown")
    (artifacts / "export.md").write_text(markdown, encoding="utf-8")
    assert f"# {PROMPT_A}\n" in markdown and f"# {PROMPT_B}\n" in markdown
    assert "## Assistant (stopped)\n" in markdown
    assert "## Assistant (interrupted: app quit)\n" in markdown

    only_b = json.loads(app.export("--format", "json", "--chat", str(chats[PROMPT_B]["id"])))
    assert [chat["title"] for chat in only_b["chats"]] == [PROMPT_B]


def _check_notifications(desktop: DesktopSession) -> None:
    """One notification: B finished while A was on screen; A's stop and quit say nothing."""
    assert desktop.dunstctl("count", "displayed").strip() == "1"
    # What went over the bus, as dbus-monitor saw it. (dunstctl's "history"
    # needs systemd's busctl, which a minimal Debian does not have.)
    calls = desktop.notify_calls()
    assert [(c.app_name, c.title) for c in calls] == [("Sidestream", PROMPT_B)]
    assert calls[0].body, "the notification has no body"
    assert calls[0].body[:20] in demo_reply(PROMPT_B, TOKENS), calls[0]  # the reply's first line
