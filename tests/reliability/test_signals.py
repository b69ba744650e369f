"""SIGINT and SIGTERM during streams: the real app quits cleanly, as Quit does.

Ctrl+C in the terminal that started Sidestream (SIGINT) crashed it in
``app.exec`` (exit 139) in 2 of 5 tries, or printed a KeyboardInterrupt
traceback and went on; SIGTERM (logout, ``systemctl stop``, a package
upgrade) killed it without a flush, like a crash. Each must now flush every
partial text, mark the replies ``interrupted`` (app quit) and exit 0.

The app runs windowed on Xvfb (``tests/support/desktop_session.py``) and is
typed at with xdotool (:mod:`tests.reliability.windowed_app`), as in the crash
test of the real app, against a demo server in the test process that outlives it.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sqlite3
from pathlib import Path

import pytest

from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.demo import demo_reply
from desktop.providers.demo.server import DemoOptions, DemoServer
from tests.reliability.conftest import Figures
from tests.reliability.windowed_app import RATE, TOKENS, WAIT, App
from tests.support.desktop_session import DesktopSession, wait_until

pytestmark = pytest.mark.e2e

SCENARIO = "SIGINT / SIGTERM / SIGHUP during streams (the real app)"
TRIES = {signal.SIGINT: 5, signal.SIGTERM: 3, signal.SIGHUP: 1}


def have_text_on_disk(data: Path, prompts: list[str]) -> bool:
    replies = stored_replies(data)
    return all(replies.get(prompt, ("", "", None))[1] for prompt in prompts)


def stored_replies(data: Path) -> dict[str, tuple[str, str, str | None]]:
    """prompt -> (status, content, reason) of each chat's reply, read beside the app."""
    uri = f"file:{data / 'sidestream.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
        rows = db.execute(
            "SELECT s.title, m.status, m.content || coalesce((SELECT group_concat(text, '')"
            " FROM (SELECT text FROM message_chunks c WHERE c.message_id = m.id ORDER BY c.id)),"
            " ''), m.reason FROM messages m JOIN sessions s ON s.id = m.session_id"
            " WHERE m.role = 'assistant'"
        ).fetchall()
    return {title: (status, content, reason) for title, status, content, reason in rows}


@pytest.mark.parametrize("number", list(TRIES), ids=[s.name for s in TRIES])
def test_a_signal_during_streams_quits_cleanly_with_every_partial_text_on_disk(
    number: signal.Signals,
    desktop: DesktopSession,
    tmp_path: Path,
    figures: Figures,
) -> None:
    held = 0
    details: list[str] = []
    with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
        for attempt in range(TRIES[number]):
            data = tmp_path / f"data-{attempt}"
            app = App(desktop, data, demo, attempt)
            try:
                prompts = [f"{number.name} {attempt} c{index}" for index in range(2)]
                app.send_and_wait_for_text(demo, prompts)
                # Text the app has received, not only text the server sent: the
                # signal must land on replies that hold some.
                wait_until(
                    functools.partial(have_text_on_disk, data, prompts),
                    WAIT,
                    "text of both replies on disk",
                )
                app.proc.send_signal(number)
                code = app.wait_for_exit(number.name)
            finally:
                app.close()
            output = app.output()
            assert code == 0, f"{number.name} try {attempt}: exit {code}\n{output}"
            assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
            replies = stored_replies(data)
            assert sorted(replies) == sorted(prompts)
            for prompt, (status, content, reason) in replies.items():
                assert (status, reason) == (
                    MessageStatus.INTERRUPTED.value,
                    InterruptReason.APP_QUIT.value,
                ), prompt
                assert content and demo_reply(prompt, TOKENS).startswith(content), prompt
            assert demo.wait_until(lambda: demo.open_connections == 0, 5.0)
            held += 1
            details.append(f"{sum(len(c) for _, c, _ in replies.values())} chars kept")
    figures.record(
        SCENARIO,
        TRIES[number],
        held,
        f"{number.name} to the windowed app (python -m desktop --demo on Xvfb) while two "
        f"replies stream: exit 0 every time, no traceback, both replies `interrupted` "
        f"(app quit) with their text a non-empty prefix of the demo's ({', '.join(details)}), "
        "the server saw every connection closed",
    )
    assert held == TRIES[number]
