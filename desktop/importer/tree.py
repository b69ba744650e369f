"""Putting a file's messages parents first, and refusing what is not a tree.

The store needs each message after the one it follows (ids grow down a
path). A file may list them in any order (ChatGPT's ``mapping`` is keyed by
id), may name a parent that is not there, or may be so damaged that
messages follow each other in a circle: those are refused before anything
is written.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from desktop.importer.errors import BrokenTree

_K = TypeVar("_K", bound=Hashable)

_SHOWN = 3  # ids named in an error, at most


def parents_first(keys: Sequence[_K], parent_of: Mapping[_K, _K | None], where: str) -> list[_K]:
    """``keys`` with every one after its parent; otherwise in the order given.

    (Kahn's algorithm, taking the earliest ready key each time, so a list that
    is already parents first comes back as it was.) Raises BrokenTree when a
    parent is not among ``keys`` or when some keys form a cycle.
    """
    position = {key: index for index, key in enumerate(keys)}
    children: dict[int, list[int]] = {}
    ready: list[int] = []
    for index, key in enumerate(keys):
        parent = parent_of.get(key)
        if parent is None:
            ready.append(index)
            continue
        if parent not in position:
            raise BrokenTree(
                f"{where}: message {key} follows message {parent}, which is not in the file."
            )
        children.setdefault(position[parent], []).append(index)
    heapq.heapify(ready)
    ordered: list[_K] = []
    while ready:
        index = heapq.heappop(ready)
        ordered.append(keys[index])
        for child in children.get(index, ()):
            heapq.heappush(ready, child)
    if len(ordered) < len(keys):
        placed = set(ordered)
        stuck = [str(key) for key in keys if key not in placed]
        named = ", ".join(stuck[:_SHOWN]) + (", …" if len(stuck) > _SHOWN else "")
        raise BrokenTree(
            f"{where}: messages {named} follow each other in a circle; the file is damaged."
        )
    return ordered
