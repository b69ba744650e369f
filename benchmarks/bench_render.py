"""Rendering costs of the chat transcript view (prints figures, asserts nothing).

Run: ``python -m benchmarks.bench_render [--quick]`` (on the X display; offscreen without one;
``bash packaging/dev.sh bench`` starts Xvfb when there is no display).

- streaming: one reconcile per 50 ms frame at 1,000 tokens/s into one reply
  growing to 80 KB (prose, lists, code, tables); median and p99 per update
  including layout, and the cost at ~5 KB vs ~80 KB; the same for the worst
  case, one 40 KB code block that stays open;
- reattach: a view holding 10,000 tokens is handed the other 10,000 (the update
  its feed sends on return),
  against a fresh view laying out 20,000 tokens in one go;
- load_transcript of 1,000 messages (laid out and painted at the bottom), and
  each batch of older messages brought in by scrolling up;
- big tables (a 90 KB one of 15,000 columns, a 62 KB one of 1,000 rows x 30
  columns): streamed in at 1,000 tokens/s (per update, and the update that
  finishes the table), load_transcript with the table in the newest message,
  and a resize of the view showing it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.core.models import Message
from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.replies import table_reply
from desktop.streaming.events import MessageUpdate
from desktop.ui.chat_view import ChatView

CHARS_PER_TOKEN = 4
TOKENS_PER_FRAME = 50  # 1,000 tokens/s in 50 ms frames
REPEATS = 3

_SECTIONS = [
    "## Step {n}\n\nThe approach here is to split the work into small, testable pieces. "
    "Each piece reads its input, does **one** thing, and hands the result on; that keeps "
    "failures local and makes the `pipeline` easy to follow when something goes wrong.\n\n",
    "- first, check the inputs and return early on errors\n"
    "- then transform the data with a pure function\n"
    "- finally write the result, flushing once at the end\n\n",
    "```python\ndef step_{n}(items: list[int]) -> int:\n"
    "    # accumulate, skipping negatives\n"
    "    total = 0\n"
    "    for item in items:\n"
    "        if item < 0:\n"
    "            continue\n"
    "        total += item * {n}\n"
    "    return total\n```\n\n",
    "| option | default | meaning |\n|---|---|---|\n"
    "| retries | 3 | attempts before giving up |\n| timeout | 60 | seconds without data |\n\n",
    "> Note: a blank line ends a block, so the renderer can freeze everything above it.\n\n",
]


def reply_text(size: int) -> str:
    """Markdown of about ``size`` characters mixing prose, lists, code and tables."""
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        part = _SECTIONS[n % len(_SECTIONS)].format(n=n)
        parts.append(part)
        total += len(part)
        n += 1
    return "".join(parts)[:size]


def code_reply(size: int) -> str:
    """One long code block, still open at the end (the worst case for the tail)."""
    lines = ["Here is the module:\n\n```python\n"]
    total = 0
    n = 0
    while total < size:
        line = f"    result_{n} = transform(records[{n}], retries=3)  # step {n}\n"
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines)[:size]


def frames(text: str, chunk: int) -> Iterator[str]:
    for start in range(0, len(text), chunk):
        yield text[start : start + chunk]


def lay_out(view: ChatView) -> None:
    """Force layout to the end of the document."""
    doc = view.document()
    doc.documentLayout().blockBoundingRect(doc.lastBlock())


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def new_view(app: QApplication) -> ChatView:
    view = ChatView()
    view.resize(900, 700)
    view.show()
    # On a real X server the window is exposed a moment later; until then a
    # repaint paints nothing.
    QTest.qWaitForWindowExposed(view, 5000)
    app.processEvents()
    return view


def dispose(app: QApplication, view: ChatView) -> None:
    view.deleteLater()
    app.processEvents()


def stream_once(app: QApplication, text: str) -> tuple[list[float], list[int], list[float]]:
    """Stream ``text`` into a fresh view; (ms per update, size held, repaint ms)."""
    view = new_view(app)
    view.load_transcript([Message(1, 1, Role.USER, "Explain.", MessageStatus.COMPLETE)])
    view.add_message(Message(2, 1, Role.ASSISTANT, "", MessageStatus.STREAMING))
    costs: list[float] = []
    sizes: list[int] = []
    paints: list[float] = []
    held = 0
    viewport = view.browser.viewport()
    for index, delta in enumerate(frames(text, TOKENS_PER_FRAME * CHARS_PER_TOKEN)):
        start = time.perf_counter()
        view.reconcile(MessageUpdate(2, delta, held))
        lay_out(view)
        costs.append((time.perf_counter() - start) * 1000)
        held += len(delta)
        sizes.append(held)
        if index % 20 == 0:
            paints.append(timed(viewport.repaint))
    if view.message_text(2) != text:
        raise RuntimeError("the view lost text")
    dispose(app, view)
    return costs, sizes, paints


def bench_streaming(app: QApplication, label: str, text: str) -> None:
    runs = [stream_once(app, text) for _ in range(REPEATS)]
    costs = [cost for run in runs for cost in run[0]]
    paints = [paint for run in runs for paint in run[2]]

    def median_between(low: int, high: int) -> float:
        return statistics.median(
            cost
            for run in runs
            for cost, size in zip(run[0], run[1], strict=True)
            if low < size <= high
        )

    early = median_between(2_500, 7_500)
    late = median_between(len(text) - 5_000, len(text))
    print(f"streaming {label}, {len(runs[0][0])} updates x {REPEATS} runs (reconcile + layout)")
    print(
        f"  per update: median {statistics.median(costs):.2f} ms,"
        f" p99 {percentile(costs, 0.99):.2f} ms, max {max(costs):.2f} ms"
    )
    print(
        f"  median at ~5 KB: {early:.2f} ms, at ~{len(text) // 1000} KB: {late:.2f} ms,"
        f" ratio {late / early:.2f}"
    )
    print(f"  repaint of the viewport (sampled): median {statistics.median(paints):.2f} ms")


def bench_reattach(app: QApplication) -> None:
    full = reply_text(20_000 * CHARS_PER_TOKEN)
    half = full[: len(full) // 2]
    streaming = MessageStatus.STREAMING
    question = [
        Message(1, 1, Role.USER, "Go.", MessageStatus.COMPLETE),
        Message(2, 1, Role.ASSISTANT, "", streaming),
    ]
    catch_up: list[float] = []
    fresh: list[float] = []
    for _ in range(REPEATS):
        view = new_view(app)
        view.load_transcript(question)
        view.reconcile(MessageUpdate(2, half, 0, streaming))
        lay_out(view)
        app.processEvents()
        start = time.perf_counter()
        view.reconcile(MessageUpdate(2, full[len(half) :], len(half)))
        lay_out(view)
        catch_up.append((time.perf_counter() - start) * 1000)
        dispose(app, view)

        view = new_view(app)
        view.load_transcript(question)
        start = time.perf_counter()
        view.reconcile(MessageUpdate(2, full, 0, streaming))
        lay_out(view)
        fresh.append((time.perf_counter() - start) * 1000)
        dispose(app, view)
    print(
        f"reattach: holding 10,000 tokens, handed the other 10,000 ({len(full) // 1000} KB),"
        f" until laid out: median {statistics.median(catch_up):.1f} ms"
    )
    print(f"  fresh view, 20,000 tokens in one go: median {statistics.median(fresh):.1f} ms")


def transcript(count: int, reply_size: int) -> list[Message]:
    messages: list[Message] = []
    for index in range(count):
        if index % 2 == 0:
            text = f"Question {index}: how does step {index} work, and why?"
            messages.append(Message(index + 1, 1, Role.USER, text, MessageStatus.COMPLETE))
        else:
            text = reply_text(reply_size + (index % 7) * 100)
            messages.append(
                Message(index + 1, 1, Role.ASSISTANT, text, MessageStatus.COMPLETE, model="demo")
            )
    return messages


def bench_load(app: QApplication, reply_size: int) -> None:
    messages = transcript(1_000, reply_size)
    size = sum(len(m.content) for m in messages)
    loads: list[float] = []
    batches: list[float] = []
    rendered = 0
    for _ in range(REPEATS):
        view = new_view(app)
        start = time.perf_counter()
        view.load_transcript(messages)
        lay_out(view)
        view.browser.viewport().repaint()
        loads.append((time.perf_counter() - start) * 1000)
        rendered = len(view.renderer.regions())
        while view.hidden_count:
            start = time.perf_counter()
            view.show_earlier()
            lay_out(view)
            batches.append((time.perf_counter() - start) * 1000)
        dispose(app, view)
    runs = ", ".join(f"{ms:.0f}" for ms in loads)
    print(
        f"load_transcript of 1,000 messages ({size // 1000} KB; latest {rendered} rendered),"
        f" laid out and painted at the bottom: median {statistics.median(loads):.1f} ms"
        f" (runs: {runs})"
    )
    if batches:
        print(
            f"  each batch of older messages (scrolling up): median"
            f" {statistics.median(batches):.1f} ms, max {max(batches):.1f} ms"
        )


TABLES = {
    "a 90 KB wide table (1 row x 15,000 columns)": table_reply(1, 15_000),
    "a 62 KB long table (1,000 rows x 30 columns)": table_reply(1000, 30),
}


def bench_table(app: QApplication, label: str, text: str) -> None:
    """Stream a big table in, load a chat that ends with it, resize the view."""
    runs = [stream_once(app, text) for _ in range(REPEATS)]
    costs = [cost for run in runs for cost in run[0]]
    print(f"table: {label}, {len(text) // 1000} KB, {len(runs[0][0])} updates x {REPEATS} runs")
    print(
        f"  streamed (reconcile + layout) per update: median {statistics.median(costs):.2f} ms,"
        f" p99 {percentile(costs, 0.99):.2f} ms, max {max(costs):.2f} ms"
    )
    messages = [
        Message(1, 1, Role.USER, "A table, please.", MessageStatus.COMPLETE),
        Message(2, 1, Role.ASSISTANT, text, MessageStatus.COMPLETE, model="demo"),
    ]
    loads: list[float] = []
    resizes: list[float] = []
    for _ in range(REPEATS):
        view = new_view(app)
        start = time.perf_counter()
        view.load_transcript(messages)
        lay_out(view)
        view.browser.viewport().repaint()
        loads.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        view.resize(view.width() - 100, view.height())
        app.processEvents()
        lay_out(view)
        resizes.append((time.perf_counter() - start) * 1000)
        dispose(app, view)
    print(
        f"  load_transcript with it newest, laid out and painted: median"
        f" {statistics.median(loads):.1f} ms; a resize: median {statistics.median(resizes):.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    global REPEATS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, for a smoke run")
    if parser.parse_args(argv).quick:
        REPEATS = 1
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    bench_streaming(app, "a mixed 80 KB reply at 1,000 tok/s", reply_text(80_000))
    bench_streaming(app, "one open 40 KB code block at 1,000 tok/s", code_reply(40_000))
    bench_reattach(app)
    bench_load(app, reply_size=1_500)
    bench_load(app, reply_size=300)
    for label, text in TABLES.items():
        bench_table(app, label, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
