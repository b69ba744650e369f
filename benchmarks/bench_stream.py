"""Streaming core benchmarks: throughput, persistence cost, memory. Prints figures.

    python -m benchmarks.bench_stream [--quick]

The demo server runs in its own process (as a real provider would), so the
client side measured here has the interpreter to itself. Each comparison is
made inside one run (raw vs pipeline alternate), since the machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import httpx_sse

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import MessageStatus, Role
from desktop.providers.factory import create_provider
from desktop.store import Store, StreamFlush
from desktop.streaming.events import Callbacks, StreamEnded
from desktop.streaming.manager import StreamManager


@contextmanager
def demo_process(rate: float = 0, tokens: int = 300) -> Iterator[str]:
    """Start ``sidestream demo-server`` in a child process; yield its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop",
            "demo-server",
            "--port",
            "0",
            "--rate",
            str(rate),
            "--tokens",
            str(tokens),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        url = line.split()[-1]
        if not url.startswith("http"):
            raise RuntimeError(f"demo server said {line!r}")
        yield url.rstrip("/")
    finally:
        proc.terminate()
        proc.wait(10)


def headers(**knobs: object) -> dict[str, str]:
    return {"X-Demo-Options": ";".join(f"{k}={v}" for k, v in knobs.items())}


def chat_body(prompt: str) -> dict[str, object]:
    return {
        "model": "demo",
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
        "stream_options": {"include_usage": True},
    }


# ---------------------------------------------------------------- throughput
async def raw_stream(client: httpx.AsyncClient, url: str, tokens: int, i: int) -> int:
    """The ceiling: httpx-sse iteration plus json.loads of each chunk, nothing else."""
    count = 0
    async with httpx_sse.aconnect_sse(
        client,
        "POST",
        f"{url}/v1/chat/completions",
        json=chat_body(f"bench {i}"),
        headers=headers(rate=0, tokens=tokens),
    ) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            chunk = json.loads(sse.data)
            if chunk.get("choices"):
                count += 1
    return count


async def raw_run(url: str, streams: int, tokens: int) -> tuple[int, float]:
    async with httpx.AsyncClient(timeout=60) as client:
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(raw_stream(client, url, tokens, i) for i in range(streams)))
        return sum(counts), time.perf_counter() - t0


async def pipeline_run(url: str, streams: int, tokens: int, data_dir: Path) -> tuple[int, float]:
    """Provider parsing -> StreamManager -> batched persistence, no view attached."""
    store = Store.open(data_dir)
    manager = StreamManager(store, limit=streams)
    provider = create_provider(
        ProviderConfig(
            ProviderKind.OPENAI_CHAT,
            f"{url}/v1",
            api_key="bench",
            extra_headers=tuple(headers(rate=0, tokens=tokens).items()),
        )
    )
    done: list[StreamEnded] = []
    all_done = asyncio.Event()

    def on_end(ended: StreamEnded) -> None:
        done.append(ended)
        if len(done) == streams:
            all_done.set()

    manager.attach(None, Callbacks(ended=on_end))
    replies = []
    for i in range(streams):
        session = store.create_session(f"bench {i}")
        message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        replies.append((session.id, message.id, i))
    t0 = time.perf_counter()
    for sid, mid, i in replies:
        manager.start_reply(
            sid, mid, provider, ChatRequest("demo", (ChatTurn(Role.USER, f"bench {i}"),))
        )
    await all_done.wait()
    elapsed = time.perf_counter() - t0
    assert all(e.status is MessageStatus.COMPLETE for e in done), [e.error for e in done]
    events = 0
    for _, mid, _ in replies:
        message = store.get_message(mid)
        assert message is not None
        events += message.output_tokens or 0
    await manager.shutdown()
    await provider.aclose()
    store.close()
    return events, elapsed


