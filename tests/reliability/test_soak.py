"""Load and soak: 500 replies through one StreamManager with switching, stops,
evictions and faults (issue 6).

A seeded random load: replies start every few milliseconds in 40 chats
across the three dialects, at most 5 at once (so the 6th evicts the oldest
one nobody watches), while listeners attach and detach at random (tab
switching), some replies are stopped, and about a third carry a fault (cut,
stall past the read timeout, malformed event, HTTP 500, error event). Every
reply must end exactly once, in a state its fault allows, with its text on
disk equal to what was announced; a complete one with exactly the demo's
text. Afterwards nothing is left: no live reply, no listener, no task, no
open connection on the server, and the process's memory is back within
10 MB of where it stood after a warm-up of 100 replies.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from desktop.core.models import ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.base import Provider
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.store import Store
from desktop.streaming.manager import StreamManager
from desktop.streaming.stream import ConcurrencyLimitError
from tests.reliability.conftest import Figures
from tests.reliability.helpers import ALL_KINDS, SHORT, Ended, Recorder, make_provider, request
from tests.support.aio import run, wait_for

SCENARIO = "Load and soak"
STREAMS = 500
WARM_UP = 100
CHATS = 40
LIMIT = 5
TOKENS = 40
RATE = 200.0
READ_TIMEOUT = 0.3
RSS_SLACK = 10 * 1024 * 1024
FORGET_EVERY = 20
DEFAULT_SEED = 5_0006

FAULTS: dict[str, dict[str, object]] = {
    "none": {},
    "cut": {"cut_after": 8},
    "stall": {"stall_after": 5},
    "malformed": {"malformed_after": 4},
    "http-500": {"status": 500},
    "error-event": {"error_event_after": 6},
}
FAULT_WEIGHTS = {"none": 14, "cut": 2, "stall": 1, "malformed": 1, "http-500": 1, "error-event": 1}

TERMINAL = {
    MessageStatus.COMPLETE,
    MessageStatus.FAILED,
    MessageStatus.STOPPED,
    MessageStatus.INTERRUPTED,
}


@dataclass
class Started:
    message_id: int
    session_id: int
    kind: ProviderKind
    fault: str
    prompt: str


def allowed(started: Started, status: MessageStatus, reason: str | None) -> bool:
    """The end states a reply with this fault may reach (stop and eviction: any)."""
    if status is MessageStatus.STOPPED:
        return True
    if status is MessageStatus.INTERRUPTED and reason == InterruptReason.EVICTED.value:
        return True
    resumable = started.kind is ProviderKind.OPENAI_RESPONSES
    fault = started.fault
    if fault == "none":
        return status is MessageStatus.COMPLETE
    if fault in ("cut", "stall"):
        if resumable:
            return status is MessageStatus.COMPLETE
        want = InterruptReason.CONNECTION_LOST if fault == "cut" else InterruptReason.STALLED
        return status is MessageStatus.INTERRUPTED and reason == want.value
    if fault == "malformed" and resumable:
        # Unreadable stream, but the stored response can tell its text.
        return status in (MessageStatus.COMPLETE, MessageStatus.FAILED)
    return status is MessageStatus.FAILED


async def collect_like_the_app(interval: float = 1.0) -> None:
    """What desktop.ui.collector.GuiThreadCollector does, on this loop's thread.

    The app turns automatic collection off (so that no cycle holding a Qt
    object is collected off the GUI thread) and collects from a 1 s timer on
    the GUI thread instead; the test session turns it off too, so the soak
    collects the way the app does.
    """
    thresholds = gc.get_threshold()
    while True:
        await asyncio.sleep(interval)
        count0, count1, count2 = gc.get_count()
        if count0 > thresholds[0]:
            generation = 0
            if count1 > thresholds[1]:
                generation = 2 if count2 > thresholds[2] else 1
            gc.collect(generation)


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def forget_server_state(demo: DemoServer, response_ids: list[str]) -> None:
    """Drop what the demo server keeps for tests: its log, and stored responses
    whose replies have ended here.

    The server runs in this process. Done every few replies, so that its
    records (every connection, request and delta) never pile up: memory
    Python frees is rarely given back to the OS, so their high-water mark
    would stay in the RSS and be counted as the client's.
    """
    with httpx.Client(timeout=5) as client:
        for response_id in response_ids:
            client.delete(f"{demo.openai_base_url}/responses/{response_id}")
    demo.clear_log()


def test_500_streams_with_switching_stops_evictions_and_faults_leave_nothing_behind(
    tmp_path: Path, figures: Figures
) -> None:
    seed = int(os.environ.get("SIDESTREAM_SOAK_SEED", DEFAULT_SEED))
    rng = random.Random(seed)
    print(f"soak seed {seed} (set SIDESTREAM_SOAK_SEED to repeat another)")
    counts: Counter[str] = Counter()
    memory: dict[str, int] = {}
    started_at = time.monotonic()

    with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
        store = Store.open(tmp_path / "data")
        sessions = [store.create_session(f"soak chat {i}").id for i in range(CHATS)]
        replies: dict[int, Started] = {}

        async def scenario() -> None:
            manager = StreamManager(store, limit=LIMIT, resume_backoff=(0.05, 0.1, 0.2, 0.4))
            ended = Ended(manager)
            collector = asyncio.create_task(collect_like_the_app())
            providers: dict[tuple[ProviderKind, str], Provider] = {
                (kind, fault): make_provider(demo, kind, read_timeout=READ_TIMEOUT, **knobs)
                for kind in ALL_KINDS
                for fault, knobs in FAULTS.items()
            }
            views: dict[int, Recorder] = {}
            # A view's whole life, to check against the end it saw.
            finished_views: list[tuple[int, Recorder]] = []

            forgotten: set[int] = set()

            def ended_responses() -> list[str]:
                """Response ids of Responses replies that ended since the last call."""
                ids = []
                for message_id in list(ended.events):
                    started = replies.get(message_id)
                    if message_id in forgotten or started is None:
                        continue
                    forgotten.add(message_id)
                    message = store.get_message(message_id)
                    if started.kind is ProviderKind.OPENAI_RESPONSES and message and message.cursor:
                        ids.append(message.cursor.rpartition(":")[0])
                return ids

            def switch() -> None:
                session_id = rng.choice(sessions)
                view = views.pop(session_id, None)
                if view is None:
                    view = views[session_id] = Recorder()
                    view.start_from(manager.attach(session_id, view))
                    counts["attaches"] += 1
                else:
                    manager.detach(session_id, view)
                    counts["detaches"] += 1

            async def start_one(index: int) -> None:
                idle = [s for s in sessions if not manager.is_live(s)]
                session_id = rng.choice(idle)
                kind = rng.choice(ALL_KINDS)
                fault = rng.choices(list(FAULT_WEIGHTS), weights=list(FAULT_WEIGHTS.values()))[0]
                prompt = f"soak {seed} reply {index} {SHORT[kind]} {fault}"
                await manager.run_store(store.add_message, session_id, Role.USER, prompt)
                message = await manager.run_store(
                    functools.partial(
                        store.add_message,
                        session_id,
                        Role.ASSISTANT,
                        "",
                        status=MessageStatus.STREAMING,
                    )
                )
                try:
                    manager.start_reply(
                        session_id, message.id, providers[(kind, fault)], request(prompt)
                    )
                except ConcurrencyLimitError:
                    # Every live reply is on screen: the user is told to stop one.
                    counts["refused (all 5 on screen)"] += 1
                    await manager.run_store(
                        store.finish_message, message.id, "", MessageStatus.FAILED
                    )
                    victim = rng.choice([s for s in views if manager.is_live(s)])
                    manager.detach(victim, views.pop(victim))
                    counts["detaches"] += 1
                    return
                replies[message.id] = Started(message.id, session_id, kind, fault, prompt)
                counts[f"fault {fault}"] += 1

            index = 0
            while len(replies) < STREAMS:
                index += 1
                if len(replies) == WARM_UP and "after warm-up" not in memory:
                    await wait_for(lambda: manager.live_count() == 0, 30, "the warm-up to end")
                    await asyncio.to_thread(forget_server_state, demo, ended_responses())
                    memory["after warm-up"] = rss()
                if index % FORGET_EVERY == 0:
                    await asyncio.to_thread(forget_server_state, demo, ended_responses())
                for _ in range(rng.choice((0, 0, 1, 2))):
                    switch()
                if rng.random() < 0.08:
                    live = manager.live_sessions()
                    if live:
                        manager.stop(rng.choice(live))
                        counts["stops asked"] += 1
                await start_one(index)
                # The load's own rhythm: a new reply every 0-60 ms, each
                # streaming for about 0.2 s, so often more than 5 want to run.
                await asyncio.sleep(rng.uniform(0.0, 0.06))

            await wait_for(
                lambda: all(m in ended.events for m in replies), 60, "every reply to end"
            )
            for session_id, view in views.items():
                manager.detach(session_id, view)
                finished_views.append((session_id, view))
            views.clear()
            assert manager.live_count() == 0, "no live reply"
            assert manager.listener_count() == 0, "no listener"
            await manager.shutdown()
            assert manager.task_count() == 0, "no task"
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)
            for provider in providers.values():
                await provider.aclose()
            for started in replies.values():
                event = ended.events[started.message_id]
                counts[f"ended {event.status.value}"] += 1
                if event.reason == InterruptReason.EVICTED.value:
                    counts["evicted"] += 1
            for _, view in finished_views:
                if view.final_text is not None:
                    # A view that watched a reply end saw no text the end contradicts.
                    assert view.final_text.startswith(view.text) or view.text.startswith(
                        view.final_text
                    )

            verify(store, replies, ended)

        run(scenario(), timeout=120)
        assert demo.wait_until(lambda: demo.open_connections == 0, 5.0), "no open connection"
        open_after = demo.open_connections
        forget_server_state(demo, demo.response_ids())
        memory["after 500"] = rss()
        store.close()

    growth = memory["after 500"] - memory["after warm-up"]
    elapsed = time.monotonic() - started_at
    mib = 1024 * 1024
    ended_line = ", ".join(
        f"{n} {k[len('ended ') :]}" for k, n in sorted(counts.items()) if k.startswith("ended ")
    )
    fault_line = ", ".join(
        f"{n} {k[len('fault ') :]}" for k, n in sorted(counts.items()) if k.startswith("fault ")
    )
    passed = len(replies) if growth <= RSS_SLACK else 0
    figures.record(
        SCENARIO,
        len(replies),
        passed,
        f"seed {seed}; {len(replies)} replies in {elapsed:.0f} s, limit {LIMIT}, {CHATS} chats; "
        f"{counts['refused (all 5 on screen)']} more refused while all 5 live were on screen",
        f"faults: {fault_line}",
        f"ended: {ended_line}; {counts['evicted']} of them evicted; "
        f"{counts['stops asked']} stops asked",
        f"switching: {counts['attaches']} attaches, {counts['detaches']} detaches",
        f"afterwards: 0 live replies, 0 listeners, 0 tasks, {open_after} open connections",
        f"RSS after warm-up {memory['after warm-up'] / mib:.1f} MiB, after {STREAMS} "
        f"{memory['after 500'] / mib:.1f} MiB: {growth / mib:+.1f} MiB (limit +10 MiB)",
    )
    assert growth <= RSS_SLACK, f"RSS grew by {growth / mib:.1f} MiB"


def verify(store: Store, replies: dict[int, Started], ended: Ended) -> None:
    for started in replies.values():
        event = ended.events[started.message_id]
        message = store.get_message(started.message_id)
        assert message is not None
        assert message.status is event.status and message.status in TERMINAL
        assert message.content == event.text, "what was announced is what is on disk"
        assert allowed(started, message.status, message.reason), (started, message)
        full = demo_reply(started.prompt, TOKENS)
        if message.status is MessageStatus.COMPLETE:
            assert message.content == full
        else:
            assert full.startswith(message.content)
