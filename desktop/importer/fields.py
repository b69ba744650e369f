"""Reading one field of a JSON object, with the error a person can act on.

Each function names where the field sits ("Chat 2 (“Plans”), message 7")
when it is missing or of the wrong type, so that a hand-edited or damaged
file says which line to look at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from desktop.importer.errors import BadData

_T = TypeVar("_T")


class _Missing:
    pass


MISSING: Any = _Missing()


def kind_of(value: object) -> str:
    """What a JSON value is, in words: "text", "a number", "null"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def obj(value: object, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, else BadData."""
    if not isinstance(value, dict):
        raise BadData(f"{where} should be an object, not {kind_of(value)}.")
    return value


def _get(data: Mapping[str, Any], key: str, where: str, default: object) -> Any:
    if key in data:
        return data[key]
    if default is MISSING:
        raise BadData(f"{where} has no “{key}”.")
    return default


def _wrong(key: str, where: str, wanted: str, value: object) -> BadData:
    return BadData(f"{where}: “{key}” should be {wanted}, not {kind_of(value)}.")


def text(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> Any:
    """A text field (``default`` when absent; a default of None also allows null)."""
    value = _get(data, key, where, default)
    if value is None and default is None:
        return None
    if not isinstance(value, str):
        raise _wrong(key, where, "text", value)
    return value


def whole(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> Any:
    """A whole-number field (``default`` when absent; a default of None also allows null)."""
    value = _get(data, key, where, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(key, where, "a whole number", value)
    return value


def number(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> Any:
    """A finite number (``default`` when absent; a default of None also allows null)."""
    value = _get(data, key, where, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _wrong(key, where, "a number", value)
    return float(value)


def flag(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> Any:
    value = _get(data, key, where, default)
    if not isinstance(value, bool):
        raise _wrong(key, where, "true or false", value)
    return value


def listed(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = _get(data, key, where, MISSING)
    if not isinstance(value, list):
        raise _wrong(key, where, "a list", value)
    return value


def from_epoch(seconds: float, key: str, where: str) -> datetime:
    """Seconds since 1970 (UTC) as the store keeps times: naive UTC."""
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadData(f"{where}: “{key}” is not a time Sidestream can read ({seconds}).") from exc


def from_iso(value: str, key: str, where: str) -> tuple[datetime, tuple[datetime, ...]]:
    """An ISO 8601 time as naive UTC, and every UTC instant it may stand for.

    A time without an offset is local time, as Sidestream's export writes it;
    in the hour a clock change repeats it has two readings, both returned.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadData(f"{where}: “{key}” is not a time ({value!r}).") from exc
    try:
        if parsed.tzinfo is not None:
            instant = parsed.astimezone(UTC).replace(tzinfo=None)
            return instant, (instant,)
        first = parsed.replace(fold=0).astimezone(UTC).replace(tzinfo=None)
        second = parsed.replace(fold=1).astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadData(f"{where}: “{key}” is not a time Sidestream can read ({value!r}).") from exc
    return first, (first,) if first == second else (first, second)
