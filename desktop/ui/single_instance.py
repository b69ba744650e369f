"""A second start on the same data folder hands over to the first.

The first instance listens on a local socket named after its data folder; a
second one (which found the folder locked) asks it to show its window and
exits. Two writers on one database never happen: the lock decides first.

The lock is taken at once but the socket listens only once the window is
built, so a second start in between (two starts at the same moment: a
double-click, an autostart and a click) finds the lock held and nobody
listening. It keeps trying to connect, backing off, until the first one
listens or :data:`STARTING_DEADLINE_S` passes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("sidestream.ui")

RAISE = b"raise\n"
TIMEOUT_MS = 2000
STARTING_DEADLINE_S = 30.0  # a first start on a slow disk opens and checks its database
FIRST_RETRY_S = 0.02
MAX_RETRY_S = 0.25


def server_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"sidestream-{digest}"


class InstanceServer(QObject):
    """Listens for later starts on the same data folder."""

    raise_requested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = server_name(data_dir)
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_server_new_connection)

    def listen(self) -> bool:
        # We hold the data folder's lock, so a leftover socket is from a crash.
        QLocalServer.removeServer(self._name)
        if not self._server.listen(self._name):
            log.warning("cannot listen for other starts: %s", self._server.errorString())
            return False
        log.info("listening for other starts on %s", self._name)
        return True

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        # A bound slot and sender(), not a lambda holding the socket: with the
        # lambda, deleting the server soon after a request crashed the process
        # ("shared QObject was deleted directly", then a segfault).
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self._on_socket_ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():  # arrived before readyRead was connected
                self._read_request(socket)

    def _on_socket_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read_request(socket)

    def _read_request(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(RAISE.strip()):
            log.info("another start on this data folder asked to show the window")
            self.raise_requested.emit()
        socket.disconnectFromServer()


def ask_running_instance_to_raise(
    data_dir: Path,
    deadline_s: float = STARTING_DEADLINE_S,
    still_held: Callable[[], bool] | None = None,
) -> bool:
    """From a second start: ask the first to show its window. True if it was asked.

    The caller found the data folder locked, so a first instance exists; if
    it does not listen yet it is still starting: try again until it does,
    ``still_held()`` says its lock is gone (it ended: the caller may take the
    folder), or ``deadline_s`` passes (then it is hung, or not a Sidestream
    window).
    """
    name = server_name(data_dir)
    deadline = time.monotonic() + deadline_s
    delay = FIRST_RETRY_S
    while True:
        if _send_raise(name):
            return True
        if still_held is not None and not still_held():
            log.info("the Sidestream on %s ended while this one waited", data_dir)
            return False  # the caller may take the lock itself now
        if time.monotonic() + delay > deadline:
            log.warning("the Sidestream on %s did not answer within %.0f s", data_dir, deadline_s)
            return False
        if delay == FIRST_RETRY_S:
            log.info(
                "the Sidestream on %s is still starting; waiting up to %.0f s for it",
                data_dir,
                deadline_s,
            )
        time.sleep(delay)  # no event loop runs yet in this start: nothing to wait on
        delay = min(delay * 2, MAX_RETRY_S)


def _send_raise(name: str) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(TIMEOUT_MS):
        socket.abort()
        return False
    socket.write(RAISE)
    ok = socket.waitForBytesWritten(TIMEOUT_MS)
    socket.disconnectFromServer()
    return ok
