"""Query words, highlighting and snippet marks (desktop.core.search)."""

from __future__ import annotations

from desktop.core.search import (
    MARK_END,
    MARK_START,
    find_matches,
    match_expression,
    query_terms,
    split_marked,
)


def test_a_query_becomes_quoted_prefix_words_and_operators_are_words() -> None:
    assert match_expression("Stre  café") == '"stre"* "cafe"*'
    assert match_expression('NEAR( "a AND -b col:') == '"near"* "a"* "and"* "b"* "col"*'
    assert match_expression(' " * - ^ ') is None
    assert query_terms("Cafe CAFÉ café") == ["cafe"]


def test_matches_are_whole_words_starting_with_a_term_any_case_or_accent() -> None:
    text = "Streaming a stream; the Café's façade, unstreamed"
    found = [text[a:b] for a, b in find_matches(text, query_terms("stre cafe fac"))]
    assert found == ["Streaming", "stream", "Café", "façade"]
    assert find_matches(text, []) == []


def test_split_marked_gives_plain_text_and_ranges_and_drops_stray_marks() -> None:
    marked = f"a {MARK_START}bc{MARK_END} d {MARK_START}e{MARK_END}{MARK_END}"
    assert split_marked(marked) == ("a bc d e", [(2, 4), (7, 8)])
    assert split_marked(f"x{MARK_START}") == ("x", [])
