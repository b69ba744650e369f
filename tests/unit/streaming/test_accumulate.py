"""``accumulate(state, event)``: the same reply however its events were split."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import (
    CursorUpdate,
    Failed,
    Finished,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.states import MessageStatus
from desktop.core.text import without_lone_surrogates
from desktop.streaming.accumulate import ReplyState, accumulate


def fold(events: list[StreamEvent], state: ReplyState | None = None) -> ReplyState:
    state = state or ReplyState()
    for event in events:
        state = accumulate(state, event)
    state.close()
    return state


def utf16_split(text: str, cuts: list[int]) -> list[str]:
    """``text`` in deltas cut anywhere between UTF-16 code units (as JSON escapes allow)."""
    units: list[str] = []
    escaped = json.dumps(text)[1:-1]
    i = 0
    while i < len(escaped):
        step = 6 if escaped.startswith("\\u", i) else 2 if escaped[i] == "\\" else 1
        units.append(json.loads(f'"{escaped[i : i + step]}"'))
        i += step
    points = sorted({min(c, len(units)) for c in cuts} | {0, len(units)})
    return ["".join(units[a:b]) for a, b in itertools.pairwise(points)]


def test_a_reply_folds_into_its_text_reasoning_usage_cursor_and_end() -> None:
    state = fold(
        [
            ReasoningDelta("Think"),
            ReasoningDelta("ing."),
            TextDelta("Hel", cursor="1"),
            CursorUpdate("2"),
            TextDelta("lo"),
            UsageReport(input_tokens=7),
            UsageReport(output_tokens=3),
            Finished("stop", model="m-1"),
        ],
        ReplyState.starting(status=MessageStatus.RESUMING),
    )
    assert (state.text(), state.reasoning()) == ("Hello", "Thinking.")
    assert (state.cursor, state.input_tokens, state.output_tokens) == ("2", 7, 3)
    assert (state.model, state.status, state.end) == (
        "m-1",
        MessageStatus.STREAMING,
        Finished("stop", "m-1"),
    )
    assert state.length == 5


def test_added_is_what_the_last_event_added() -> None:
    state = ReplyState.starting("Partial ")
    accumulate(state, TextDelta("text"))
    assert state.added == "text" and state.text() == "Partial text"
    accumulate(state, UsageReport(1, 2))
    assert state.added == "" and state.added_reasoning == ""
    accumulate(state, TextDelta("\ud83d"))  # half of a pair: held back
    assert state.added == ""
    accumulate(state, TextDelta("\ude00"))
    assert state.added == "😀"


def test_a_failure_ends_it_and_keeps_the_text() -> None:
    error = ProviderError(ErrorKind.CONNECTION, "cut")
    state = fold([TextDelta("abc"), Failed(error)])
    assert state.end == Failed(error) and state.text() == "abc"


events = st.one_of(
    st.builds(TextDelta, st.text(max_size=8), st.none() | st.text(max_size=3)),
    st.builds(ReasoningDelta, st.text(max_size=8)),
    st.builds(CursorUpdate, st.text(max_size=3)),
    st.builds(UsageReport, st.none() | st.integers(0, 99), st.none() | st.integers(0, 99)),
)


@given(st.lists(events, max_size=40), st.integers(0, 40))
def test_any_events_fold_like_their_concatenation_at_any_moment(
    sequence: list[StreamEvent], peek_at: int
) -> None:
    state = ReplyState()
    for index, event in enumerate(sequence):
        accumulate(state, event)
        if index == peek_at:
            state.text()  # reading mid-way must not change the outcome
    state.close()
    texts = [e.text for e in sequence if isinstance(e, TextDelta)]
    assert state.text() == without_lone_surrogates("".join(texts))
    assert state.length == len(state.text())
    reasoning = [e.text for e in sequence if isinstance(e, ReasoningDelta)]
    assert state.reasoning() == without_lone_surrogates("".join(reasoning))
    cursors = [
        e.cursor
        for e in sequence
        if isinstance(e, CursorUpdate | TextDelta) and e.cursor is not None
    ]
    assert state.cursor == (cursors[-1] if cursors else None)


@given(st.text(max_size=60), st.lists(st.integers(0, 200), max_size=12))
def test_text_split_anywhere_even_inside_a_surrogate_pair_comes_out_whole(
    text: str, cuts: list[int]
) -> None:
    state = fold([TextDelta(piece) for piece in utf16_split(text, cuts)])
    assert state.text() == text
    state.text().encode("utf-8")


@given(
    st.lists(st.text(max_size=6), max_size=30),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), max_size=10),
)
def test_reading_a_range_of_the_text_at_any_moment_is_that_slice(
    pieces: list[str], reads: list[tuple[int, int]]
) -> None:
    state = ReplyState()
    mirror = ""
    for index, piece in enumerate(pieces):
        accumulate(state, TextDelta(piece))
        mirror += state.added
        if index < len(reads):
            start, stop = reads[index]
            assert state.text_between(start, stop) == mirror[start:stop]
            assert state.text_between(start) == mirror[start:]
    assert state.text() == mirror