def bench_throughput(url: str, quick: bool) -> None:
    tokens = 8000 if quick else 30000
    rounds = 2 if quick else 3
    print("\n== Throughput (events/s, Chat Completions, demo server in its own process)")
    print(f"   {tokens} events per stream, median of {rounds} alternating rounds")
    for streams in (1, 5):
        raw_rates, pipe_rates = [], []
        for r in range(rounds):
            n, secs = asyncio.run(raw_run(url, streams, tokens))
            raw_rates.append(n / secs)
            with tempfile.TemporaryDirectory() as tmp:
                n2, secs2 = asyncio.run(pipeline_run(url, streams, tokens, Path(tmp) / f"r{r}"))
            pipe_rates.append(n2 / secs2)
        raw, pipe = statistics.median(raw_rates), statistics.median(pipe_rates)
        print(
            f"   {streams} stream(s): raw httpx-sse {raw:9.0f}/s   pipeline {pipe:9.0f}/s"
            f"   ratio {pipe / raw:.2f}  (goal >= 0.8)"
        )


# --------------------------------------------------------------- persistence
def bench_flush_cost(quick: bool) -> None:
    print("\n== Persistence: one flush (append ~250 ms of text at 300 tok/s) and the final write")
    reps = 50 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        session = store.create_session("flush")
        for size in (1_000, 100_000, 1_000_000):
            message = store.add_message(
                session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING
            )
            store.flush_streaming([_flush(message.id, "x" * size)])
            append = "token " * 75  # ~75 tokens = 250 ms at 300 tokens/s
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                store.flush_streaming([_flush(message.id, append)])
                times.append((time.perf_counter() - t0) * 1000)
            text = "y" * size
            finals = []
            for _ in range(5):
                t0 = time.perf_counter()
                store.finish_message(message.id, text, MessageStatus.COMPLETE)
                finals.append((time.perf_counter() - t0) * 1000)
            times.sort()
            median = statistics.median(times)
            print(
                f"   message of {size / 1000:7.0f} KB: flush median {median:.3f} ms"
                f"  p99 {times[int(len(times) * 0.99) - 1]:.3f} ms  max {times[-1]:.3f} ms;"
                f"  final write median {statistics.median(finals):.2f} ms"
            )
        store.close()


def _flush(mid: int, text: str) -> StreamFlush:
    return StreamFlush(mid, text, MessageStatus.STREAMING, None, None, None, None)


def _wchar() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


