"""The data folder's lock file: private, never written through a link, and probed safely."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.store.lock import LOCK_FILENAME, DataDirLock, held_by_another_process

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes, links and flock")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
def test_the_lock_file_is_created_0600_and_an_old_0644_one_is_tightened(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path / "new")
    lock.acquire()
    assert mode(lock.path) == 0o600
    lock.release()
    old = tmp_path / "old"
    old.mkdir()
    (old / LOCK_FILENAME).write_text("1234")
    (old / LOCK_FILENAME).chmod(0o644)
    lock = DataDirLock(old)
    lock.acquire()
    assert mode(lock.path) == 0o600
    assert lock.path.read_text() == str(os.getpid())
    lock.release()


def test_a_lock_file_that_is_a_link_is_refused_and_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("not yours to truncate")
    outside.chmod(0o644)
    data = tmp_path / "data"
    data.mkdir()
    (data / LOCK_FILENAME).symlink_to(outside)
    lock = DataDirLock(data)
    with pytest.raises(OSError, match=r"is a symbolic link to .*will not follow it"):
        lock.acquire()
    assert not lock.held
    assert outside.read_text() == "not yours to truncate"
    assert mode(outside) == 0o644


def test_the_probe_tells_another_process_from_this_one(tmp_path: Path) -> None:
    assert not held_by_another_process(tmp_path), "no lock file: nobody holds it"
    mine = DataDirLock(tmp_path)
    mine.acquire()
    assert not held_by_another_process(tmp_path), "our own lock is not another's"
    mine.release()
    assert not held_by_another_process(tmp_path)
    code = (
        "import sys; from pathlib import Path; from desktop.store.lock import DataDirLock;"
        f"lock = DataDirLock(Path({str(tmp_path)!r})); lock.acquire();"
        "print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert held_by_another_process(tmp_path)
        assert held_by_another_process(tmp_path), "probing does not take the lock away"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    assert not held_by_another_process(tmp_path)
    mine.acquire()  # the probes left nothing behind
    mine.release()
