"""The whole app flat out: one huge reply into the chat on screen, against a raw client.

    python -m benchmarks.bench_app [--quick]

The app side is the app as ``python -m desktop --demo`` wires it: services
from ``build_services`` on a new data folder, the demo provider pointed at a
demo server in its own process, the real MainWindow shown (on the X display:
``bash packaging/dev.sh bench`` starts Xvfb when there is none; offscreen
without one) with the app's tray, notifications, garbage collector and qasync
loop, and the message typed into the composer of a new chat and sent with
Enter. The raw side is httpx-sse plus ``json.loads`` of every event, nothing
else, on plain asyncio. Both read the same dialect (OpenAI Responses, the
demo provider's), send the same request body to a demo server started with
the same settings (unpaced, the same reply length: the demo's reply depends
only on the prompt and the length, so both get the same reply) and count the
reply's text deltas from the first byte to the terminal event. Every
measurement gets a fresh demo server, and the order alternates between
rounds. Two figures in between tell where the gap lies: the raw client on
the app's qasync loop (the loop's own cost) and the app's services with no
window (``ChatService.send``: provider, stream manager, store). The window
thread's CPU time in the app run is split into view updates, repaints and
the rest. Prints figures; asserts no times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import httpx
import httpx_sse
import PySide6.QtWidgets  # noqa: F401  (before qasync, which event_loop imports)
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from benchmarks.bench_stream import demo_process
from desktop.app import QuitChoice, SidestreamApp
from desktop.core.states import MessageStatus
from desktop.services import Services, build_services
from desktop.store import KeyStore, Store
from desktop.streaming.events import Callbacks, StreamEnded
from desktop.ui.chat_view import ChatView
from desktop.ui.collector import GuiThreadCollector
from desktop.ui.event_loop import new_event_loop
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import RecordingNotifier
from desktop.ui.tray import Tray

GOAL = 0.8
PROMPT = "Tell me everything, as fast as you can."
DEMO_MODEL = "sidestream-demo"
# The view's one way in for text and state, timed.
VIEW_UPDATES = ("reconcile",)


@dataclass
class Ingest:
    """One reply read from its first event to its terminal event."""

    events: float  # text deltas after the first byte (the app's: see Timing.ingest)
    seconds: float
    extra: dict[str, float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds


# ------------------------------------------------------------------- raw side
def responses_body(prompt: str) -> dict[str, object]:
    """The body the app's Responses provider sends for a one-message chat."""
    return {
        "model": DEMO_MODEL,
        "input": [{"role": "user", "content": prompt}],
        "stream": True,
        "background": True,
        "store": True,
    }


async def raw_reply(url: str, prompt: str) -> Ingest:
    """The ceiling: httpx-sse iteration and ``json.loads`` of every event."""
    deltas = 0
    first = end = 0.0
    async with (
        httpx.AsyncClient(timeout=60) as client,
        httpx_sse.aconnect_sse(
            client, "POST", f"{url}/v1/responses", json=responses_body(prompt)
        ) as source,
    ):
        async for sse in source.aiter_sse():
            if not first:
                first = time.perf_counter()
            payload = json.loads(sse.data)
            kind = payload.get("type")
            if kind == "response.output_text.delta":
                deltas += 1
            elif kind in ("response.completed", "response.failed", "response.incomplete"):
                end = time.perf_counter()
                # Read on to the end of the body (nothing more comes): leaving
                # httpx's generators unfinished would leave them to be closed
                # by the garbage collector, outside any running loop.
    if not end:
        raise RuntimeError("the raw stream ended without a terminal event")
    # The first event is the response's creation: every delta counted came after it.
    return Ingest(deltas, end - first, {})


# ------------------------------------------------------------------- app side
class Timed:
    """Count and CPU time (this thread's) of calls to some methods of a class, while installed."""

    def __init__(self, cls: type, names: tuple[str, ...]) -> None:
        self.cls = cls
        self.names = tuple(n for n in names if callable(getattr(cls, n, None)))
        self.calls = 0
        self.seconds = 0.0
        self.counting = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[Timed]:
        originals = {name: self.cls.__dict__.get(name) for name in self.names}
        for name in self.names:
            setattr(self.cls, name, self._wrap(getattr(self.cls, name)))
        try:
            yield self
        finally:
            for name, original in originals.items():
                if original is None:
                    delattr(self.cls, name)
                else:
                    setattr(self.cls, name, original)

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.counting:
                return method(*args, **kwargs)
            t0 = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - t0
                self.calls += 1

        return timed


class TimedWindow(MainWindow):
    """The app's MainWindow, timing the window's repaints in CPU time (an
    UpdateRequest paints every dirty widget into the backing store and
    flushes it to the screen)."""

    repaints = 0
    repaint_s = 0.0
    counting = False

    def event(self, event: QEvent) -> bool:
        if not self.counting or event.type() != QEvent.Type.UpdateRequest:
            return super().event(event)
        t0 = time.thread_time()
        try:
            return super().event(event)
        finally:
            self.repaint_s += time.thread_time() - t0
            self.repaints += 1


