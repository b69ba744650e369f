"""A throw-away desktop for end-to-end tests: Xvfb, a private D-Bus, dunst, dbus-monitor.

``desktop_session(tmp_dir)`` starts, each with a deadline:

* Xvfb on a display it picks itself (``-displayfd``: no race for a free number);
* a private session bus whose config has no ``<servicedir>``, so nothing is
  auto-activated and nothing from the host's bus leaks in;
* dunst on that display and bus (``sort = no``, notifications never expire),
  waited for until ``org.freedesktop.Notifications`` has an owner;
* optionally dbus-monitor, logging the Notifications interface to a file;

and tears everything down, in reverse order, however the test ended. The
tools come from Debian's xvfb, dbus, dbus-x11, dunst, xdotool and x11-utils
(``packaging/dev.sh`` installs them). A missing tool raises
:class:`MissingTools`: the e2e tests turn it into a failure, not a skip, so a
CI machine without them cannot pass silently.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

NOTIFICATIONS = "org.freedesktop.Notifications"
TOOLS = (
    "Xvfb",
    "xdpyinfo",
    "dbus-daemon",
    "dbus-send",
    "dbus-monitor",
    "dunst",
    "dunstctl",
    "xdotool",
)
PACKAGES = "xvfb xauth x11-utils dbus dbus-x11 dunst xdotool"
START_TIMEOUT = 10.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

_DUNSTRC = """[global]
    sort = no
    notification_limit = 0
    idle_threshold = 0
    show_indicators = no
    history_length = 50
    font = DejaVu Sans 9
    markup = full  # as Debian's /etc/xdg/dunst/dunstrc: bodies are markup

[urgency_low]
    timeout = 0

[urgency_normal]
    timeout = 0

[urgency_critical]
    timeout = 0
"""


class MissingTools(RuntimeError):
    """Some of the tools the desktop needs are not installed."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``predicate`` until it holds; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Notify:
    """One ``Notify`` call seen on the bus."""

    app_name: str
    icon: str
    title: str
    body: str
    actions: list[str] = field(default_factory=list)


