"""Where the data lives, that it is private (0700 folder, 0600 files), and never a link."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.store import (
    DB_FILENAME,
    Store,
    StoreError,
    StoreErrorKind,
    default_data_dir,
    resolve_data_dir,
)


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


def crashed_copy(source: Path, data: Path) -> None:
    """``data`` as a crash leaves it: the database with its -wal and -shm beside it."""
    with Store.open(source) as store:
        store.create_session("written before the crash")
        data.mkdir()
        for name in (DB_FILENAME, f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm"):
            shutil.copyfile(source / name, data / name)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_existing_loose_folder_and_files_are_tightened_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    crashed_copy(tmp_path / "source", data)
    (data / f"{DB_FILENAME}-journal").write_bytes(b"")  # an empty journal is no hot journal
    loose = {data: 0o755} | {p: 0o644 for p in data.iterdir()}
    for path, loose_mode in loose.items():
        path.chmod(loose_mode)
    with caplog.at_level(logging.WARNING, logger="sidestream.store"), Store.open(data) as store:
        assert store.count_sessions() == 1
        for path in loose:
            assert mode(path) == (0o700 if path == data else 0o600), path
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    said = warnings[0].getMessage()
    assert all(str(path) in said for path in loose), said
    assert "0755 -> 0700" in said and "0644 -> 0600" in said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sidestream.store"), Store.open(data):
        pass
    assert not caplog.records, "said once: the second start finds nothing to tighten"


def test_a_chosen_folder_holding_other_files_keeps_its_mode_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``--data-dir ~/Documents``: the folder is the user's, its mode stays; the
    chats in it are private all the same."""
    data = tmp_path / "documents"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    data.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="sidestream.store"):
        for _ in range(2):
            with Store.open(data) as store:
                store.create_session("s")
                assert mode(store.path) == 0o600
    assert mode(data) == 0o755
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1 and "holds other files too" in said[0], said


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.usefixtures("permissive_umask")
def test_a_0644_database_gets_0600_side_files(tmp_path: Path) -> None:
    """SQLite gives -wal and -shm the database's mode: tighten the database first."""
    data = tmp_path / "data"
    with Store.open(data):
        pass
    assert sorted(p.name for p in data.iterdir()) == [DB_FILENAME]
    (data / DB_FILENAME).chmod(0o644)
    with Store.open(data) as store:
        store.create_session("makes SQLite create -wal and -shm")
        for name in (DB_FILENAME, f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm"):
            assert mode(data / name) == 0o600, name


# -- symbolic links -------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX symbolic links")
def test_a_database_that_is_a_link_out_of_the_folder_is_refused_and_not_written(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "empty.db"
    target.write_bytes(b"")
    target.chmod(0o644)
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_FILENAME).symlink_to(target)
    with pytest.raises(StoreError) as info:
        Store.open(data)
    error = info.value
    assert error.kind is StoreErrorKind.SYMLINK
    assert f"{data / DB_FILENAME} is a symbolic link to {target}" in error.message
    assert "Sidestream will not follow it out of its data folder" in error.message
    assert target.read_bytes() == b"" and mode(target) == 0o644, "nothing written through"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["empty.db"], "no -wal/-shm there"
    assert sorted(p.name for p in data.iterdir()) == [DB_FILENAME]


@pytest.mark.skipif(os.name != "posix", reason="POSIX symbolic links")
@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_side_file_that_is_a_link_is_refused(tmp_path: Path, suffix: str) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        store.create_session("kept")
    outside = tmp_path / f"outside{suffix}"
    outside.write_bytes(b"")
    (data / f"{DB_FILENAME}{suffix}").symlink_to(outside)
    with pytest.raises(StoreError) as info:
        Store.open(data)
    assert info.value.kind is StoreErrorKind.SYMLINK
    assert f"is a symbolic link to {outside}" in info.value.message
    assert outside.read_bytes() == b""


@pytest.mark.skipif(os.name != "posix", reason="POSIX symbolic links")
def test_a_linked_data_folder_is_still_fine(tmp_path: Path) -> None:
    """The folder itself may be a link (a data folder on another disk); its entries may not."""
    real = tmp_path / "real"
    real.mkdir()
    real.chmod(0o755)
    link = tmp_path / "link"
    link.symlink_to(real)
    with Store.open(link) as store:
        store.create_session("through the folder link")
    assert (real / DB_FILENAME).is_file()
    assert mode(real) == 0o700, "the folder it leads to is made private"