async def _loop_lag_during(url: str, data_dir: Path, tokens: int, rate: int) -> dict[str, float]:
    """Stream 5 replies at ``rate`` tokens/s with a 1 ms heartbeat on the loop."""
    store = Store.open(data_dir)
    manager = StreamManager(store, limit=5)
    provider = create_provider(
        ProviderConfig(
            ProviderKind.OPENAI_CHAT,
            f"{url}/v1",
            api_key="bench",
            extra_headers=tuple(headers(rate=rate, tokens=tokens).items()),
        )
    )
    finished = asyncio.Event()
    ended: list[StreamEnded] = []

    def on_end(e: StreamEnded) -> None:
        ended.append(e)
        if len(ended) == 5:
            finished.set()

    manager.attach(None, Callbacks(ended=on_end))
    lags: list[float] = []

    async def heartbeat() -> None:
        loop = asyncio.get_running_loop()
        while not finished.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.001)
            lags.append((loop.time() - t0 - 0.001) * 1000)

    before = _wchar()
    beat = asyncio.create_task(heartbeat())
    for i in range(5):
        s = store.create_session(f"lag {i}")
        m = store.add_message(s.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        manager.start_reply(
            s.id, m.id, provider, ChatRequest("demo", (ChatTurn(Role.USER, f"lag {i}"),))
        )
    await finished.wait()
    await beat
    stats = manager.flush_stats
    await manager.shutdown()
    written = _wchar() - before
    total_text = sum(len(e.text.encode()) for e in ended)
    await provider.aclose()
    store.close()
    lags.sort()
    return {
        "p50": statistics.median(lags),
        "p99": lags[int(len(lags) * 0.99) - 1],
        "max": lags[-1],
        "written": written,
        "text": total_text,
        "flush_steps": stats.steps,
        "flush_mean_ms": stats.total_s / max(stats.steps, 1) * 1000,
        "flush_max_ms": stats.max_s * 1000,
    }


def bench_persistence_live(url: str, quick: bool) -> None:
    tokens = 1500 if quick else 5000
    print("\n== Persistence while streaming: 5 replies at 1,000 tokens/s, flush every 250 ms")
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(_loop_lag_during(url, Path(tmp), tokens, 1000))
    print(
        f"   time a flush holds the loop: mean {r['flush_mean_ms']:.3f} ms"
        f"  max {r['flush_max_ms']:.3f} ms over {r['flush_steps']} steps"
        "  (goal: never > 2 ms; SQLite runs on the writer thread)"
    )
    print(
        f"   loop lateness, 1 ms heartbeat, all work included: p50 {r['p50']:.2f} ms"
        f"  p99 {r['p99']:.2f} ms  max {r['max']:.2f} ms"
    )
    print(
        f"   bytes written by the process: {r['written'] / 1e6:.2f} MB for "
        f"{r['text'] / 1e3:.0f} KB of replies ({r['written'] / max(r['text'], 1):.1f}x);"
        f" text at risk: at most one flush interval (250 ms)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        s = store.create_session("bytes")
        m = store.add_message(s.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        chunk = "x" * 2_000  # 100 KB reply at 2 KB per 250 ms flush = 50 flushes
        before = _wchar()
        for _ in range(50):
            store.flush_streaming([_flush(m.id, chunk)])
        store.finish_message(m.id, chunk * 50, MessageStatus.COMPLETE)
        written = _wchar() - before
        store.close()
    print(
        f"   one 100 KB reply, 50 flushes + final write: {written / 1e3:.0f} KB written "
        f"({written / 100_000:.1f}x the text; rewriting the whole text each flush would be ~25x)"
    )


# --------------------------------------------------------------------- memory
def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _memory(url: str, data_dir: Path, quick: bool) -> tuple[float, float, int, int, int]:
    store = Store.open(data_dir)
    n_live = 20 if quick else 50
    manager = StreamManager(store, limit=n_live)
    slow = create_provider(
        ProviderConfig(
            ProviderKind.OPENAI_CHAT,
            f"{url}/v1",
            api_key="b",
            extra_headers=tuple(headers(rate=20, tokens=100000).items()),
        )
    )
    fast = create_provider(
        ProviderConfig(
            ProviderKind.OPENAI_CHAT,
            f"{url}/v1",
            api_key="b",
            extra_headers=tuple(headers(rate=0, tokens=300).items()),
        )
    )

    async def batch(provider: object, count: int, prefix: str) -> list[int]:
        sids = []
        for i in range(count):
            s = store.create_session(f"{prefix} {i}")
            m = store.add_message(s.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
            manager.start_reply(
                s.id,
                m.id,
                provider,  # type: ignore[arg-type]
                ChatRequest("demo", (ChatTurn(Role.USER, f"{prefix} {i}"),)),
            )
            sids.append(s.id)
        return sids

    manager.attach(None, Callbacks())
    # Warm-up: one round of fast streams so pools, caches and code are loaded.
    await batch(fast, 20, "warm")
    while manager.live_count():
        await asyncio.sleep(0.01)
    gc.collect()
    base = rss_kb()
    tracemalloc.start()
    traced0, _ = tracemalloc.get_traced_memory()
    await batch(slow, n_live, "live")
    await asyncio.sleep(1.0)  # let every stream connect and receive text
    traced1, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_stream = (rss_kb() - base) / n_live
    per_stream_py = (traced1 - traced0) / 1024 / n_live
    await manager.stop_all()
    gc.collect()
    after_warm = rss_kb()
    for _ in range(10):
        await batch(fast, 20, "done")
        while manager.live_count():
            await asyncio.sleep(0.01)
    gc.collect()
    after = rss_kb()
    await manager.shutdown()
    await slow.aclose()
    await fast.aclose()
    store.close()
    return per_stream, per_stream_py, after_warm, after, n_live


def bench_memory(url: str, quick: bool) -> None:
    print("\n== Memory")
    with tempfile.TemporaryDirectory() as tmp:
        per_stream, per_stream_py, before, after, n = asyncio.run(_memory(url, Path(tmp), quick))
    print(
        f"   added per live stream ({n} live, text arriving): {per_stream_py:.0f} KB of Python"
        f" objects (tracemalloc), {per_stream:.0f} KB of RSS"
    )
    print(
        f"   RSS before 200 completed streams {before / 1024:.1f} MB, after {after / 1024:.1f} MB"
        f"  (growth {(after - before) / 1024:+.1f} MB)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    print(
        f"Sidestream streaming benchmarks — Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    with demo_process() as url:
        bench_throughput(url, args.quick)
        bench_flush_cost(args.quick)
        bench_persistence_live(url, args.quick)
        bench_memory(url, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
