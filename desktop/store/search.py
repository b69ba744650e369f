"""Full-text queries over the FTS5 indexes of schema version 6.

The indexes (``messages_fts``, ``sessions_fts``) are built and kept by the
migration's triggers; this module only reads them. The expression comes from
:func:`desktop.core.search.match_expression`, so a person's text is never
FTS5 syntax.
"""

from __future__ import annotations

from desktop.core.search import MARK_END, MARK_START, SearchHit, match_expression
from desktop.store.database import SidestreamDatabase

SNIPPET_WORDS = 12
"""Words of context a snippet shows around its matches (FTS5 allows up to 64)."""

_TITLE_HITS = """
    SELECT s.id, s.title, highlight(sessions_fts, 0, ?, ?), sessions_fts.rank
    FROM sessions_fts JOIN sessions s ON s.id = sessions_fts.rowid
    WHERE sessions_fts MATCH ?
    ORDER BY s.updated_at DESC, s.id DESC
    LIMIT ?
"""

# The newest hits: FTS5 walks its lists by rowid (message ids only grow) and
# stops at the limit, so snippet() and bm25() run for ``limit`` rows only.
# Ordering by bm25 instead ranks every match first: 0.6 s for a word's
# start that half of 200,000 messages share, where this takes milliseconds.
_MESSAGE_HITS = f"""
    SELECT m.session_id, hit.rowid, s.title, hit.snip, hit.score
    FROM (
        SELECT rowid, snippet(messages_fts, 0, ?, ?, '…', {SNIPPET_WORDS}) AS snip,
               bm25(messages_fts) AS score
        FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?
    ) AS hit
    JOIN messages m ON m.id = hit.rowid
    JOIN sessions s ON s.id = m.session_id
    ORDER BY hit.rowid DESC
"""

_CHAT_HITS = """
    SELECT m.id FROM messages m
    WHERE m.session_id = ?
      AND m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)
    ORDER BY m.id
"""


def search(db: SidestreamDatabase, query: str, limit: int) -> list[SearchHit]:
    """Chats whose title matches (newest first), then messages (newest
    first): at most ``limit`` of each."""
    expression = match_expression(query)
    if expression is None or limit <= 0:
        return []
    hits = [
        SearchHit(session_id, None, title, marked, float(rank))
        for session_id, title, marked, rank in db.execute_sql(
            _TITLE_HITS, (MARK_START, MARK_END, expression, limit)
        )
    ]
    hits.extend(
        SearchHit(session_id, message_id, title, snippet, float(rank))
        for session_id, message_id, title, snippet, rank in db.execute_sql(
            _MESSAGE_HITS, (MARK_START, MARK_END, expression, limit)
        )
    )
    return hits


def search_chat(db: SidestreamDatabase, session_id: int, query: str) -> list[int]:
    """The ids of a chat's messages (every branch) that match, in order."""
    expression = match_expression(query)
    if expression is None:
        return []
    return [row[0] for row in db.execute_sql(_CHAT_HITS, (session_id, expression))]
