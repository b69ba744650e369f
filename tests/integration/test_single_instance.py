"""Two starts on one data folder: the second hands over to the first; never two writers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop.store.lock import DataDirLock, DataDirLocked

DEADLINE = 30.0


def test_the_lock_refuses_a_second_holder_and_frees_on_release(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    second = DataDirLock(tmp_path)
    with pytest.raises(DataDirLocked, match="already using the data folder"):
        second.acquire()
    first.release()
    second.acquire()
    assert second.held
    second.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from desktop.store.lock import DataDirLock;"
        f"lock = DataDirLock(Path({str(tmp_path)!r})); lock.acquire();"
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DataDirLocked):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait(10)
    lock = DataDirLock(tmp_path)
    lock.acquire()  # the OS dropped the dead process's lock
    lock.release()


class Output:
    """Collects a process's stderr lines on a thread, to wait on them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        stream = proc.stderr
        self._thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")))
        self._thread.daemon = True
        self._thread.start()

    def wait_for(self, text: str, timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r} in:\n{''.join(self.lines)}")
            time.sleep(0.02)


def test_second_start_raises_the_first_window_and_exits(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SIDESTREAM_DEMO_OPTIONS": "rate=0"}
    cmd = [sys.executable, "-m", "desktop", "--data-dir", str(tmp_path), "--demo"]
    first = subprocess.Popen(
        [*cmd, "--log-level", "INFO"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        out = Output(first)
        out.wait_for("listening for other starts")
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=DEADLINE)
        assert second.returncode == 0, second.stderr
        assert "already using the data folder" in second.stderr
        assert "brought to the front" in second.stderr
        out.wait_for("asked to show the window")
        assert first.poll() is None  # the first one runs on, the only writer
    finally:
        first.terminate()
        first.wait(DEADLINE)
