"""Build the frozen app with PyInstaller, and check it.

    python packaging/build.py            # build dist/sidestream (macOS: dist/Sidestream.app)
    python packaging/build.py --check    # then run its --self-test and time a start
    python packaging/build.py --if-stale # skip the build when nothing it packs changed

The build runs ``packaging/sidestream.spec`` (work files in ``build/``) and
prints where the bundle is and its size. ``--check`` runs the built app's
``--self-test`` offscreen, fails when the bundle is over the size budget, and
times a frozen start to a usable window (``SIDESTREAM_READY_FILE``, see
``desktop/ready_probe.py``). The exit status is non-zero on any failure.

``--if-stale`` compares a digest of everything the bundle is made from (the
package, the resources, this script, the spec, pyproject.toml and the Python
and PyInstaller versions) with the one recorded after the last good build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "sidestream.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build"
STAMP = DIST / "sidestream.build.json"
SIZE_BUDGET_MIB = 120.0
START_GOAL_S = 1.5
SELF_TEST_TIMEOUT = 120.0
START_TIMEOUT = 30.0
INPUTS = (
    "desktop",
    "resources",
    "packaging/sidestream.spec",
    "packaging/sidestream_main.py",
    "packaging/build.py",
    "pyproject.toml",
)


def bundle_dir() -> Path:
    """The built app: a folder (Linux, Windows) or the .app bundle (macOS)."""
    if sys.platform == "darwin":
        return DIST / "Sidestream.app"
    return DIST / "sidestream"


def executable() -> Path:
    """The app's executable inside the bundle."""
    if sys.platform == "darwin":
        return bundle_dir() / "Contents" / "MacOS" / "sidestream"
    if sys.platform == "win32":
        return bundle_dir() / "sidestream.exe"
    return bundle_dir() / "sidestream"


def cli_executable() -> Path:
    """The executable that has a console (on Windows the app's is windowed)."""
    if sys.platform == "win32":
        return bundle_dir() / "sidestream-cli.exe"
    return executable()


def bundle_size(path: Path) -> int:
    """Bytes of every file under ``path`` (apparent sizes; symlinks count as links)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            total += (Path(dirpath) / name).lstat().st_size
    return total


def mib(size: int) -> float:
    return size / 2**20


def _input_files() -> Iterator[Path]:
    for name in INPUTS:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and "__pycache__" not in found.parts:
                    yield found


def inputs_digest(files: Iterable[Path] | None = None) -> str:
    """A digest of what the bundle is built from: file names and contents, tool versions."""
    import PyInstaller

    digest = hashlib.sha256()
    digest.update(f"{sys.version}|{PyInstaller.__version__}|{sys.platform}".encode())
    for path in files if files is not None else _input_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def is_fresh() -> bool:
    """The bundle exists and was built from exactly the current inputs."""
    if not executable().is_file() or not STAMP.is_file():
        return False
    try:
        recorded = json.loads(STAMP.read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError):
        return False
    return bool(recorded == inputs_digest())


def build(*, clean: bool = False) -> float:
    """Run PyInstaller on the spec; returns the seconds it took. Raises on failure."""
    STAMP.unlink(missing_ok=True)
    digest = inputs_digest()  # before the build: an edit made during it makes it stale
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(DIST),
        "--workpath",
        str(WORK),
        str(SPEC),
    ]
    if clean:
        command.insert(3, "--clean")
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True)
    elapsed = time.monotonic() - started
    STAMP.write_text(
        json.dumps({"inputs": digest, "built_at": time.time(), "seconds": elapsed}),
        encoding="utf-8",
    )
    return elapsed


def offscreen_env(**extra: str) -> dict[str, str]:
    """The environment of a headless run: the offscreen platform, no display."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


def run_self_test(timeout: float = SELF_TEST_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """The bundle's ``--self-test``, offscreen, with its output."""
    return subprocess.run(
        [str(cli_executable()), "--self-test"],
        env=offscreen_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class StartError(RuntimeError):
    """The app did not report a usable window in time."""


def measure_start(
    command: list[str] | None = None,
    *,
    timeout: float = START_TIMEOUT,
    env: dict[str, str] | None = None,
) -> float:
    """Seconds from starting the app to its window being usable (it then quits).

    Uses ``SIDESTREAM_READY_FILE``: the app writes ``time.time()`` to it once
    the window is shown and painted and the loop is idle, then quits. Runs
    on a fresh data folder with the demo provider.
    """
    with tempfile.TemporaryDirectory(prefix="sidestream-start-") as tmp:
        ready = Path(tmp) / "ready"
        args = (command or [str(executable())]) + ["--data-dir", str(Path(tmp) / "data"), "--demo"]
        run_env = dict(env) if env is not None else offscreen_env()
        run_env["SIDESTREAM_READY_FILE"] = str(ready)
        started = time.time()
        proc = subprocess.Popen(
            args,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            hint = "" if ready.exists() else " (is desktop.ready_probe wired into the app?)"
            raise StartError(
                f"the app did not start and quit within {timeout:.0f} s{hint}\n{output[-2000:]}"
            ) from None
        if not ready.exists():
            raise StartError(
                f"the app exited {proc.returncode} without reporting a usable window\n"
                + output[-2000:]
            )
        if proc.returncode != 0:
            raise StartError(f"the app exited {proc.returncode} after starting\n{output[-2000:]}")
        return float(ready.read_text(encoding="utf-8")) - started


def _say(line: str) -> None:
    sys.stdout.write(f"[build] {line}\n")
    sys.stdout.flush()


def check(runs: int = 3) -> int:
    """Self-test, size budget and start time of the built bundle; 0 if all is well."""
    failures: list[str] = []
    _say("self-test (offscreen)")
    done = run_self_test()
    sys.stdout.write(done.stdout + done.stderr)
    if done.returncode != 0:
        failures.append(f"--self-test exited {done.returncode}")
    size = mib(bundle_size(bundle_dir()))
    if size > SIZE_BUDGET_MIB:
        failures.append(f"the bundle is {size:.1f} MiB, over the {SIZE_BUDGET_MIB:.0f} MiB budget")
    _say(f"start to a usable window, {runs} runs after a warm-up (offscreen)")
    try:
        measure_start()  # warms the disk cache
        times = [measure_start() for _ in range(runs)]
    except StartError as exc:
        failures.append(str(exc))
    else:
        _say(
            f"start to a usable window: median {statistics.median(times):.2f} s"
            f" ({', '.join(f'{t:.2f}' for t in times)}; goal <= {START_GOAL_S} s)"
        )
    for failure in failures:
        sys.stderr.write(f"[build] FAILED: {failure}\n")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="self-test and time the bundle")
    parser.add_argument("--if-stale", action="store_true", help="build only if the inputs changed")
    parser.add_argument("--clean", action="store_true", help="clear PyInstaller's caches first")
    args = parser.parse_args(argv)

    if args.if_stale and is_fresh():
        _say(f"{bundle_dir()} is up to date")
    else:
        _say(f"PyInstaller {SPEC.relative_to(ROOT)}")
        try:
            seconds = build(clean=args.clean)
        except subprocess.CalledProcessError as exc:
            sys.stderr.write(f"[build] FAILED: PyInstaller exited {exc.returncode}\n")
            return 1
        _say(f"built in {seconds:.0f} s")
    size = bundle_size(bundle_dir())
    _say(f"{bundle_dir()}: {mib(size):.1f} MiB ({size / 1e6:.1f} MB)")
    _say(f"run it: {executable()}")
    return check() if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
