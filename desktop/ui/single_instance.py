"""A second start on the same data folder hands over to the first.

The first instance listens on a local socket named after its data folder; a
second one (which found the folder locked) asks it to show its window and
exits. Two writers on one database never happen: the lock decides first.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("sidestream.ui")

RAISE = b"raise\n"
TIMEOUT_MS = 2000


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
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._on_socket_ready_read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(RAISE.strip()):
            log.info("another start on this data folder asked to show the window")
            self.raise_requested.emit()
        socket.disconnectFromServer()


def ask_running_instance_to_raise(data_dir: Path) -> bool:
    """From a second start: ask the first to show its window. True if it answered."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(data_dir))
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write(RAISE)
    ok = socket.waitForBytesWritten(TIMEOUT_MS)
    socket.disconnectFromServer()
    return ok
