"""Shared fixtures: the real demo server on loopback and real SQLite stores."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.store import Store


@pytest.fixture(scope="session")
def demo_server() -> Iterator[DemoServer]:
    server = DemoServer(defaults=DemoOptions(rate=0, tokens=60))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def demo(demo_server: DemoServer) -> Iterator[DemoServer]:
    """The shared demo server with its defaults restored after the test."""
    saved = demo_server.defaults
    demo_server.defaults = DemoOptions(rate=0, tokens=60)
    yield demo_server
    demo_server.defaults = saved


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def collect_on_the_main_thread() -> Iterator[None]:
    """Collect cycles here, never in a server or writer thread (see desktop.ui.collector).

    Automatic collection is off for the whole run, as in the app; a cycle
    holding a Qt object collected off the GUI thread would crash.
    """
    gc.disable()
    yield
    gc.collect()
