"""kill -9 of the real, windowed app during five concurrent streams, 30 times on one data folder.

The sibling of :mod:`tests.reliability.test_crash_safety`, which kills the
app's services in a process without a window: this one kills ``python -m
desktop --data-dir D --demo`` itself, on Xvfb with a private D-Bus
(``tests/support/desktop_session.py``), driven with the keyboard through
xdotool as a user would. Each run:

* starts the app on the same data folder (it takes the folder's lock, which
  the previous kill freed; it opens the store and resumes what the previous
  kill cut before it shows its window);
* opens five new chats with the keyboard (Ctrl+T unless the window already
  shows an empty "New chat", a short prompt typed, Enter), each checked by the
  window title, which turns into the prompt once it is sent;
* waits until the server has sent text for all five, then a seeded random
  moment, and sends SIGKILL.

The demo server runs here, in the test process (the app finds it through
``SIDESTREAM_DEMO_URL``), so it outlives every kill and its log says what it
sent and when. All replies go through the app's Demo provider, which speaks
the Responses dialect and so resumes.

After every kill, on a copy of the folder as the kill left it, the checks of
the services-process test: the store opens as is and ``integrity_check`` says
ok; every reply's text is a prefix of what the server generated for it;
nothing the server sent more than ``LOSS_BOUND`` (flush interval + margin)
before the kill is missing; a reply the previous kill cut with its cursor on
disk was resumed by this start (a connection carrying its response id), one
cut without a cursor was marked ``interrupted`` with its text exactly as on
disk. A last, clean start lets every resumed reply finish, then Ctrl+Q quits:
every reply is complete with exactly the demo's text.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.demo import demo_reply
from desktop.providers.demo.replies import demo_reply_tokens
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services.settings import MAX_STREAMS_KEY
from desktop.store import Store
from desktop.streaming.manager import DEFAULT_FLUSH_INTERVAL
from tests.reliability.conftest import Figures
from tests.reliability.helpers import connections_for
from tests.reliability.test_crash_safety import (
    DEFAULT_SEED,
    LOSS_BOUND,
    MARGIN,
    Stored,
    Tally,
    check_settled,
    copy_as_left,
    loss_seconds,
)
from tests.support.desktop_session import (
    PACKAGES,
    DesktopSession,
    desktop_session,
    missing_tools,
    wait_until,
)
from tests.support.frozen import ROOT

pytestmark = pytest.mark.e2e

SCENARIO = "Crash safety (kill -9 of the app)"
RUNS = 30
STREAMS = 5
TOKENS = 200
RATE = 100.0  # tokens/s: a reply streams for 2 s
DEMO_OPTIONS = f"rate={RATE:g};tokens={TOKENS}"
KILL_WINDOW = 1.2  # the kill lands uniformly in [0, KILL_WINDOW] s after all five stream
MAX_STREAMS = 50  # resumed replies of earlier runs must not hold back the new ones
WAIT = 20.0
SETTLE = 60.0
POLL = 0.01
NEW_CHAT = "Sidestream — New chat"


@dataclass
class Reply:
    prompt: str
    run: int
    session_id: int = 0
    message_id: int = 0

    @property
    def full(self) -> str:
        return demo_reply(self.prompt, TOKENS)


class App:
    """One start of ``python -m desktop`` on the desktop session, typed at with xdotool."""

    def __init__(self, desktop: DesktopSession, data_dir: Path, demo: DemoServer, run: int):
        self.desktop = desktop
        self.log = desktop.workdir / f"app-{run:02d}.log"
        self.started_at = time.monotonic()
        self.proc = desktop.start(
            [sys.executable, "-m", "desktop", "--data-dir", str(data_dir), "--demo"],
            self.log.name,
            QT_QPA_PLATFORM="xcb",
            PYTHONPATH=str(ROOT),
            SIDESTREAM_DEMO_URL=demo.url,
            SIDESTREAM_DEMO_OPTIONS=DEMO_OPTIONS,
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

    def kill(self) -> float:
        at = time.monotonic()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return at

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[DesktopSession]:
    missing = missing_tools()
    if missing:
        # CI installs them (packaging/dev.sh): a machine without them must not pass quietly.
        pytest.fail(f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES}")
    with desktop_session(tmp_path / "desktop", notification_daemon=False, monitor=False) as s:
        yield s


def has_text(demo: DemoServer, prompt: str, since: float) -> bool:
    return any(r.opened_at >= since and r.sent_log for r in connections_for(demo, prompt))


def all_have_text(demo: DemoServer, prompts: list[str], since: float) -> bool:
    return all(has_text(demo, prompt, since) for prompt in prompts)


def resumed_since(demo: DemoServer, reply: Reply, since: float) -> bool:
    """A connection carrying the reply's response id opened by this start: a resume."""
    return any(r.opened_at >= since and r.response_id for r in connections_for(demo, reply.prompt))


