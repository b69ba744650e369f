"""build_services' demo hook: SIDESTREAM_DEMO_OPTIONS overrides the demo's defaults."""

from __future__ import annotations

import logging

import pytest

from desktop.services import DEMO_DEFAULTS, DEMO_OPTIONS_ENV, demo_defaults


def test_without_the_variable_the_demo_keeps_its_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DEMO_OPTIONS_ENV, raising=False)
    assert demo_defaults() == DEMO_DEFAULTS


def test_the_variable_uses_the_header_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEMO_OPTIONS_ENV, "rate=50;tokens=60")
    options = demo_defaults()
    assert (options.rate, options.tokens) == (50.0, 60)
    assert options.first_token_delay == DEMO_DEFAULTS.first_token_delay
    assert (DEMO_DEFAULTS.rate, DEMO_DEFAULTS.tokens) == (40, 320)  # not changed in place


def test_a_bad_value_is_ignored_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(DEMO_OPTIONS_ENV, "rate=fast")
    with caplog.at_level(logging.WARNING, logger="sidestream.app"):
        assert demo_defaults() == DEMO_DEFAULTS
    assert DEMO_OPTIONS_ENV in caplog.text
