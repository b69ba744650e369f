"""Where a link really leads: the registrable domain, invisible characters, elision."""

from __future__ import annotations

import pytest

from desktop.core.links import check_link, elide_middle, make_visible, site_of


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("bank.example.com.evil.example", "evil.example"),
        ("www.example.co.uk", "example.co.uk"),
        ("user.github.io", "user.github.io"),  # a private suffix: each user is a site
        ("EXAMPLE.com.", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
    ],
)
def test_the_site_is_the_registrable_domain(host: str, site: str) -> None:
    assert site_of(host) == site


@pytest.mark.parametrize(
    "href",
    [
        "https://pay\u200bpal.example/",  # zero-width space
        "https://pay%E2%80%8Bpal.example/",  # the same, percent-encoded
        "https://ex\u202eelpmaxe.com/",  # right-to-left override
        "https://a\u2066b.example/",  # left-to-right isolate
        "https://a\u00adb.example/",  # soft hyphen
        "mailto:x@a\u200db.example",  # zero-width joiner in a mail domain
    ],
)
def test_invisible_characters_in_the_host_refuse_the_link(href: str) -> None:
    check = check_link(href)
    assert check.refusal is not None and "invisible character" in check.refusal
    assert "⟨U+" in check.shown


def test_invisible_characters_elsewhere_are_shown_not_obeyed() -> None:
    check = check_link("https://example.com/invoice_\u202efdp.exe")
    assert check.refusal is None and check.site == "example.com"
    assert check.shown == "https://example.com/invoice_⟨U+202E⟩fdp.exe"


def test_a_long_address_keeps_its_start_and_its_end() -> None:
    href = "https://" + "a" * 1000 + ".evil.example/path"
    check = check_link(href)
    assert len(check.shown) <= 240 and "…" in check.shown
    assert check.shown.startswith("https://aaa") and check.shown.endswith(".evil.example/path")
    assert check.site == "evil.example"
    assert elide_middle("short") == "short"


@pytest.mark.parametrize("href", ["javascript:alert(1)", "file:///etc/passwd", "data:,x"])
def test_other_schemes_are_refused(href: str) -> None:
    assert check_link(href).refusal == "Only web and e-mail links are opened."


def test_plain_text_is_not_touched() -> None:
    assert make_visible("https://example.com/ä") == "https://example.com/ä"
    assert make_visible("a\tb") == "a⟨U+0009⟩b"