def test_kill_9_of_the_app_during_five_streams_loses_nothing_older_than_a_flush(
    desktop: DesktopSession, tmp_path: Path, figures: Figures
) -> None:
    seed = int(os.environ.get("SIDESTREAM_CRASH_SEED", DEFAULT_SEED))
    rng = random.Random(seed)
    print(f"app crash test seed {seed} (set SIDESTREAM_CRASH_SEED to repeat another)")
    data = tmp_path / "data"
    with Store.open(data) as store:  # as Settings would: room for resumed and new replies
        store.set_setting(MAX_STREAMS_KEY, MAX_STREAMS)
    replies: dict[str, Reply] = {}
    tally = Tally()
    starts: list[float] = []
    started = time.monotonic()
    left_live: dict[int, Stored] = {}
    clean_exit: int | None = None

    try:
        with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
            for run in range(RUNS):
                app = App(desktop, data, demo, run)
                try:
                    tally.opens += 1
                    starts.append(time.monotonic() - app.started_at)
                    prompts = [f"r{run} c{index} s{seed}" for index in range(STREAMS)]
                    for prompt in prompts:
                        app.send_in_new_chat(prompt)
                        replies[prompt] = Reply(prompt, run)
                    wait_until(
                        functools.partial(all_have_text, demo, prompts, app.started_at),
                        WAIT,
                        "text of all five replies from the server",
                        POLL,
                    )
                    # The random moment is the point of the test, not a wait for a condition.
                    time.sleep(rng.uniform(0.0, KILL_WINDOW))
                    t_kill = app.kill()
                finally:
                    app.close()
                tally.kills += 1
                assert demo.wait_until(lambda: demo.open_connections == 0, 5.0), (
                    "the server still has connections of the killed app"
                )
                copy = copy_as_left(data, tmp_path / "as-left")
                left_live = inspect_after_kill(
                    copy, demo, replies, left_live, app.started_at, t_kill, tally
                )
                tally.integrity_ok += 1
                tally.kills_ok += 1

            # A clean start: it resumes what the last kill cut; once every reply
            # has ended, Ctrl+Q quits (nothing streams, so it does not ask).
            app = App(desktop, data, demo, RUNS)
            try:
                tally.opens += 1
                check_recovered(demo, replies, left_live, app.started_at, tally)
                wait_until(lambda: not live_replies(data), SETTLE, "every reply to end", POLL * 10)
                app.xdotool("key", "ctrl+q")
                try:
                    clean_exit = app.proc.wait(WAIT)
                except subprocess.TimeoutExpired:
                    raise AssertionError(
                        f"the app did not quit within {WAIT:.0f} s of Ctrl+Q:\n{app.hang_report()}"
                    ) from None
            finally:
                app.close()
        assert clean_exit == 0, app.output()
        check_settled(data, replies.values(), tally)
        tally.integrity_ok += 1
    finally:  # the figures, also of a run that failed part-way
        elapsed = time.monotonic() - started
        worst = max(tally.losses, default=0.0)
        figures.record(
            SCENARIO,
            tally.kills,
            tally.kills_ok,
            f"seed {seed}; {tally.kills} kills of the real app (python -m desktop --demo, "
            f"windowed on Xvfb, driven with xdotool) during {STREAMS} streams on one data "
            f"folder, {elapsed:.0f} s; start to window with focus median "
            f"{statistics.median(starts or [0.0]):.2f} s",
            f"{tally.opens} starts took the lock the kill freed and showed the window; "
            f"integrity_check ok on {tally.kills_ok} post-kill copies and after the clean quit",
            f"{tally.checked} reply states checked after kills: every text a prefix of the "
            f"server's; {tally.cut} replies cut mid-stream",
            f"cut replies on the next start: {tally.resumed} resumed (Responses), "
            f"{tally.interrupted_without_cursor} interrupted for want of a cursor on disk",
            f"{tally.complete_exact} of {len(replies)} replies complete with exactly the "
            f"demo's text after the final clean start and Ctrl+Q",
            f"text lost by a kill: worst {worst * 1000:.0f} ms of server output, median "
            f"{statistics.median(tally.losses or [0.0]) * 1000:.0f} ms (bound "
            f"{LOSS_BOUND * 1000:.0f} ms = flush {DEFAULT_FLUSH_INTERVAL * 1000:.0f} ms + "
            f"{MARGIN * 1000:.0f} ms); at most {max(tally.lost_tokens, default=0)} tokens at "
            f"{RATE:g} tokens/s",
        )
        with contextlib.suppress(OSError):
            artifacts = ROOT / "test-artifacts" / "e2e" / "crash-app"
            shutil.rmtree(artifacts, ignore_errors=True)
            artifacts.mkdir(parents=True)
            for log in desktop.workdir.glob("app-*.log"):
                shutil.copy(log, artifacts / log.name)
    assert tally.kills == RUNS and tally.kills_ok == RUNS


