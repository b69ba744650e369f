"""Another application on the test's X display, for the end-to-end attach test.

    python -m tests.e2e.x_client clipboard IMAGE   owns the clipboard, holding IMAGE
    python -m tests.e2e.x_client drag FILE X Y     a small window at X,Y; pressing
                                                   in it and moving drags FILE

It says ``ready`` on standard output once it is, and ``dropped N`` (Qt's drop
action) when a drag ends; it runs until it is killed. What Sidestream gets
from it comes through the X server (the CLIPBOARD selection, the XDND
protocol), as from a file manager or an image viewer.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDrag, QGuiApplication, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QWidget


class DragSource(QLabel):
    """Pressed and moved, it drags its file, as a file manager's icon does."""

    def __init__(self, path: str) -> None:
        super().__init__(f"drag me\n{path.rsplit('/', 1)[-1]}")
        self._path = path
        self._pressed: QPoint | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pressed = event.position().toPoint()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pressed is None:
            return
        if (event.position().toPoint() - self._pressed).manhattanLength() < 4:
            return
        self._pressed = None
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self._path)])
        drag = QDrag(self)
        drag.setMimeData(mime)
        action = drag.exec(Qt.DropAction.CopyAction)
        print(f"dropped {action.value}", flush=True)


def main(argv: list[str]) -> int:
    app = QApplication(argv[:1])
    keep: QWidget | None = None
    if argv[1] == "clipboard":
        image = QImage(argv[2])
        if image.isNull():
            print(f"cannot read {argv[2]}", flush=True)
            return 1
        QGuiApplication.clipboard().setImage(image)
    elif argv[1] == "drag":
        keep = DragSource(argv[2])
        keep.setGeometry(int(argv[3]), int(argv[4]), 140, 100)
        keep.show()
    else:
        print(f"unknown mode {argv[1]!r}", flush=True)
        return 2
    print("ready", flush=True)
    code = app.exec()
    del keep
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
