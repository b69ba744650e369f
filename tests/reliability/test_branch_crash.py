"""kill -9 of the real, windowed app while a chat streams on two branches.

``python -m desktop --data-dir D --demo`` on Xvfb, typed at with xdotool as a
user would (:mod:`tests.reliability.windowed_app`): a question, Enter; while
its reply streams, Up in the empty composer edits the question, a few more
words, Enter: a second reply streams on a branch of its own beside the first.
At a seeded random moment with both streaming, SIGKILL. Then, on a copy of
the folder as the kill left it: both replies are on disk, each a prefix of
what the server generated for it, neither missing text sent more than a flush
interval (plus a margin) before the kill, and the chat still shows the edited
branch. The next start resumes both (the demo speaks Responses) and shows the
same path; once both ended, Ctrl+Q: both complete with exactly the server's
text, each on its branch.
"""

from __future__ import annotations

import contextlib
import functools
import random
import sqlite3
import time
from pathlib import Path

import pytest

from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.store import Store
from tests.reliability.conftest import Figures
from tests.reliability.kill_loop import (
    KILL_WINDOW,
    LOSS_BOUND,
    Reply,
    copy_as_left,
    crash_seed,
    loss_seconds,
    token_count,
)
from tests.reliability.windowed_app import POLL, WAIT, App, has_text, resumed_since
from tests.support.desktop_session import DesktopSession, wait_until

pytestmark = pytest.mark.e2e

SCENARIO = "Crash safety (kill -9 during a branched stream)"
RATE = 100.0
TOKENS = 600  # 6 s a reply: both still stream when the kill lands
PROMPT = "Branch me"
EDITED = PROMPT + " twice"


def test_kill_9_during_a_branched_stream_loses_no_more_than_a_flush(
    desktop: DesktopSession, tmp_path: Path, figures: Figures
) -> None:
    seed = crash_seed("branch crash test")
    rng = random.Random(seed)
    data = tmp_path / "data"
    options = f"rate={RATE:g};tokens={TOKENS}"
    case = figures.case(SCENARIO, f"seed {seed}")
    with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
        app = App(desktop, data, demo, 0, options)
        try:
            app.send_in_new_chat(PROMPT)
            wait_until(lambda: has_text(demo, PROMPT, app.started_at), WAIT, "the first reply")
            app.xdotool("key", "Up")  # edit the question just sent
            app.xdotool("type", "--delay", "2", " twice")
            app.xdotool("key", "Return")
            wait_until(lambda: has_text(demo, EDITED, app.started_at), WAIT, "the second reply")
            # The random moment is the point of the test, not a wait for a condition.
            time.sleep(rng.uniform(0.0, KILL_WINDOW))
            t_kill = app.kill()
        finally:
            app.close()
        assert demo.wait_until(lambda: demo.open_connections == 0, 5.0)

        copy = copy_as_left(data, tmp_path / "as-left")
        replies = {p: Reply(p, 0, TOKENS) for p in (PROMPT, EDITED)}
        losses = []
        with Store.open(copy) as store:
            assert store.integrity_check() == "ok"
            (session,) = store.list_sessions()
            question, first, edited, second = store.list_messages(session.id)
            assert (question.content, edited.content) == (PROMPT, EDITED)
            assert (question.role, edited.role) == (Role.USER, Role.USER)
            assert question.parent_id is None and edited.parent_id is None  # siblings
            assert first.parent_id == question.id and second.parent_id == edited.id
            assert session.active_leaf_id == second.id, "the chat shows the edited branch"
            for reply_row, prompt in ((first, PROMPT), (second, EDITED)):
                reply = replies[prompt]
                assert reply.full.startswith(reply_row.content), f"{prompt!r}: not a prefix"
                assert reply_row.status.is_live, reply_row
                seconds, lost = loss_seconds(
                    demo, prompt, token_count(reply, reply_row.content), app.started_at, t_kill
                )
                if seconds is not None:
                    assert seconds <= LOSS_BOUND, f"{prompt!r} lost {lost} tokens, {seconds} s"
                    losses.append(seconds)

        # The next start resumes both and shows the same branch.
        again = App(desktop, data, demo, 1, options)
        try:
            for prompt in (PROMPT, EDITED):
                wait_until(
                    functools.partial(resumed_since, demo, prompt, again.started_at),
                    WAIT,
                    f"the start to resume {prompt!r}",
                    POLL,
                )
            assert again.title() == f"Sidestream — {PROMPT}"
            wait_until(lambda: not live(data), WAIT, "both replies to end", POLL * 10)
            again.xdotool("key", "ctrl+q")
            assert again.wait_for_exit("Ctrl+Q") == 0, again.output()
        finally:
            again.close()
        with Store.open(data) as store:
            (session,) = store.list_sessions()
            assert session.active_leaf_id == second.id
            assert [m.id for m in store.active_path(session.id)] == [edited.id, second.id]
            ended = [(m.content, m.status) for m in store.list_messages(session.id)[1::2]]
        assert ended == [
            (demo_reply(PROMPT, TOKENS), MessageStatus.COMPLETE),
            (demo_reply(EDITED, TOKENS), MessageStatus.COMPLETE),
        ]
    worst = max(losses, default=0.0)
    case.detail = (
        f"seed {seed}; kill -9 of the windowed app with two branches of one chat streaming:"
        f" both on disk, worst loss {worst * 1000:.0f} ms of server output (bound"
        f" {LOSS_BOUND * 1000:.0f} ms); the next start resumed both on the same active"
        " path; both complete with the server's exact text"
    )


def live(data: Path) -> list[int]:
    states = tuple(s.value for s in MessageStatus if s.is_live)
    uri = f"file:{data / 'sidestream.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
        rows = db.execute(
            f"SELECT id FROM messages WHERE status IN ({','.join('?' * len(states))})", states
        ).fetchall()
    return [int(row[0]) for row in rows]
