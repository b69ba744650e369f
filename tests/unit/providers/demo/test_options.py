"""The X-Demo-Options header: typed parsing onto the server defaults."""

from __future__ import annotations

import pytest

from desktop.providers.demo import DemoOptions, OptionsError, parse_options_header


def test_values_are_parsed_by_field_type() -> None:
    base = DemoOptions()
    parsed = parse_options_header(
        "rate=12.5; tokens=7;cut_after=3;chunk_split=yes;never_answer;stall_seconds=none",
        base,
    )
    assert parsed.rate == 12.5 and isinstance(parsed.rate, float)
    assert parsed.tokens == 7 and isinstance(parsed.tokens, int)
    assert parsed.cut_after == 3
    assert parsed.chunk_split is True and parsed.never_answer is True
    assert parsed.stall_seconds is None
    assert base == DemoOptions(), "the defaults are not modified"


def test_unset_fields_fall_back_to_the_base() -> None:
    base = DemoOptions(rate=0, tokens=99, status=500)
    parsed = parse_options_header("status=none;first-token-delay=0.25", base)
    assert (parsed.rate, parsed.tokens, parsed.status) == (0, 99, None)
    assert parsed.first_token_delay == 0.25
    assert parse_options_header("", base) == base


def test_quoted_values_may_hold_semicolons() -> None:
    parsed = parse_options_header(
        'content_type="text/html; charset=utf-8";status=none', DemoOptions()
    )
    assert parsed.content_type == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "header",
    ["bogus=1", "tokens=many", "chunk_split=maybe", "rate", 'content_type="open', "status=4.5"],
)
def test_bad_headers_are_rejected(header: str) -> None:
    with pytest.raises(OptionsError):
        parse_options_header(header, DemoOptions())


def test_table_knobs_parse_as_optional_counts() -> None:
    parsed = parse_options_header("table_rows=1000;table-columns=30", DemoOptions())
    assert (parsed.table_rows, parsed.table_columns) == (1000, 30)
    assert DemoOptions().table_rows is None and DemoOptions().table_columns is None