@dataclass
class DesktopSession:
    display: str
    bus_address: str
    workdir: Path
    monitor_log: Path | None
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process that lives on this desktop."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS")
        }
        env.update(
            DISPLAY=self.display,
            DBUS_SESSION_BUS_ADDRESS=self.bus_address,
            NO_AT_BRIDGE="1",  # no accessibility bus to look for
            QT_ACCESSIBILITY="0",
        )
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 10.0, check: bool = True) -> str:
        """Run a tool on this desktop and return its standard output."""
        done = subprocess.run(
            list(args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}"
            )
        return done.stdout

    def has_owner(self, name: str = NOTIFICATIONS) -> bool:
        out = self.run(
            "dbus-send",
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/",
            "org.freedesktop.DBus.NameHasOwner",
            f"string:{name}",
            check=False,
        )
        return "boolean true" in out

    def notify_calls(self) -> list[Notify]:
        """Every ``Notify`` dbus-monitor has seen so far."""
        assert self.monitor_log is not None, "started without a monitor"
        return parse_notify_calls(self.monitor_log.read_text(errors="replace"))

    def dunstctl(self, *args: str) -> str:
        return self.run("dunstctl", *args)

    def start(self, args: list[str], log_name: str, **env: str) -> subprocess.Popen[bytes]:
        """Start a process on this desktop (ended at teardown); output to ``log_name``."""
        log = open(self.workdir / log_name, "wb")  # noqa: SIM115  (closed at teardown)
        proc = subprocess.Popen(
            args,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child has its own descriptor
        self._procs.append(proc)
        return proc


_HEADER = re.compile(r"^\S")
_TOP_STRING = re.compile(r'^   string "(.*)"$')
_ARRAY_STRING = re.compile(r'^      string "(.*)"$')


def parse_notify_calls(text: str) -> list[Notify]:
    """The ``Notify`` method calls in dbus-monitor's default output."""
    calls: list[Notify] = []
    block: list[str] | None = None

    def close() -> None:
        if block is None:
            return
        strings = [m.group(1) for line in block if (m := _TOP_STRING.match(line))]
        actions = [m.group(1) for line in block if (m := _ARRAY_STRING.match(line))]
        if len(strings) >= 4:
            calls.append(Notify(strings[0], strings[1], strings[2], strings[3], actions))

    for line in text.splitlines():
        if _HEADER.match(line):
            close()
            is_notify = line.startswith("method call") and "member=Notify" in line
            block = [] if is_notify else None
        elif block is not None:
            block.append(line)
    close()
    return calls


def _start_xvfb(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    log = open(workdir / "xvfb.log", "wb")  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                "-noreset",  # no server reset when the last client leaves
            ],
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
        log.close()
    try:
        number = b""
        deadline = time.monotonic() + START_TIMEOUT
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                _stop(proc)
                raise AssertionError(
                    "Xvfb did not start: " + (workdir / "xvfb.log").read_text(errors="replace")
                )
            ready, _, _ = select.select([read_fd], [], [], left)
            if ready:
                chunk = os.read(read_fd, 16)
                if not chunk:
                    continue
                number += chunk
    finally:
        os.close(read_fd)
    display = f":{int(number.strip())}"
    socket = Path(f"/tmp/.X11-unix/X{int(number.strip())}")
    wait_until(socket.exists, START_TIMEOUT, f"the X socket {socket}")

    def accepts_clients() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"Xvfb on {display} exited")
        probe = subprocess.run(
            ["xdpyinfo", "-display", display],
            capture_output=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        return probe.returncode == 0

    wait_until(accepts_clients, START_TIMEOUT, f"Xvfb on {display} to accept clients")
    return proc, display


def _start_bus(workdir: Path) -> tuple[int, str]:
    config = workdir / "session.conf"
    config.write_text(_BUS_CONFIG.format(socket=workdir / "bus"))
    done = subprocess.run(
        [
            "dbus-daemon",
            f"--config-file={config}",
            "--fork",
            "--print-address=1",
            "--print-pid=1",
        ],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) < 2:
        raise AssertionError(f"dbus-daemon did not start: {done.stderr.strip()}")
    return int(lines[1]), lines[0]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _stop_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    with contextlib.suppress(AssertionError):
        wait_until(gone, 5.0, f"process {pid} to end")
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def desktop_session(
    workdir: Path, *, notification_daemon: bool = True, monitor: bool = True
) -> Iterator[DesktopSession]:
    """Xvfb + private bus (+ dunst) (+ dbus-monitor), torn down on exit."""
    missing = missing_tools()
    if missing:
        raise MissingTools(
            f"missing {', '.join(missing)}: install the Debian packages {PACKAGES} "
            "(packaging/dev.sh test does it)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        xvfb, display = _start_xvfb(workdir)
        stack.callback(_stop, xvfb)
        bus_pid, address = _start_bus(workdir)
        stack.callback(_stop_pid, bus_pid)
        session = DesktopSession(display, address, workdir, None)
        stack.callback(lambda: [_stop(p) for p in reversed(session._procs)])
        if monitor:
            session.monitor_log = workdir / "dbus-monitor.log"
            mon = session.start(
                ["dbus-monitor", "--session", f"interface='{NOTIFICATIONS}'"],
                "dbus-monitor.log",
            )
            # It prints its own NameAcquired/NameLost as it becomes a monitor.
            wait_until(
                lambda: mon.poll() is not None or session.monitor_log.stat().st_size > 0,  # type: ignore[union-attr]
                START_TIMEOUT,
                "dbus-monitor to attach",
            )
            assert mon.poll() is None, "dbus-monitor exited: " + session.monitor_log.read_text()
        if notification_daemon:
            rc = workdir / "dunstrc"
            rc.write_text(_DUNSTRC)
            dunst = session.start(["dunst", "-config", str(rc)], "dunst.log")
            wait_until(
                lambda: dunst.poll() is not None or session.has_owner(NOTIFICATIONS),
                START_TIMEOUT,
                f"dunst to own {NOTIFICATIONS}",
            )
            if dunst.poll() is not None:
                raise AssertionError(
                    "dunst exited: " + (workdir / "dunst.log").read_text(errors="replace")
                )
        yield session