def live_replies(data: Path) -> list[int]:
    """Assistant messages still live, read through a read-only connection beside the app."""
    live = tuple(s.value for s in MessageStatus if s.is_live)
    uri = f"file:{data / 'sidestream.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
        rows = db.execute(
            f"SELECT id FROM messages WHERE status IN ({','.join('?' * len(live))})", live
        ).fetchall()
    return [int(row[0]) for row in rows]


def check_recovered(
    demo: DemoServer,
    replies: dict[str, Reply],
    left_live: dict[int, Stored],
    since: float,
    tally: Tally,
) -> None:
    """The start after a kill resumed every reply the kill cut with its cursor on disk."""
    by_id = {r.message_id: r for r in replies.values()}
    for message_id, stored in left_live.items():
        if stored.cursor is None:
            continue
        reply = by_id[message_id]
        wait_until(
            functools.partial(resumed_since, demo, reply, since),
            WAIT,
            f"the start to resume reply {message_id} ({reply.prompt!r})",
            POLL,
        )
        tally.resumed += 1


def inspect_after_kill(
    copy: Path,
    demo: DemoServer,
    replies: dict[str, Reply],
    left_live: dict[int, Stored],
    since: float,
    t_kill: float,
    tally: Tally,
) -> dict[int, Stored]:
    """Check the folder as the kill left it; return the replies it left live."""
    live: dict[int, Stored] = {}
    with Store.open(copy) as store:
        assert store.recovered_from_corruption is None
        assert store.integrity_check() == "ok"
        sessions = {s.title: s for s in store.list_sessions()}
        for reply in replies.values():
            if not reply.message_id:
                session = sessions.get(reply.prompt)
                assert session is not None, f"the chat {reply.prompt!r} is not on disk"
                turns = store.list_messages(session.id)
                assert [(t.role, t.content) for t in turns[:1]] == [(Role.USER, reply.prompt)]
                assistant = [t for t in turns if t.role is Role.ASSISTANT]
                assert len(assistant) == 1, turns
                reply.session_id, reply.message_id = session.id, assistant[0].id
            message = store.get_message(reply.message_id)
            assert message is not None, f"reply {reply.message_id} vanished"
            tally.checked += 1
            content = message.content
            assert reply.full.startswith(content), (
                f"reply {reply.message_id} is not a prefix of what the server generated"
            )
            previous = left_live.get(reply.message_id)
            if message.status is MessageStatus.INTERRUPTED:
                # Only a reply cut before its cursor reached the disk may end so.
                assert previous is not None and previous.cursor is None, message
                assert message.reason == InterruptReason.APP_QUIT.value
                assert content == previous.content, "recovery kept the text exactly as on disk"
                if reply.message_id not in tally.interrupted_text:
                    tally.interrupted_text[reply.message_id] = content
                    tally.interrupted_without_cursor += 1
                continue
            if previous is not None and previous.cursor is not None:
                assert resumed_since(demo, reply, since), (
                    f"reply {reply.message_id} was cut with its cursor on disk and not resumed"
                )
                tally.resumed += 1
            if message.status is MessageStatus.COMPLETE:
                assert content == reply.full
                continue
            assert message.status.is_live, message
            live[reply.message_id] = Stored(message.status, content, message.cursor, None)
            tally.cut += 1
            tokens = token_count(reply, content)
            seconds, lost = loss_seconds(demo, reply, tokens, since, t_kill)  # type: ignore[arg-type]
            if seconds is not None:
                assert seconds <= LOSS_BOUND, (
                    f"reply {reply.message_id} lost {lost} tokens the server sent "
                    f"{seconds * 1000:.0f} ms before the kill"
                )
                tally.losses.append(seconds)
            tally.lost_tokens.append(lost)
    return live


def token_count(reply: Reply, text: str) -> int:
    joined = ""
    for count, token in enumerate(demo_reply_tokens(reply.prompt, TOKENS)):
        if joined == text:
            return count
        joined += token
    assert joined == text, "the stored text is not made of whole deltas of the reply"
    return TOKENS
