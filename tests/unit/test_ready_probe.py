"""The start-up probe: ``SIDESTREAM_READY_FILE`` gets the time the window became usable."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.ready_probe import READY_FILE_ENV, install_ready_probe, write_ready_file


def test_without_the_variable_nothing_is_installed(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(READY_FILE_ENV, raising=False)
    window = QLabel("Sidestream")
    qtbot.addWidget(window)
    assert not install_ready_probe(window, lambda: pytest.fail("must not quit"))


def test_after_the_first_paint_the_time_is_written_and_the_app_quits(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "ready"
    monkeypatch.setenv(READY_FILE_ENV, str(target))
    quits: list[float] = []
    window = QLabel("Sidestream")
    qtbot.addWidget(window)
    before = time.time()
    window.show()
    assert install_ready_probe(window, lambda: quits.append(time.time()))
    qtbot.waitUntil(lambda: bool(quits), timeout=5000)
    written = float(target.read_text(encoding="utf-8"))
    assert before <= written <= quits[0]
    assert len(quits) == 1
    qtbot.wait(50)  # later paints change nothing
    window.update()
    qtbot.wait(50)
    assert len(quits) == 1


def test_the_file_is_replaced_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "ready"
    target.write_text("stale", encoding="utf-8")
    write_ready_file(target, 1234.5)
    assert target.read_text(encoding="utf-8") == "1234.5"
    assert [p.name for p in tmp_path.iterdir()] == ["ready"]
