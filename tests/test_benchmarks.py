"""Every benchmark runs in its quick mode and prints every figure it reports.

The benchmarks are not timed tests: nothing here judges a figure. What this
catches is a benchmark that rots (an API it uses moved, a scenario that no
longer finishes), which a suite that never ran them let through before.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import SCRIPTS

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"

# What each benchmark must print, as patterns over its output: one per figure.
FIGURES: dict[str, list[str]] = {
    "benchmarks.bench_stream": [
        rf"1 stream\(s\): raw httpx-sse\s+{NUMBER}/s\s+pipeline\s+{NUMBER}/s\s+ratio {NUMBER}",
        rf"5 stream\(s\): raw httpx-sse\s+{NUMBER}/s\s+pipeline\s+{NUMBER}/s\s+ratio {NUMBER}",
        rf"message of\s+1 KB: flush median {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms;"
        rf"\s+final write median {NUMBER} ms",
        rf"message of\s+1000 KB: flush median {NUMBER} ms",
        rf"time a flush holds the loop: mean {NUMBER} ms\s+max {NUMBER} ms over {NUMBER} steps",
        rf"loop lateness, 1 ms heartbeat, all work included: p50 {NUMBER} ms\s+p99 {NUMBER} ms",
        rf"bytes written by the process: {NUMBER} MB for {NUMBER} KB of replies",
        rf"one 100 KB reply, 50 flushes \+ final write: {NUMBER} KB written",
        rf"added per live stream \({NUMBER} live, text arriving\): {NUMBER} KB of Python",
        rf"RSS before 200 completed streams {NUMBER} MB, after {NUMBER} MB"
        rf"\s+\(growth [+-]?{NUMBER} MB\)",
    ],
    "benchmarks.bench_render": [
        rf"streaming a mixed 80 KB reply .*\n\s+per update: median {NUMBER} ms, p99 {NUMBER} ms",
        rf"streaming one open 40 KB code block .*\n\s+per update: median {NUMBER} ms",
        rf"repaint of the viewport \(sampled\): median {NUMBER} ms",
        rf"reattach: holding 10,000 tokens, .* median {NUMBER} ms",
        rf"fresh view, 20,000 tokens in one go: median {NUMBER} ms",
        rf"load_transcript of 1,000 messages .* median {NUMBER} ms",
        rf"each batch of older messages \(scrolling up\): median {NUMBER} ms",
        rf"table: a 90 KB wide table .*\n\s+streamed \(reconcile \+ layout\) per update:"
        rf" median {NUMBER} ms, p99 {NUMBER} ms, max {NUMBER} ms\n\s+load_transcript with it"
        rf" newest, laid out and painted: median {NUMBER} ms; a resize: median {NUMBER} ms",
        rf"table: a 62 KB long table .*\n\s+streamed \(reconcile \+ layout\) per update:"
        rf" median {NUMBER} ms, p99 {NUMBER} ms, max {NUMBER} ms\n\s+load_transcript with it"
        rf" newest, laid out and painted: median {NUMBER} ms; a resize: median {NUMBER} ms",
    ],
    "benchmarks.bench_ui": [
        rf"5 ms heartbeat lateness: p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms",
        rf"left at ~\s*19000 tokens:\s+{NUMBER} ms until all is laid out",
        rf"left at ~\s*0 tokens:\s+{NUMBER} ms until all is laid out",
        rf"the chat opened again:\s+{NUMBER} ms",
        rf"latency p50 {NUMBER} ms\s+p99 {NUMBER} ms;\s+view updates {NUMBER}/s,"
        rf" paints {NUMBER}/s",
        r"Switching between two branches of a chat of 1000 messages",
        rf"the last reply's versions: median {NUMBER} ms\s+max {NUMBER} ms until laid out",
        rf"the first question's versions \(two paths sharing nothing\): median {NUMBER} ms"
        rf"\s+max {NUMBER} ms \(goal <= 50\); the very first switch, to a path never shown:"
        rf" {NUMBER} ms",
        rf"switching between two tabs of such chats: median {NUMBER} ms\s+max {NUMBER} ms;"
        rf" ratio last-reply switch / tab switch {NUMBER}",
        rf"Search, a query typed to its results painted, {NUMBER} chats / {NUMBER} messages:"
        rf" median {NUMBER} ms\s+max {NUMBER} ms",
        rf"A long history: {NUMBER} chats / {NUMBER} messages \(a {NUMBER} MB store,"
        rf" filled in {NUMBER} s\)",
        rf"app start to a usable window, alternating: long history {NUMBER}(?:, {NUMBER})* ms;"
        rf" empty store {NUMBER}(?:, {NUMBER})* ms",
        rf"median of {NUMBER}: long history {NUMBER} ms \(goal <= 1,000\), empty store"
        rf" {NUMBER} ms; ratio long / empty {NUMBER} \(goal <= 1\.3; the median of each pair's"
        rf" {NUMBER}\); raw ceiling, a bare Qt window process: {NUMBER} ms",
        rf"the store after {NUMBER} starts: (?:unchanged|CHANGED \(.*\)) \(schema v{NUMBER},"
        rf" {NUMBER} chats, {NUMBER} messages, {NUMBER} MB\)",
        rf"RSS when ready: long history {NUMBER} MB \(peak {NUMBER}\) \(goal <= 150 MB\),"
        rf" empty store {NUMBER} MB \(peak {NUMBER}\); a bare Qt window process {NUMBER} MB"
        rf" \(peak {NUMBER}\)",
        rf"the chat list of {NUMBER} chats built as at start: read from the store {NUMBER} ms,"
        rf" model reset {NUMBER} ms, first paint {NUMBER} ms",
        rf"sidebar scroll of {NUMBER} chats, each step until the list is repainted"
        r" \(goal p99 <= 16 ms",
        rf"a wheel notch: p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms over {NUMBER}"
        rf" steps; plain QListView p50 {NUMBER} ms\s+p99 {NUMBER} ms; ratio p50 {NUMBER}",
        rf"a page \(click in the scroll bar\): p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER}"
        rf" ms over {NUMBER} steps; plain QListView p50 {NUMBER} ms\s+p99 {NUMBER} ms;"
        rf" ratio p50 {NUMBER}",
        rf"the thumb dragged anywhere: p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms"
        rf" over {NUMBER} steps; plain QListView p50 {NUMBER} ms\s+p99 {NUMBER} ms;"
        rf" ratio p50 {NUMBER}",
        rf"RSS of chat tabs \({NUMBER} messages each, laid out and painted\): the first"
        rf" \+{NUMBER} MB, then {NUMBER} MB per tab \({NUMBER} tabs\)",
        rf"A {NUMBER} MB image attached in the chat on screen while a reply streams in another",
        rf"attaching: read and stored in {NUMBER} ms, its thumbnail shown at {NUMBER} ms;"
        rf" lateness p99 {NUMBER} ms\s+max {NUMBER} ms \(goal p99 <= 8, max <= 16\); the other"
        rf" reply grew {NUMBER} characters meanwhile",
        rf"sending it: {NUMBER} ms to the first token of the reply; lateness p99 {NUMBER} ms"
        rf"\s+max {NUMBER} ms",
        rf"Opening a chat of 1,000 messages: {NUMBER} ms",
        rf"a 10 MB single event: lateness p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms",
        rf"a 5 MB reply .*: lateness p50 {NUMBER} ms",
        rf"400 KB of Markdown .*: lateness p50 {NUMBER} ms",
        rf"a 90 KB wide table .*: lateness p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms"
        r" \(goal max <= 50\)",
        rf"a 62 KB long table .*: lateness p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+max {NUMBER} ms"
        r" \(goal max <= 50\)",
        rf"opening a chat whose newest reply is a 90 KB wide table .*: {NUMBER} ms",
        rf"opening a chat whose newest reply is a 62 KB long table .*: {NUMBER} ms",
        rf"App start to a usable window, store of 1,000 chats: {NUMBER} ms; median {NUMBER} ms",
        rf"the newest chat's reply a 90 KB wide table .*: {NUMBER} ms; median {NUMBER} ms",
        rf"the newest chat's reply a 62 KB long table .*: {NUMBER} ms; median {NUMBER} ms",
    ],
    "benchmarks.bench_app": [
        rf"raw ceiling, httpx-sse \+ json\.loads on plain asyncio:\s+{NUMBER} events/s",
        rf"the raw client on the app's qasync loop:\s+{NUMBER} events/s \({NUMBER} of raw\)",
        rf"the app's services, no window \(ChatService\.send\):\s+{NUMBER} events/s"
        rf" \({NUMBER} of raw\)",
        rf"the app, its window on screen \(composer, Enter\):\s+{NUMBER} events/s"
        rf" \({NUMBER} of raw\)",
        rf"ratio app / raw {NUMBER} \(goal >= 0\.8\); median of {NUMBER} round\(s\);"
        rf" {NUMBER} text deltas read raw, {NUMBER} tokens in the app's reply",
        rf"window thread, median app run: CPU {NUMBER} s of {NUMBER} s wall \({NUMBER}%\);"
        rf" view updates {NUMBER} taking {NUMBER} ms, repaints {NUMBER} taking {NUMBER} ms;"
        rf" the rest \(HTTP, SSE, parsing, stream manager, bridge, loop\) {NUMBER} s",
        rf"on screen: the whole reply shown {NUMBER} ms after the terminal event",
    ],
}


def test_every_benchmark_script_is_run_by_the_bench_command() -> None:
    found = {f"benchmarks.{p.stem}" for p in (ROOT / "benchmarks").glob("bench_*.py")}
    assert set(SCRIPTS) == found
    assert set(FIGURES) == found, "a benchmark without its figures listed here"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_in_quick_mode_and_prints_its_figures(script: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    done = subprocess.run(
        [sys.executable, "-m", script, "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = done.stdout
    sys.stdout.write(output)  # the figures, in the test log
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stderr[-4000:]}"
    missing = [p for p in FIGURES[script] if re.search(p, output) is None]
    assert not missing, f"{script} did not print: {missing}\n{output}"
