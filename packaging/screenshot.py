"""Retake the README's screenshot from the real app: ``python packaging/screenshot.py``.

It starts a virtual X display, a private D-Bus with a notification daemon
(tests/support/desktop_session.py), then the app on the built-in demo provider,
and drives it with the keyboard (xdotool) as a person would: two chats, two
prompts, both replies streaming when the picture is taken. Writes
resources/screenshot.png (or the path given).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.desktop_session import desktop_session, missing_tools  # noqa: E402

PROMPTS = (
    "How does Sidestream keep replies streaming in the background?",
    "Write a Python function that merges two sorted lists.",
)
DEADLINE = 30.0


def wait_until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        time.sleep(0.05)


def stored_chars(data_dir: Path) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-m", "desktop", "export", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        len(m["content"])
        for chat in json.loads(out)["chats"]
        for m in chat["messages"]
        if m["role"] == "assistant"
    ]


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else ROOT / "resources" / "screenshot.png"
    if missing := missing_tools():
        sys.stderr.write(f"screenshot: missing tools: {', '.join(missing)}\n")
        return 1
    with tempfile.TemporaryDirectory() as tmp, desktop_session(Path(tmp) / "desk") as desk:
        data_dir = Path(tmp) / "data"
        app = desk.start(
            [sys.executable, "-m", "desktop", "--data-dir", str(data_dir), "--demo"],
            "app.log",
            QT_QPA_PLATFORM="xcb",
            SIDESTREAM_DEMO_OPTIONS="rate=30;tokens=900",
        )
        window = ""

        def found() -> bool:
            nonlocal window
            ids = desk.run(
                "xdotool", "search", "--onlyvisible", "--name", "^Sidestream", check=False
            )
            window = ids.split()[0] if ids.split() else ""
            return bool(window)

        wait_until(found, "the window")
        desk.run("xdotool", "windowmove", window, "0", "0")
        desk.run("xdotool", "windowsize", "--sync", window, "1280", "800")
        desk.run("xdotool", "windowfocus", "--sync", window)
        for i, prompt in enumerate(PROMPTS):
            if i:
                desk.run("xdotool", "key", "--clearmodifiers", "ctrl+t")
            desk.run("xdotool", "type", "--delay", "5", prompt)
            desk.run("xdotool", "key", "--clearmodifiers", "Return")
        # Both replies well under way, neither finished.
        wait_until(lambda: min(stored_chars(data_dir) or [0]) > 900, "text to stream")
        geometry = desk.run("xdotool", "getwindowgeometry", "--shell", window)
        size = dict(line.split("=", 1) for line in geometry.split())
        crop = f"{size['WIDTH']}x{size['HEIGHT']}+{size['X']}+{size['Y']}"
        target.parent.mkdir(parents=True, exist_ok=True)
        desk.run("import", "-window", "root", "-crop", crop, "+repage", str(target))
        app.terminate()
        app.wait(DEADLINE)
    sys.stdout.write(f"{target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
