"""kill -9 during five concurrent streams, over and over on one data folder (issue 6).

Each run starts :mod:`tests.reliability.crash_driver` (the app's services in a
process, exactly as the app builds them, minus the window) on the same data
folder, waits until its five new replies stream, waits a random moment and
kills it with SIGKILL. The demo server runs here, in the test process, so it
outlives every kill and its log says what it sent, and when.

After every kill, on a copy of the folder as the kill left it (database and
write-ahead log; the copy leaves the real folder untouched for the next start):

* the database opens as is (no "damaged, moved aside") and ``PRAGMA
  integrity_check`` says ok; the next start also opens it, takes the data
  folder's lock and reports integrity ok;
* every reply's stored text is a prefix of the text the server generated for
  it (no corruption, no duplicate, no gap), and a finished one is complete;
* nothing older than the flush interval is lost: of the text the killed
  process had been sent, only what the server sent in the last
  ``LOSS_BOUND`` seconds before the kill may be missing (see the loop's module);
* on the next start, each reply the kill cut is resumed (Responses: its
  cursor, the response id, is written as soon as it arrives, then with every
  flush) or marked ``interrupted`` with its text exactly as it was on disk
  (Chat Completions, which cannot resume; also a Responses reply killed in
  the millisecond between its first event and the write of its cursor).

A last, clean run lets every resumed reply finish: each Responses reply is
then complete with exactly the demo's text.

The loop, the checks after each kill and the loss bound are shared with the
windowed app's crash test: :mod:`tests.reliability.kill_loop`. The worst loss
seen is printed with the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from desktop.core.models import ProviderKind
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.store import Store
from desktop.streaming.manager import StreamManager
from tests.reliability.conftest import Figures
from tests.reliability.helpers import make_provider, new_reply, request
from tests.reliability.kill_loop import KillLoop, Program, Reply, crash_seed
from tests.support.aio import run, wait_for

SCENARIO = "Crash safety (kill -9)"
RUNS = 30
STREAMS = 5
RESUMABLE_PER_RUN = 3
TOKENS = 150
RATE = 100.0  # tokens/s: a reply streams for 1.5 s
ROOT = Path(__file__).resolve().parents[2]


class Driver(Program):
    """One run of the crash driver; reads its JSON lines on a thread."""

    def __init__(self, data_dir: Path, demo_url: str, args: list[str], log: Path) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_API_KEY") and not k.startswith("SIDESTREAM_")
        }
        env["PYTHONPATH"] = str(ROOT)
        self.started_at = time.monotonic()
        self._stderr = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.crash_driver",
                "--data-dir",
                str(data_dir),
                "--demo-url",
                demo_url,
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.events: Queue[dict[str, Any]] = Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exit"})

    def until(self, event: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every event up to and including the first ``event``."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise AssertionError(f"no {event!r} from the driver; got {seen}") from None
            seen.append(item)
            if item["event"] == event:
                return seen
            if item["event"] == "exit":
                raise AssertionError(f"the driver exited before {event!r}: {seen}")

    def close(self) -> None:
        super().close()
        self._reader.join(5)
        self._stderr.close()


def one(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [e for e in events if e["event"] == name]
    assert len(found) == 1, (name, events)
    return found[0]


def test_kill_9_during_five_streams_loses_nothing_older_than_a_flush(
    tmp_path: Path, figures: Figures
) -> None:
    seed = crash_seed("crash test")
    data = tmp_path / "data"
    log = tmp_path / "driver.log"

    with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
        crash = KillLoop(
            demo, data, tmp_path, seed, "the services process", STREAMS, figures, SCENARIO
        )
        tally = crash.tally

        def start(run: int) -> Driver:
            kinds = ["responses"] * RESUMABLE_PER_RUN + ["chat"] * (STREAMS - RESUMABLE_PER_RUN)
            crash.rng.shuffle(kinds)
            args = ["--kinds", ",".join(kinds), "--prompt-prefix", f"crash {seed} run {run}"]
            return Driver(data, demo.url, args, log)

        def stream(driver: Driver, run: int) -> None:
            events = driver.until("live")
            check_start(events, crash)
            for chat in (e for e in events if e["event"] == "chat"):
                crash.replies[chat["prompt"]] = Reply(
                    chat["prompt"], run, TOKENS, chat["kind"], chat["session"], chat["message"]
                )

        def settle(run: int) -> None:
            """A clean start: it resumes what the last kill cut and lets it end."""
            driver = Driver(
                data, demo.url, ["--settle", "--prompt-prefix", f"crash {seed} run {run}"], log
            )
            try:
                check_start(driver.until("settled"), crash)
                assert driver.proc.wait(30) == 0
            finally:
                driver.close()

        try:
            crash.run(RUNS, start, stream, settle)
        finally:  # the figures, also of a run that failed part-way
            crash.report(
                starts=f"{tally.integrity_ok}/{tally.opens} starts opened the folder as left (lock "
                f"free, no corruption recovery); integrity_check ok on {tally.integrity_ok} starts "
                f"and {tally.kills_ok} post-kill copies",
                recovery=f"cut replies on the next start: {tally.resumed} resumed (Responses), "
                f"{tally.interrupted_with_text} interrupted with their text intact (Chat "
                f"Completions), {tally.interrupted_without_cursor} Responses replies interrupted "
                f"for want of a cursor on disk",
                settled=f"{tally.complete_exact} replies complete with exactly the demo's text "
                "after the final clean start",
            )
    assert tally.kills == RUNS and tally.kills_ok == RUNS


def check_start(events: list[dict[str, Any]], crash: KillLoop) -> None:
    """The driver opened the folder as the kill left it and recovered what it cut."""
    tally = crash.tally
    opened = one(events, "open")
    tally.opens += 1
    assert opened["recovered_from_corruption"] is None, opened
    assert opened["integrity"] == "ok", opened
    tally.integrity_ok += 1
    check_recovery(one(events, "recovered"), crash)


def check_recovery(recovered: dict[str, Any], crash: KillLoop) -> None:
    """What the start after a kill did with each reply the kill left live."""
    tally, left_live = crash.tally, crash.left_live
    resumed, interrupted = set(recovered["resumed"]), set(recovered["interrupted"])
    assert not recovered["completed"], recovered
    # Replies resumed by an earlier start and cut again are in ``left_live`` too.
    assert resumed | interrupted == set(left_live), (recovered, sorted(left_live))
    replies = crash.by_id()
    for message_id, stored in left_live.items():
        reply = replies[message_id]
        if reply.kind == "responses" and stored.cursor:
            assert message_id in resumed, (message_id, recovered)
            tally.resumed += 1
            tally.resumed_ids.add(message_id)
            continue
        assert message_id in interrupted, (message_id, recovered)
        tally.interrupted_text[message_id] = stored.content
        if stored.cursor is None and reply.kind == "responses":
            tally.interrupted_without_cursor += 1
        else:
            tally.interrupted_with_text += 1


def test_a_resumable_reply_saves_its_cursor_before_the_first_flush_tick(
    demo: DemoServer, store: Store, figures: Figures
) -> None:
    """The first cursor (the response id) is written at once, not at the next tick:
    a crash in a reply's first flush interval must not cost its resumability."""
    case = figures.case(
        "Resumable after a crash", "the response id is on disk before the first flush tick"
    )
    sid, mid = new_reply(store, "cursor first")
    slow_tick = 30.0

    def stored_cursor() -> str | None:
        message = store.get_message(mid)
        assert message is not None
        return message.cursor

    async def scenario() -> float:
        manager = StreamManager(store, flush_interval=slow_tick)
        provider = make_provider(demo, ProviderKind.OPENAI_RESPONSES, rate=20, tokens=200)
        started = time.monotonic()
        manager.start_reply(sid, mid, provider, request("cursor first"))
        await wait_for(lambda: stored_cursor() is not None, 5, "the cursor on disk")
        took = time.monotonic() - started
        await manager.shutdown()
        await provider.aclose()
        return took

    took = run(scenario())
    cursor = stored_cursor()
    assert cursor is not None and cursor.startswith("resp_")
    assert took < 1.0 < slow_tick
    case.detail += f": on disk {took * 1000:.0f} ms after the start (flush tick {slow_tick:g} s)"