async def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(step)


@dataclass
class Timing:
    first: float  # perf_counter when the live state first held text
    cpu_first: float  # this thread's CPU time then
    chars_first: int  # characters of text it held then
    end: float  # perf_counter at the terminal event
    cpu_end: float
    ended: StreamEnded

    def ingest(self, tokens: int, extra: dict[str, float]) -> Ingest:
        """The text deltas after the first byte: the reply's tokens (its usage)
        times the share of its text that came after it."""
        after = tokens * (len(self.ended.text) - self.chars_first) / len(self.ended.text)
        seconds = self.end - self.first
        cpu = self.cpu_end - self.cpu_first
        return Ingest(after, seconds, {"tokens": tokens, "cpu_s": cpu, "wall_s": seconds, **extra})


async def time_reply(
    services: Services,
    session_id: int,
    send: Callable[[], object],
    timeout: float,
    on_first: Callable[[], object] = lambda: None,
) -> Timing:
    """Call ``send``; time the chat's reply from its first byte (then call
    ``on_first``) to its terminal event.

    The first byte is when the manager's live state first holds text (polled
    every half millisecond until then, and not after). The end is the
    manager's terminal event (the reply finished and on disk).
    """
    manager = services.manager
    ended: asyncio.Future[tuple[float, float, StreamEnded]] = (
        asyncio.get_running_loop().create_future()
    )

    def on_end(end: StreamEnded) -> None:
        if end.session_id == session_id and not ended.done():
            ended.set_result((time.perf_counter(), time.thread_time(), end))

    ends = Callbacks(ended=on_end)
    manager.attach(None, ends)
    try:
        send()
        deadline = time.monotonic() + timeout
        while True:
            snapshot = manager.snapshot(session_id)
            if snapshot is not None and snapshot.text:
                first, cpu0, chars0 = time.perf_counter(), time.thread_time(), len(snapshot.text)
                on_first()
                break
            if ended.done() or time.monotonic() > deadline:
                raise RuntimeError("the reply never had text")
            await asyncio.sleep(0.0005)
        end_t, cpu1, end = await asyncio.wait_for(ended, timeout)
    finally:
        manager.detach(None, ends)
    if end.status is not MessageStatus.COMPLETE:
        raise RuntimeError(f"the reply ended {end.status}: {end.error}")
    return Timing(first, cpu0, chars0, end_t, cpu1, end)


def output_tokens(services: Services, message_id: int) -> int:
    message = services.chat.message(message_id)
    if message is None or not message.output_tokens:
        raise RuntimeError("the reply has no usage")
    return message.output_tokens


@contextlib.contextmanager
def app_services(url: str, data_dir: Path) -> Iterator[Services]:
    """The services as ``python -m desktop --demo`` builds them, gc as the app runs it."""
    collector = GuiThreadCollector()  # automatic gc off, run from a timer
    collector.start()
    try:
        services = build_services(Store.open(data_dir), KeyStore(), demo_url=url)
        for provider in services.settings.providers():  # as --demo does
            if provider.is_demo:
                services.settings.set_default_provider(provider.id)
        yield services
    finally:
        collector.stop()


async def app_reply(url: str, data_dir: Path, prompt: str, timeout: float) -> Ingest:
    """Type ``prompt`` into the composer of a new chat on screen, press Enter; time the reply."""
    view_updates = Timed(ChatView, VIEW_UPDATES)
    with app_services(url, data_dir) as services, view_updates.installed():
        window = TimedWindow(services.chat, services.settings, demo_only=services.demo_only)
        tray = Tray(services.manager.streaming_count, window.unread_count, available=False)
        app = SidestreamApp(
            services,
            window,
            tray=tray,
            notifier=RecordingNotifier(),
            ask_quit=lambda live, tray_available: QuitChoice.QUIT,
        )
        try:
            await services.recover()
            window.resize(1200, 800)
            window.show()
            tab = window.new_chat()
            assert tab is not None
            await wait_for(window.isVisible, 10)
            await asyncio.sleep(0.2)  # the window laid out and painted once
            gc.collect()

            def send() -> None:
                tab.composer.set_text(prompt)
                QTest.keyClick(tab.composer.input, Qt.Key.Key_Return)

            def count() -> None:
                view_updates.counting = window.counting = True

            timing = await time_reply(services, tab.session_id, send, timeout, count)
            window.counting = view_updates.counting = False
            mid, text = timing.ended.message_id, timing.ended.text
            await wait_for(lambda: tab.view.message_text(mid) == text, timeout)
            shown = time.perf_counter()
            tokens = output_tokens(services, mid)
        finally:
            await app.shutdown()
    return timing.ingest(
        tokens,
        {
            "updates": view_updates.calls,
            "update_s": view_updates.seconds,
            "repaints": window.repaints,
            "repaint_s": window.repaint_s,
            "shown_ms": (shown - timing.end) * 1000,
        },
    )


