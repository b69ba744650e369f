"""``accumulate`` of reasoning, signatures, finish and usage: the same reply however split.

Issue 15: reasoning was folded and then dropped. The state now keeps it apart
from the text with the blocks a provider wants back (each signed block is
exactly the thinking streamed since the previous one), why the reply ended
and its usage.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from desktop.core.events import (
    Finished,
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ReasoningBlock
from desktop.core.states import FinishReason
from desktop.streaming.accumulate import BLOCK_SEPARATOR, ReplyState, accumulate


def fold(events: list[StreamEvent], state: ReplyState | None = None) -> ReplyState:
    state = state or ReplyState()
    for event in events:
        accumulate(state, event)
    state.close()
    return state


def pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def test_signed_and_redacted_blocks_are_kept_whole_and_in_order() -> None:
    state = fold(
        [
            ReasoningDelta("First "),
            ReasoningDelta("thought."),
            ReasoningSignature("sig-1"),
            RedactedReasoning("opaque"),
            ReasoningDelta("Second thought."),
            ReasoningSignature("sig-2"),
            TextDelta("Answer."),
            UsageReport(10, None),
            UsageReport(None, 42),
            Finished(FinishReason.LENGTH, "m"),
        ]
    )
    assert state.blocks == [
        ReasoningBlock.signed("First thought.", "sig-1"),
        ReasoningBlock.redacted("opaque"),
        ReasoningBlock.signed("Second thought.", "sig-2"),
    ]
    assert state.reasoning() == "First thought." + BLOCK_SEPARATOR + "Second thought."
    assert state.text() == "Answer."
    assert (state.finish, state.input_tokens, state.output_tokens) == (FinishReason.LENGTH, 10, 42)


def test_a_block_signed_with_no_thinking_shown_is_kept() -> None:
    # Thinking shown "omitted": a signature and nothing else.
    state = fold([ReasoningSignature("sig"), TextDelta("Hi")])
    assert state.blocks == [ReasoningBlock.signed("", "sig")]
    assert state.reasoning() == ""


@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=4),
    st.lists(st.integers(0, 50), max_size=10),
)
def test_each_signed_block_is_what_was_streamed_since_the_last(
    thoughts: list[str], cuts: list[int]
) -> None:
    events: list[StreamEvent] = []
    for n, thought in enumerate(thoughts):
        events += [ReasoningDelta(p) for p in pieces(thought, cuts)]
        events.append(ReasoningSignature(f"sig-{n}"))
    events.append(TextDelta("done"))
    state = fold(events)
    assert state.blocks == [ReasoningBlock.signed(t, f"sig-{n}") for n, t in enumerate(thoughts)]
    shown = state.reasoning()
    # What is shown is every block, a blank line between two.
    for thought in thoughts:
        assert thought in shown
    assert shown.replace(BLOCK_SEPARATOR, "") == "".join(thoughts).replace(BLOCK_SEPARATOR, "")
    assert state.reasoning_length == len(shown)


@given(st.text(max_size=40), st.lists(st.integers(0, 60), max_size=10), st.integers(0, 40))
def test_reasoning_read_a_piece_at_a_time_is_the_whole(
    reasoning: str, cuts: list[int], step: int
) -> None:
    state = ReplyState()
    read: list[str] = []
    offset = 0
    for piece in pieces(reasoning, cuts):
        accumulate(state, ReasoningDelta(piece))
        chunk = state.reasoning_between(offset, offset + step + 1)
        read.append(chunk)
        offset += len(chunk)
    state.close()
    read.append(state.reasoning_between(offset))
    assert "".join(read) == state.reasoning()
    assert state.added_reasoning == "" or state.reasoning().endswith(state.added_reasoning)


def test_added_reasoning_is_what_the_reasoning_grew_by_separator_included() -> None:
    state = ReplyState()
    accumulate(state, ReasoningDelta("One."))
    accumulate(state, ReasoningSignature("s"))
    accumulate(state, ReasoningDelta("Two."))
    assert state.added_reasoning == BLOCK_SEPARATOR + "Two."
    assert state.reasoning() == "One." + BLOCK_SEPARATOR + "Two."


def test_a_continue_sets_its_reasoning_apart_and_keeps_the_earlier_blocks() -> None:
    earlier = (ReasoningBlock.signed("Before.", "s0"),)
    state = ReplyState.starting("Partial", reasoning="Before.", blocks=earlier, new_reasoning=True)
    fold([ReasoningDelta("After."), ReasoningSignature("s1"), TextDelta(" text")], state)
    assert state.reasoning() == "Before." + BLOCK_SEPARATOR + "After."
    assert state.blocks == [*earlier, ReasoningBlock.signed("After.", "s1")]
    assert state.text() == "Partial text"


def test_a_resume_goes_on_with_its_reasoning() -> None:
    state = ReplyState.starting("", reasoning="Half a ")
    fold([ReasoningDelta("thought.")], state)
    assert state.reasoning() == "Half a thought."


def test_the_finish_is_taken_from_the_end() -> None:
    assert fold([TextDelta("x"), Finished(FinishReason.REFUSAL)]).finish is FinishReason.REFUSAL
    assert fold([TextDelta("x")]).finish is None
