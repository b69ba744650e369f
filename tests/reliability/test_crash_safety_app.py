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

Each start first shows that it resumed every reply the previous kill cut
with its cursor on disk (a connection carrying its response id). After every
kill, on a copy of the folder as the kill left it, the checks of the
services-process test (the loop and the checks are
:mod:`tests.reliability.kill_loop`): the store opens as is and
``integrity_check`` says ok; every reply's text is a prefix of what the server
generated for it; nothing the server sent more than ``LOSS_BOUND`` (flush
interval + margin) before the kill is missing; a reply cut without a cursor
was marked ``interrupted`` with its text exactly as on disk. A last, clean
start lets every resumed reply finish, then Ctrl+Q quits: every reply is
complete with exactly the demo's text.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sqlite3
import statistics
import time
from pathlib import Path

import pytest

from desktop.core.states import MessageStatus
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services.settings import MAX_STREAMS_KEY
from desktop.store import Store
from tests.reliability.conftest import Figures
from tests.reliability.kill_loop import KillLoop, Reply, crash_seed
from tests.reliability.windowed_app import POLL, RATE, TOKENS, WAIT, App, resumed_since
from tests.support.desktop_session import DesktopSession, wait_until
from tests.support.frozen import ROOT

pytestmark = pytest.mark.e2e

SCENARIO = "Crash safety (kill -9 of the app)"
RUNS = 30
STREAMS = 5
MAX_STREAMS = 50  # resumed replies of earlier runs must not hold back the new ones
SETTLE = 60.0


def test_kill_9_of_the_app_during_five_streams_loses_nothing_older_than_a_flush(
    desktop: DesktopSession, tmp_path: Path, figures: Figures
) -> None:
    seed = crash_seed("app crash test")
    data = tmp_path / "data"
    with Store.open(data) as store:  # as Settings would: room for resumed and new replies
        store.set_setting(MAX_STREAMS_KEY, MAX_STREAMS)
    starts: list[float] = []

    with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
        program = "the real app (python -m desktop --demo, windowed on Xvfb, driven with xdotool)"
        crash = KillLoop(demo, data, tmp_path, seed, program, STREAMS, figures, SCENARIO)
        tally = crash.tally

        def start(run: int) -> App:
            app = App(desktop, data, demo, run)
            tally.opens += 1
            starts.append(time.monotonic() - app.started_at)
            return app

        def stream(app: App, run: int) -> None:
            check_recovered(crash, app.started_at)
            prompts = [f"r{run} c{index} s{seed}" for index in range(STREAMS)]
            for prompt in prompts:
                crash.replies[prompt] = Reply(prompt, run, TOKENS)
            app.send_and_wait_for_text(demo, prompts)

        def settle(run: int) -> None:
            """A clean start: it resumes what the last kill cut; once every reply
            has ended, Ctrl+Q quits (nothing streams, so it does not ask)."""
            app = App(desktop, data, demo, run)
            try:
                tally.opens += 1
                check_recovered(crash, app.started_at)
                wait_until(lambda: not live_replies(data), SETTLE, "every reply to end", POLL * 10)
                app.xdotool("key", "ctrl+q")
                clean_exit = app.wait_for_exit("Ctrl+Q")
            finally:
                app.close()
            assert clean_exit == 0, app.output()

        try:
            crash.run(RUNS, start, stream, settle)
        finally:  # the figures, also of a run that failed part-way
            crash.report(
                timing="; start to window with focus median "
                f"{statistics.median(starts or [0.0]):.2f} s",
                starts=f"{tally.opens} starts took the lock the kill freed and showed the window; "
                f"integrity_check ok on {tally.kills_ok} post-kill copies and after the clean quit",
                recovery=f"cut replies on the next start: {tally.resumed} resumed (Responses), "
                f"{tally.interrupted_without_cursor} interrupted for want of a cursor on disk",
                settled=f"{tally.complete_exact} of {len(crash.replies)} replies complete with "
                "exactly the demo's text after the final clean start and Ctrl+Q",
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


def check_recovered(crash: KillLoop, since: float) -> None:
    """The start after a kill resumed every reply the kill cut with its cursor on disk."""
    replies = crash.by_id()
    for message_id, stored in crash.left_live.items():
        if stored.cursor is None:
            continue
        reply = replies[message_id]
        wait_until(
            functools.partial(resumed_since, crash.demo, reply.prompt, since),
            WAIT,
            f"the start to resume reply {message_id} ({reply.prompt!r})",
            POLL,
        )
        crash.tally.resumed += 1
        crash.tally.resumed_ids.add(message_id)
