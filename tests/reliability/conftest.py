"""Figures of the reliability suite, shown at the end of every run.

Each test says what it tried and how much of it held, through the ``figures``
fixture: ``figures.case(scenario, detail)`` makes the test one case of a
scenario (passed if the test passed), ``figures.record(...)`` reports a test's
own count of runs (a crash loop, a soak). The summary is printed in pytest's
terminal summary, so it shows in CI output without ``-s``, and written to
``test-artifacts/reliability.txt``.

The ``desktop`` fixture is the desktop session (Xvfb, a private D-Bus) of the
tests that run the windowed app (:mod:`tests.reliability.windowed_app`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.desktop_session import (
    PACKAGES,
    DesktopSession,
    desktop_session,
    missing_tools,
)

ARTIFACT = Path("test-artifacts") / "reliability.txt"


@dataclass
class Figure:
    scenario: str
    test: str
    runs: int
    passed: int
    details: list[str] = field(default_factory=list)


@dataclass
class _Case:
    scenario: str
    detail: str


_figures: list[Figure] = []
_case_key = pytest.StashKey[list[_Case]]()


class Figures:
    """What one test reports; printed as it goes (visible with ``-s``)."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def case(self, scenario: str, detail: str) -> _Case:
        """This test is one case of ``scenario``; it passed if the test passes.

        The returned case's ``detail`` may be amended as the test learns more.
        """
        case = _Case(scenario, detail)
        self._item.stash.setdefault(_case_key, []).append(case)
        return case

    def record(self, scenario: str, runs: int, passed: int, *details: str) -> None:
        """A test's own count: ``passed`` of ``runs`` tries held, with figures as text."""
        figure = Figure(scenario, self._item.name, runs, passed, list(details))
        _figures.append(figure)
        print(f"[{scenario}] {passed}/{runs} passed ({self._item.name})")
        for line in details:
            print(f"    {line}")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    assert isinstance(request.node, pytest.Item)
    return Figures(request.node)


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[DesktopSession]:
    missing = missing_tools()
    if missing:
        # CI installs them (packaging/dev.sh): a machine without them must not pass quietly.
        pytest.fail(f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES}")
    with desktop_session(tmp_path / "desktop", notification_daemon=False, monitor=False) as s:
        yield s


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call":
        return
    for case in item.stash.get(_case_key, []):
        _add_case(case, item.name, report.passed)


def _add_case(case: _Case, test: str, passed: bool) -> None:
    for figure in _figures:
        if figure.scenario == case.scenario and figure.test == "(cases)":
            break
    else:
        figure = Figure(case.scenario, "(cases)", 0, 0)
        _figures.append(figure)
    figure.runs += 1
    figure.passed += int(passed)
    figure.details.append(f"{'ok  ' if passed else 'FAIL'} {case.detail} ({test})")


def summary_lines() -> list[str]:
    lines: list[str] = []
    for figure in _figures:
        who = "" if figure.test == "(cases)" else f"  [{figure.test}]"
        lines.append(f"{figure.scenario}: {figure.passed}/{figure.runs} passed{who}")
        lines.extend(f"    {detail}" for detail in figure.details)
    return lines


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if not _figures:
        return
    lines = summary_lines()
    terminalreporter.section("reliability figures")
    for line in lines:
        terminalreporter.write_line(line)
    path = config.rootpath / ARTIFACT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    terminalreporter.write_line(f"(written to {path})")
