"""A demo reply's frames: made on demand, the same as encoding every event up front."""

from __future__ import annotations

import copy
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.providers.demo.dialects import (
    AnthropicEncoder,
    ChatEncoder,
    ResponseMeta,
    ResponsesEncoder,
    StreamEncoder,
)
from desktop.providers.demo.generation import Generation, GenerationStatus
from desktop.providers.demo.replies import demo_reply_tokens
from tests.support.aio import run

ENCODERS: dict[str, Callable[[], StreamEncoder]] = {
    "chat": lambda: ChatEncoder("sidestream-demo", 12, include_usage=True),
    "responses": lambda: ResponsesEncoder(ResponseMeta("sidestream-demo", True, 12)),
    "anthropic": lambda: AnthropicEncoder("sidestream-demo", 12),
}


def eager_frames(encoder: StreamEncoder, tokens: list[str], *, error: bool = False) -> list[bytes]:
    """Every event encoded in order, as the server used to keep them."""
    frames = encoder.preamble() + [encoder.delta(token) for token in tokens]
    text = "".join(tokens)
    if error:
        return frames + encoder.error(text, len(tokens))
    return frames + encoder.finish(text, len(tokens), False)


@pytest.mark.parametrize("dialect", sorted(ENCODERS))
@pytest.mark.parametrize("error", [False, True])
def test_frames_made_on_demand_equal_the_events_encoded_up_front(dialect: str, error: bool) -> None:
    tokens = demo_reply_tokens("frames", 300)
    lazy_encoder = ENCODERS[dialect]()
    eager_encoder = copy.deepcopy(lazy_encoder)  # the same reply: the same ids
    generation = Generation(lazy_encoder, tokens, rate=0, error_after=200 if error else None)
    run(generation.run())
    sent = tokens[:200] if error else tokens
    expected = eager_frames(eager_encoder, sent, error=error)
    count = generation.frame_count
    assert count == len(expected)
    assert generation.frames(0, count) == expected
    assert generation.status is (GenerationStatus.FAILED if error else GenerationStatus.COMPLETED)
    assert generation.text == "".join(sent) and generation.output_tokens == len(sent)
    # Slices anywhere, and the text deltas among them.
    head = next(i for i in range(count) if generation.text_at(i) is not None)
    for start, end in ((0, 1), (0, head + 5), (head - 1, head + 1), (count - 3, count + 2)):
        assert generation.frames(start, end) == expected[start:end]
        texts = generation.texts(start, end)
        assert texts == [
            generation.text_at(i)
            for i in range(start, min(end, count))
            if generation.text_at(i) is not None
        ]
    assert generation.deltas_before(0) == 0
    assert generation.deltas_before(head + 7) == 7
    assert generation.deltas_before(count) == len(sent)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 320), st.integers(0, 320))
def test_any_slice_of_a_responses_reply_is_numbered_in_sequence(a: int, b: int) -> None:
    tokens = demo_reply_tokens("slices", 300)
    generation = Generation(ENCODERS["responses"](), tokens, rate=0)
    run(generation.run())
    start, end = min(a, b), max(a, b)
    frames = generation.frames(start, end)
    numbers = [
        int(frame.rsplit(b'"sequence_number":', 1)[1].split(b",")[0].split(b"}")[0])
        for frame in frames
    ]
    assert numbers == list(range(start, min(end, generation.frame_count)))


def test_a_long_reply_keeps_its_tokens_not_its_encoded_events() -> None:
    tokens = demo_reply_tokens("memory", 100_000)
    encoded = sum(len(f) for f in eager_frames(ENCODERS["responses"](), tokens))
    generation = Generation(ENCODERS["responses"](), tokens, rate=0)
    tracemalloc.start()
    try:
        run(generation.run())
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert generation.frame_count == 100_000 + 8
    # The events are over 20 MB of bytes; what the reply keeps is its closing
    # events (they carry the whole text, about 0.4 MB, a few times over).
    assert encoded > 20_000_000
    assert kept < encoded / 10, (kept, encoded)
