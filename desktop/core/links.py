"""What a link in a reply really points to, checked before anything opens it.

Model output is hostile input. A link's text can say anything; its address
is what opens. Before Sidestream opens one it shows the site it leads to (the
registrable domain, from the Public Suffix List: ``evil.example`` in
``https://bank.example.com.evil.example/…``), and refuses addresses that
hide where they lead: invisible characters (zero-width spaces, bidi
controls) in the host, which a URL parser silently drops or rejects. Such
characters elsewhere in the address are shown, not obeyed: a right-to-left
override in the path would otherwise display ``exe.txt`` as ``txt.exe``.
"""

from __future__ import annotations

import functools
import ipaddress
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList

OPENABLE_SCHEMES = frozenset({"http", "https", "mailto"})
SHOWN_LIMIT = 240


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """The verdict on one link address.

    ``site`` is what the user is told the link leads to; ``shown`` is the
    whole address fit for display (invisible characters made visible, very
    long ones elided in the middle); ``refusal`` says why it must not be
    opened, or is None.
    """

    href: str
    scheme: str
    site: str
    host: str
    shown: str
    refusal: str | None = None


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list ships with the package: no network


def _is_invisible(char: str) -> bool:
    # Cf: zero-width characters, bidi embeddings, overrides and isolates,
    # soft hyphen, BOM. Cc: controls. Z*: spaces of any kind.
    category = unicodedata.category(char)
    return category in ("Cf", "Cc") or category.startswith("Z")


def _name(char: str) -> str:
    return unicodedata.name(char, "a control character")


def make_visible(text: str) -> str:
    """``text`` with every invisible character written out as ``⟨U+202E⟩``."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(f"⟨U+{ord(c):04X}⟩" if _is_invisible(c) and c != " " else c for c in text)


def elide_middle(text: str, limit: int = SHOWN_LIMIT) -> str:
    """``text`` cut to ``limit`` characters by dropping its middle: both the
    start and the end (where a host's real domain is) stay visible."""
    if len(text) <= limit:
        return text
    keep = (limit - 1) // 2
    return text[:keep] + "…" + text[len(text) - keep :]


def site_of(host: str) -> str:
    """The registrable domain of ``host`` (``example.co.uk``), or the host
    itself for an IP address, ``localhost`` or a bare public suffix."""
    host = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    return _suffixes().privatesuffix(host) or host


def check_link(href: str) -> LinkCheck:
    """Check one link address (as written in the reply, not yet parsed by Qt)."""
    try:
        parts = urlsplit(href.strip())
    except ValueError as exc:
        return LinkCheck(href, "", "", "", make_visible(elide_middle(href)), f"{exc}.")
    scheme = parts.scheme.lower()
    shown = make_visible(elide_middle(unquote(href.strip())))
    if scheme not in OPENABLE_SCHEMES:
        return LinkCheck(href, scheme, "", "", shown, "Only web and e-mail links are opened.")
    if scheme == "mailto":
        address = unquote(parts.path)
        host = address.rpartition("@")[2]
    else:
        host = unquote(parts.hostname or "")
    hidden = [c for c in host if _is_invisible(c)]
    if hidden:
        return LinkCheck(
            href,
            scheme,
            "",
            host,
            shown,
            f"Its address hides {len(hidden)} invisible character"
            f"{'s' if len(hidden) > 1 else ''} in the site's name ({_name(hidden[0])}), "
            "which can make it lead somewhere other than it seems.",
        )
    if not host:
        return LinkCheck(href, scheme, "", "", shown, "It has no site to go to.")
    return LinkCheck(href, scheme, site_of(host), host.lower(), shown)
