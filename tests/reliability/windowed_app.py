"""The real, windowed app as a process the reliability tests drive and kill.

``python -m desktop --data-dir D --demo`` on the desktop session's Xvfb
(``tests/support/desktop_session.py``; the ``desktop`` fixture of
``tests/reliability/conftest.py``), typed at with xdotool as a user would,
against a demo server in the test process (``SIDESTREAM_DEMO_URL``) that
outlives it, so that its log says what the app was sent, and when.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from desktop.providers.demo.server import DemoServer
from tests.reliability.helpers import connections_for
from tests.reliability.kill_loop import Program
from tests.support.desktop_session import DesktopSession, wait_until
from tests.support.frozen import ROOT

TOKENS = 200
RATE = 100.0  # tokens/s: a reply streams for 2 s
DEMO_OPTIONS = f"rate={RATE:g};tokens={TOKENS}"
WAIT = 20.0
POLL = 0.01
NEW_CHAT = "Sidestream — New chat"


class App(Program):
    """One start of ``python -m desktop`` on the desktop session, typed at with xdotool."""

    def __init__(
        self,
        desktop: DesktopSession,
        data_dir: Path,
        demo: DemoServer,
        run: int,
        options: str = DEMO_OPTIONS,
    ):
        self.desktop = desktop
        self.log = desktop.workdir / f"app-{run:02d}.log"
        self.started_at = time.monotonic()
        self.proc = desktop.start(
            [sys.executable, "-m", "desktop", "--data-dir", str(data_dir), "--demo"],
            self.log.name,
            QT_QPA_PLATFORM="xcb",
            PYTHONPATH=str(ROOT),
            SIDESTREAM_DEMO_URL=demo.url,
            SIDESTREAM_DEMO_OPTIONS=options,
        )
        # The main window shows once the store is open and recovery has run;
        # its title names the chat on screen ("Sidestream — <chat>").
        found = self.xdotool("search", "--sync", "--onlyvisible", "--name", "^Sidestream — ")
        self.window = found.split()[0]
        self.xdotool("windowfocus", "--sync", self.window)  # no window manager to do it
        wait_until(
            lambda: self.xdotool("getwindowfocus").strip() == self.window,
            WAIT,
            "the keyboard focus on the app's window",
            POLL,
        )

    def xdotool(self, *args: str) -> str:
        if self.proc.poll() is not None:
            raise AssertionError(f"the app exited ({self.proc.returncode}):\n{self.output()}")
        return self.desktop.run("xdotool", *args, timeout=WAIT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def hang_report(self) -> str:
        """What the app is doing: its windows, the focus, and every thread's stack."""
        windows = self.desktop.run("xdotool", "search", "--onlyvisible", "--name", ".", check=False)
        names = [
            self.desktop.run("xdotool", "getwindowname", w, check=False).strip()
            for w in windows.split()
        ]
        focus = self.desktop.run("xdotool", "getwindowfocus", check=False).strip()
        os.kill(self.proc.pid, signal.SIGUSR1)  # the app dumps its stacks to its log
        with contextlib.suppress(AssertionError):  # report what there is regardless
            wait_until(lambda: "most recent call first" in self.output(), 5.0, "a dump", POLL)
        return (
            f"visible windows {names}; focus {focus} (the app's window is {self.window})\n"
            + self.log.read_text(errors="replace")[-12000:]
        )

    def title(self) -> str:
        return self.xdotool("getwindowname", self.window).strip()

    def wait_for_title(self, title: str) -> None:
        wait_until(lambda: self.title() == title, WAIT, f"the window title {title!r}", POLL)

    def send_in_new_chat(self, prompt: str) -> None:
        if self.title() != NEW_CHAT:  # a fresh start already shows a new chat
            self.xdotool("key", "ctrl+t")
            self.wait_for_title(NEW_CHAT)
        self.xdotool("type", "--delay", "2", prompt)
        self.xdotool("key", "Return")
        self.wait_for_title(f"Sidestream — {prompt}")  # the chat is named after its message

    def send_and_wait_for_text(self, demo: DemoServer, prompts: list[str]) -> None:
        """A new chat for each prompt, then wait until the server sent text for every one."""
        for prompt in prompts:
            self.send_in_new_chat(prompt)
        wait_until(
            functools.partial(all_have_text, demo, prompts, self.started_at),
            WAIT,
            f"text of all {len(prompts)} replies from the server",
            POLL,
        )

    def wait_for_exit(self, after: str) -> int:
        """The app's exit code once it quits; a report of what it does if it does not."""
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the app did not quit within {WAIT:.0f} s of {after}:\n{self.hang_report()}"
            ) from None


def has_text(demo: DemoServer, prompt: str, since: float) -> bool:
    return any(r.opened_at >= since and r.sent_log for r in connections_for(demo, prompt))


def all_have_text(demo: DemoServer, prompts: list[str], since: float) -> bool:
    return all(has_text(demo, prompt, since) for prompt in prompts)


def resumed_since(demo: DemoServer, prompt: str, since: float) -> bool:
    """A connection carrying the reply's response id opened by this start: a resume."""
    return any(r.opened_at >= since and r.response_id for r in connections_for(demo, prompt))
