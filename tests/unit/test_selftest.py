"""``sidestream --self-test`` from source, and the helpers it is made of.

The frozen build runs the same self-test in ``tests/e2e/test_frozen.py``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.selftest import Report, choose_platform, missing_words

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "qt",
    "resources",
    "pdf",
    "link check",
    "notifications library",
    "store",
    "demo server",
    "services",
    "stream",
    "render",
    "notification",
    "shutdown",
    "cleanup",
)


def test_the_self_test_passes_from_source_offscreen(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)  # it must choose offscreen by itself
    env["TMPDIR"] = str(tmp_path)  # and leave nothing behind there
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "--self-test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    for step in STEPS:
        assert any(line.startswith(f"self-test: ok  {step}") for line in lines), (step, lines)
    assert "platform offscreen" in done.stderr
    assert lines[-1].startswith("self-test: passed in ")
    assert list(tmp_path.iterdir()) == []  # the temporary store is gone


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", "offscreen"),
        ({"DISPLAY": ":3"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", None),
        ({"QT_QPA_PLATFORM": "minimal", "DISPLAY": ":3"}, "linux", None),
        ({}, "darwin", None),
        ({}, "win32", None),
    ],
)
def test_offscreen_is_chosen_only_on_linux_without_a_display(
    environ: dict[str, str], platform: str, expected: str | None
) -> None:
    assert choose_platform(environ, platform) == expected


def test_missing_words_lists_each_absent_word_once_in_order() -> None:
    reference = "Streaming replies — a quick tour. The café streams, and streams again."
    assert missing_words(reference, reference) == []
    assert missing_words(reference, "Streaming tour café and") == [
        "replies",
        "quick",
        "The",
        "streams",
        "again",
    ]


def test_the_report_says_each_step_and_the_failure() -> None:
    out = io.StringIO()
    report = Report(out)
    report.begin("store")
    report.ok("new store")
    report.begin("stream")
    report.failed("timed out")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("self-test: ok  store: new store (")
    assert lines[1] == "self-test: FAILED at stream: timed out"


def test_the_report_survives_a_missing_or_closed_stream() -> None:
    Report(None).ok("a windowed build has no standard error")
    closed = io.StringIO()
    closed.close()
    Report(closed).failed("written nowhere, and no crash")
