"""Text from outside made safe to keep: surrogates mended before anything stores them.

JSON escapes characters outside the Basic Multilingual Plane as a UTF-16
surrogate pair (``"\\ud83d\\ude00"`` is one emoji). ``json.loads`` joins a pair
that arrives in one string, but a server that splits the pair across two
events, or sends half of one, leaves Python with a lone surrogate: a ``str``
that cannot be encoded as UTF-8, so SQLite (and every file write) refuses it.
:class:`SurrogateMender` joins a pair split across deltas and replaces a lone
half with U+FFFD, as a UTF-8 decoder does with a bad byte.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")
_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _join_pair(match: re.Match[str]) -> str:
    pair = match.group()
    high, low = pair[0], pair[1]
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def without_lone_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined and lone halves replaced (U+FFFD).

    Costs one ``isascii`` scan for ASCII text and one search for the rest.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _LONE.sub(REPLACEMENT, _PAIR.sub(_join_pair, text))


class SurrogateMender:
    """Mends the surrogates of one stream of deltas (one per reply and field).

    A high surrogate at the end of a delta is held back until the next delta
    shows whether its low half follows; :meth:`end` releases what is held.
    """

    __slots__ = ("_held",)  # read directly on the hot path (accumulate)

    def __init__(self) -> None:
        self._held = ""

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def feed(self, text: str) -> str:
        held = self._held
        if not held and (text.isascii() or _SURROGATE.search(text) is None):
            return text  # the hot path: nearly every token
        if held:
            text = held + text
            self._held = ""
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._held = text[-1]
            text = text[:-1]
        return without_lone_surrogates(text)

    def end(self) -> str:
        """What is still held (a high surrogate whose pair never came), mended."""
        held, self._held = self._held, ""
        return REPLACEMENT if held else ""
