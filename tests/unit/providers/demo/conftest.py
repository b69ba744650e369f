"""A demo server of this package's own, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desktop.providers.demo import DemoOptions, DemoServer

FAST = DemoOptions(rate=0, tokens=20)


@pytest.fixture(scope="module")
def module_server() -> Iterator[DemoServer]:
    with DemoServer(defaults=DemoOptions(rate=0, tokens=20)) as server:
        yield server


@pytest.fixture
def server(module_server: DemoServer) -> Iterator[DemoServer]:
    """The module's server with fast defaults and an empty log; checks it is left clean."""
    module_server.defaults = DemoOptions(rate=0, tokens=20)
    module_server.clear_log()
    yield module_server
    assert module_server.wait_until(lambda: module_server.open_connections == 0, 2.0), [
        (c.id, c.path) for c in module_server.connections if c.is_open
    ]
    assert module_server.errors == []
