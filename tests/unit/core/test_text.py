"""Surrogates from JSON escapes: pairs split across deltas joined, lone halves replaced."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from desktop.core.text import REPLACEMENT, SurrogateMender, without_lone_surrogates


def utf16_units(text: str) -> list[str]:
    """``text`` as json.loads gives it back one UTF-16 code unit at a time."""
    escaped = json.dumps(text)[1:-1]  # ensure_ascii: astral characters as surrogate pairs
    units: list[str] = []
    i = 0
    while i < len(escaped):
        step = 6 if escaped.startswith("\\u", i) else 2 if escaped[i] == "\\" else 1
        units.append(json.loads(f'"{escaped[i : i + step]}"'))
        i += step
    return units


def mend(deltas: list[str]) -> str:
    mender = SurrogateMender()
    return "".join(mender.feed(d) for d in deltas) + mender.end()


def test_an_emoji_split_across_two_deltas_is_joined() -> None:
    assert mend(["\ud83d", "\ude00 done"]) == "😀 done"
    assert mend(["a \ud83d", "\ude00"]) == "a 😀"


def test_lone_halves_become_the_replacement_character() -> None:
    assert mend(["\ud800"]) == REPLACEMENT
    assert mend(["\ud800", "x"]) == REPLACEMENT + "x"
    assert mend(["x\udc00y"]) == f"x{REPLACEMENT}y"
    assert mend(["\ud83d\ud83d", "\ude00"]) == REPLACEMENT + "😀"
    assert without_lone_surrogates("\ud83d\ude00\ud800") == "😀" + REPLACEMENT


def test_plain_text_passes_unchanged_and_is_not_copied() -> None:
    text = "héllo wörld"
    assert SurrogateMender().feed(text) is text


@given(st.text(), st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_any_text_split_anywhere_between_code_units_comes_out_whole(
    text: str, cuts: list[int]
) -> None:
    units = utf16_units(text)
    points = sorted({min(c, len(units)) for c in cuts} | {0, len(units)})
    deltas = ["".join(units[a:b]) for a, b in itertools.pairwise(points)]
    result = mend(deltas)
    assert result == without_lone_surrogates(text)
    result.encode("utf-8")  # storable


@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0xD700, max_codepoint=0xE000))))
def test_whatever_arrives_the_result_is_valid_utf8(deltas: list[str]) -> None:
    mend(deltas).encode("utf-8")
