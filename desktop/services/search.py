"""Full-text search over every chat, for the sidebar and the in-chat find bar.

Reads only, on the calling thread (the GUI thread: one indexed query, a few
milliseconds on a large store; SQLite's WAL lets it read beside the writer
thread). A failure of the store reaches the caller as :class:`StoreError`,
whose message is fit to show.
"""

from __future__ import annotations

import logging

from desktop.core.search import SearchHit
from desktop.store import Store

log = logging.getLogger("sidestream.search")

DEFAULT_LIMIT = 50


class SearchService:
    """Titles and message text, found by words (prefixes, any case, any accents)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def search(self, query: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        """Chats whose title matches (newest first), then messages (newest first),
        at most ``limit`` of each; [] for a query with no word in it."""
        hits = self._store.search(query, limit)
        log.debug("search %r: %d hits", query, len(hits))
        return hits

    def search_chat(self, session_id: int, query: str) -> list[int]:
        """The ids of a chat's messages that match, in order (every branch)."""
        return self._store.search_chat(session_id, query)