async def services_reply(url: str, data_dir: Path, prompt: str, timeout: float) -> Ingest:
    """The same wiring with no window: ``ChatService.send`` in a new chat; time the reply."""
    with app_services(url, data_dir) as services:
        tasks: list[asyncio.Task[object]] = []
        try:
            session = services.chat.create_chat()
            gc.collect()
            sid = session.id

            def send() -> None:
                tasks.append(asyncio.ensure_future(services.chat.send(sid, prompt)))

            timing = await time_reply(services, sid, send, timeout)
            await asyncio.gather(*tasks)
            tokens = output_tokens(services, timing.ended.message_id)
        finally:
            await services.aclose()
    return timing.ingest(tokens, {})


# ---------------------------------------------------------------------- runs
Bench = Callable[[str, Path, str, float], Coroutine[Any, Any, Ingest]]


def measure(loop: asyncio.AbstractEventLoop | None, bench: Bench, tokens: int) -> Ingest:
    """One reply from a fresh demo server: on ``loop``, or on plain asyncio when None."""
    with tempfile.TemporaryDirectory() as tmp, demo_process(rate=0, tokens=tokens) as url:
        gc.collect()
        run = bench(url, Path(tmp), PROMPT, 60 + tokens / 1000)
        if loop is not None:
            return loop.run_until_complete(run)
        # Not asyncio.run: that would unset the app's loop as the current one.
        plain = asyncio.new_event_loop()
        try:
            return plain.run_until_complete(run)
        finally:
            plain.run_until_complete(plain.shutdown_asyncgens())
            plain.close()


async def raw_bench(url: str, data_dir: Path, prompt: str, timeout: float) -> Ingest:
    return await asyncio.wait_for(raw_reply(url, prompt), timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 tokens, one round")
    args = parser.parse_args(argv)
    tokens = 20_000 if args.quick else 100_000
    rounds = 1 if args.quick else 3
    import keyring

    from tests.support.services import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())  # the demo provider needs no key; touch no real keyring
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setQuitOnLastWindowClosed(False)
    loop = new_event_loop(qapp)
    asyncio.set_event_loop(loop)
    platform = QGuiApplication.platformName()
    print(f"Sidestream app benchmark — Qt platform {platform}, {os.cpu_count()} cores")
    print(f"\n== The whole app flat out: one reply of {tokens:,} tokens into the chat on screen")
    print(
        "   OpenAI Responses (the demo provider's dialect), unpaced demo server in its own"
        f" process, a fresh one per reply; events/s from the first byte to the terminal event;"
        f" {rounds} round(s), the order alternating"
    )
    kinds: dict[str, tuple[asyncio.AbstractEventLoop | None, Bench]] = {
        "raw": (None, raw_bench),
        "raw on qasync": (loop, raw_bench),
        "no window": (loop, services_reply),
        "app": (loop, app_reply),
    }
    runs: dict[str, list[Ingest]] = {kind: [] for kind in kinds}
    with loop:
        for on, bench in kinds.values():  # warm-up, not reported: code paths and caches
            measure(on, bench, 2_000)
        for r in range(rounds):
            order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
            for kind in order:
                runs[kind].append(measure(*kinds[kind], tokens))
            rates = "   ".join(f"{kind} {runs[kind][-1].rate:7.0f}/s" for kind in kinds)
            ratio = runs["app"][-1].rate / runs["raw"][-1].rate
            print(f"   round {r + 1}: {rates}   ratio {ratio:.2f}")
    rate = {kind: statistics.median(i.rate for i in done) for kind, done in runs.items()}
    raw = rate["raw"]
    apps = runs["app"]
    x = sorted(apps, key=lambda i: i.rate)[len(apps) // 2].extra  # the median run's
    lines = (
        ("raw ceiling, httpx-sse + json.loads on plain asyncio", "raw"),
        ("the raw client on the app's qasync loop", "raw on qasync"),
        ("the app's services, no window (ChatService.send)", "no window"),
        ("the app, its window on screen (composer, Enter)", "app"),
    )
    for label, kind in lines:
        print(f"   {label + ':':54} {rate[kind]:7.0f} events/s ({rate[kind] / raw:.2f} of raw)")
    print(
        f"   ratio app / raw {rate['app'] / raw:.2f} (goal >= {GOAL}); median of {rounds}"
        f" round(s); {runs['raw'][0].events:,.0f} text deltas read raw,"
        f" {x['tokens']:,.0f} tokens in the app's reply"
    )
    other = x["cpu_s"] - x["update_s"] - x["repaint_s"]
    print(
        f"   window thread, median app run: CPU {x['cpu_s']:.2f} s of {x['wall_s']:.2f} s wall"
        f" ({x['cpu_s'] / x['wall_s']:.0%}); view updates {x['updates']:.0f}"
        f" taking {x['update_s'] * 1000:.0f} ms, repaints {x['repaints']:.0f}"
        f" taking {x['repaint_s'] * 1000:.0f} ms; the rest (HTTP, SSE, parsing, stream"
        f" manager, bridge, loop) {other:.2f} s"
    )
    shown_ms = statistics.median(i.extra["shown_ms"] for i in apps)
    print(
        f"   on screen: the whole reply shown {shown_ms:.0f} ms after the terminal event (median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
