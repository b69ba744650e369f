"""What full-text search means, apart from where it runs: Qt-free and SQL-free.

A person's query is words; the store's index (SQLite FTS5 with the
``unicode61 remove_diacritics 2`` tokenizer) matches words by prefix, any
case, with or without diacritics. :func:`match_expression` turns the words
into an FTS5 expression that cannot be a syntax error (every word quoted, the
index's operators never passed through); :func:`find_matches` finds the same
words in a text on screen, by the same rules, so that the view highlights
what the index found. A snippet marks its matches with two private-use
characters (:data:`MARK_START`, :data:`MARK_END`) that :func:`split_marked`
turns into plain text and ranges: nothing of a message is ever read as markup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MARK_START = "\ue000"
MARK_END = "\ue001"

# A word as unicode61 sees it: letters and digits (underscore and
# punctuation separate words). Combining marks stay with their letter, so a
# decomposed "é" is one word.
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: a chat whose title matched (``message_id`` None) or a message.

    ``snippet`` is the matched text around the hit with each match between
    :data:`MARK_START` and :data:`MARK_END`; ``rank`` is the hit's bm25 score
    (lower is better; hits come newest first, not by it).
    """

    session_id: int
    message_id: int | None
    title: str
    snippet: str
    rank: float


def fold(text: str) -> str:
    """A word as the index compares it: lower case (unicode61 does no full
    case folding), diacritics removed."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def query_terms(query: str) -> list[str]:
    """The words of a query, folded, in order, without repeats."""
    seen: list[str] = []
    for match in _WORD.finditer(unicodedata.normalize("NFC", query)):
        term = fold(match.group())
        if term and term not in seen:
            seen.append(term)
    return seen


def match_expression(query: str) -> str | None:
    """An FTS5 expression for ``query``: every word, each as a prefix.

    None when the query has no word (only spaces or punctuation): there is
    nothing to search for. Each word is quoted, so ``AND``, ``NEAR(``, ``*``,
    ``-``, ``col:`` or an unbalanced ``"`` are plain words or nothing.
    """
    terms = query_terms(query)
    if not terms:
        return None
    return " ".join(f'"{term}"*' for term in terms)


def find_matches(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where words of ``text`` start with one of the (folded) ``terms``:
    ``(start, end)`` of each whole word, in order."""
    if not terms:
        return []
    found: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        word = fold(match.group())
        if any(word.startswith(term) for term in terms):
            found.append((match.start(), match.end()))
    return found


def split_marked(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """A marked snippet as its plain text and the ``(start, end)`` of each
    match in it. Stray marks (a message that contained one) are dropped."""
    plain: list[str] = []
    ranges: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for ch in snippet:
        if ch == MARK_START:
            start = length
        elif ch == MARK_END:
            if start is not None and length > start:
                ranges.append((start, length))
            start = None
        else:
            plain.append(ch)
            length += 1
    return "".join(plain), ranges
