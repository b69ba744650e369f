"""``python -m benchmarks [--quick]``: every benchmark, one after the other."""

from __future__ import annotations

import subprocess
import sys

SCRIPTS = (
    "benchmarks.bench_stream",
    "benchmarks.bench_render",
    "benchmarks.bench_ui",
    "benchmarks.bench_app",
)


def main(argv: list[str]) -> int:
    failed = 0
    for script in SCRIPTS:
        args = [a for a in argv if a == "--quick"]
        # Each in its own process: figures of one must not carry another's state.
        failed |= subprocess.call([sys.executable, "-m", script, *args]) != 0
    return int(failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
