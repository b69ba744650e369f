"""Holds: which refusals about a stored response carry over to the next request, and how long."""

from __future__ import annotations

from desktop.core.errors import ErrorKind, ProviderError
from desktop.providers.holds import FINAL_STATUSES, MAX_HOLDS, Holds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refusal(status: int, retry_after: float | None = None) -> ProviderError:
    return ProviderError(ErrorKind.SERVER, "no", status=status, retry_after=retry_after)


def test_a_final_refusal_holds_for_good() -> None:
    clock = Clock()
    holds = Holds(clock)
    for status in sorted(FINAL_STATUSES):
        holds.note(f"resp_{status}", refusal(status))
    clock.now += 1e9
    assert [holds.held(f"resp_{s}") for s in sorted(FINAL_STATUSES)] == [
        refusal(s) for s in sorted(FINAL_STATUSES)
    ]
    assert holds.held("resp_other") is None


def test_a_retry_after_holds_until_it_passes() -> None:
    clock = Clock()
    holds = Holds(clock)
    holds.note("resp_a", refusal(429, retry_after=2.0))
    clock.now += 1.9
    assert holds.held("resp_a") == refusal(429, retry_after=2.0)
    clock.now += 0.1
    assert holds.held("resp_a") is None
    assert holds.held("resp_a") is None  # forgotten, not back


def test_refusals_about_the_request_or_passing_ones_do_not_hold() -> None:
    holds = Holds(Clock())
    for status in (400, 422, 500, 502):
        holds.note(f"resp_{status}", refusal(status))
    holds.note("resp_zero", refusal(503, retry_after=0.0))
    assert [holds.held(k) for k in ("resp_400", "resp_422", "resp_500", "resp_502")] == [None] * 4
    assert holds.held("resp_zero") is None


def test_the_newest_refusal_replaces_the_older_and_memory_is_bounded() -> None:
    clock = Clock()
    holds = Holds(clock)
    holds.note("resp_a", refusal(503, retry_after=5.0))
    holds.note("resp_a", refusal(404))
    clock.now += 10
    assert holds.held("resp_a") == refusal(404)
    for index in range(MAX_HOLDS):
        holds.note(f"resp_{index}", refusal(404))
    assert holds.held("resp_a") is None  # the oldest went first
    assert holds.held(f"resp_{MAX_HOLDS - 1}") == refusal(404)
