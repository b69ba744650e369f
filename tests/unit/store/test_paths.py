"""Where the data lives, and that it is created private (0700 folder, 0600 files)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.store import DB_FILENAME, Store, default_data_dir, resolve_data_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # With umask 0 a plain mkdir/open would give 0777/0666: proves we set modes.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_default_data_dir_follows_platformdirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert default_data_dir() == tmp_path / "xdg" / "Sidestream"
    assert default_data_dir().name == "Sidestream"


def test_resolve_data_dir_argument_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_dir(None) == default_data_dir()
    assert resolve_data_dir("") == default_data_dir()
    assert resolve_data_dir(tmp_path / "d") == tmp_path / "d"
    assert resolve_data_dir("~/chats") == tmp_path / "chats"
    monkeypatch.chdir(tmp_path)
    assert resolve_data_dir("rel") == tmp_path / "rel"


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.usefixtures("permissive_umask")
def test_created_dir_is_0700_and_files_0600(tmp_path: Path) -> None:
    data = tmp_path / "parent" / "data"
    with Store.open(data) as store:
        store.create_session("hello")  # makes SQLite create -wal and -shm
        assert store.path == data / DB_FILENAME
        assert mode(data) == 0o700
        files = sorted(p.name for p in data.iterdir())
        assert files == [DB_FILENAME, f"{DB_FILENAME}-shm", f"{DB_FILENAME}-wal"]
        for name in files:
            assert mode(data / name) == 0o600, name


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_existing_dir_keeps_its_mode(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o750)
    with Store.open(data) as store:
        assert mode(store.path) == 0o600
    assert mode(data) == 0o750
