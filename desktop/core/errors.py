"""Typed provider errors: HTTP and protocol trouble as values with a human message.

A provider's own words can hold a secret: a gateway that answers 401 with
``Invalid credentials: 'Bearer sk-…'`` echoes the key it was sent. Such text
ends up in the database (``messages.error``), in logs and in exports, so a
:class:`ProviderError` never keeps anything shaped like a key or a bearer
token (:func:`redact`), and the provider layer also removes the configured
key itself, whatever its shape (:meth:`ProviderError.redacted`).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "[redacted]"
# A configured key shorter than this is not a secret worth hiding ("demo",
# "none", "-"), and replacing it everywhere would mangle ordinary words.
MIN_SECRET_CHARS = 8

# What keys and tokens are made of: base64 and base64url, and JWT's dots.
_TOKEN = r"[A-Za-z0-9._~+/=\-]"
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # An Authorization value: "Bearer <token>", "Basic <token>". A plain word
    # after the scheme ("Bearer authentication is required") is prose.
    (
        re.compile(rf"\b((?i:bearer|basic))(\s+)(?![A-Z]?[a-z]+(?!{_TOKEN})){_TOKEN}{{8,}}"),
        rf"\1\2{REDACTED}",
    ),
    # Well-known key shapes: OpenAI sk-, sk-proj-, sk-svcacct-; Anthropic
    # sk-ant-; OpenRouter sk-or-; Groq gsk_; xAI xai-; Hugging Face hf_;
    # Google AIza; and JSON Web Tokens.
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), f"sk-…{REDACTED}"),
    (re.compile(r"\b(gsk_|xai-|hf_|AIza)[A-Za-z0-9_\-]{20,}"), rf"\1…{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"), REDACTED),
    # A long run of letters and digits right after a key or token word
    # ("invalid api key: 3f9a…", "token 'Zm9v…' expired"); request ids and
    # JSON paths elsewhere in a message are left alone.
    (
        re.compile(
            r"(?i)\b((?:api[ _-]?)?keys?|tokens?|secrets?|passwords?|credentials?)\b"
            r"([^A-Za-z0-9\n]{0,4}(?:(?:provided|given|used|is|was)\b[^A-Za-z0-9\n]{0,4})?)"
            r"(?=[A-Za-z0-9_+/=\-]*[0-9])(?=[A-Za-z0-9_+/=\-]*[A-Za-z])[A-Za-z0-9_+/=\-]{20,}"
        ),
        rf"\1\2{REDACTED}",
    ),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without ``secrets`` (verbatim) and without anything shaped like a key.

    Idempotent: what it puts in never looks like a secret itself.
    """
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS and secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ErrorKind(enum.StrEnum):
    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    SERVER = "server"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    PROTOCOL = "protocol"
    CONNECTION = "connection"
    STALLED = "stalled"
    # Nothing but maybe pings until the first-token wait passed.
    NO_FIRST_TOKEN = "no_first_token"
    # HTTP 200 and an event stream with no event at all.
    EMPTY_REPLY = "empty_reply"

    @property
    def retryable_by_resume(self) -> bool:
        """A resumable stream may reconnect from its cursor after these."""
        return self in (ErrorKind.CONNECTION, ErrorKind.STALLED)


_TITLES = {
    ErrorKind.AUTH: "The provider rejected the API key",
    ErrorKind.RATE_LIMIT: "Rate limited by the provider",
    ErrorKind.OVERLOADED: "The provider is overloaded",
    ErrorKind.SERVER: "The provider had a server error",
    ErrorKind.BAD_REQUEST: "The provider rejected the request",
    ErrorKind.NOT_FOUND: "The provider does not know this model or endpoint",
    ErrorKind.PROTOCOL: "The provider sent a reply Sidestream could not read",
    ErrorKind.CONNECTION: "The connection to the provider failed",
    ErrorKind.STALLED: "The provider stopped sending data",
    ErrorKind.NO_FIRST_TOKEN: "The model sent nothing",
    ErrorKind.EMPTY_REPLY: "The provider sent an empty reply",
}
# Kinds whose detail goes on the title's sentence ("The model sent nothing
# for 10 minutes") rather than explaining it after a colon.
_TITLE_GOES_ON = frozenset({ErrorKind.NO_FIRST_TOKEN})
_SENTENCE_END = (".", "!", "?", "…")


@dataclass(frozen=True, slots=True)
class ProviderError(Exception):
    """Anything that went wrong talking to a provider.

    ``detail`` is the provider's own words where it gave any, with anything
    shaped like a key or a bearer token taken out (see :func:`redact`);
    ``message`` is what the user reads.
    """

    kind: ErrorKind
    detail: str = ""
    status: int | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.detail:
            object.__setattr__(self, "detail", redact(self.detail))

    def redacted(self, *secrets: str | None) -> ProviderError:
        """This error without ``secrets`` (the configured key) in its detail."""
        if not self.detail:
            return self
        detail = redact(self.detail, secrets)
        return self if detail == self.detail else dataclasses.replace(self, detail=detail)

    @property
    def message(self) -> str:
        text = _TITLES[self.kind]
        if self.status is not None:
            text = f"{text} (HTTP {self.status})"
        if self.detail:
            text += (" " if self.kind in _TITLE_GOES_ON else ": ") + self.detail
        if self.retry_after is not None:
            # A provider's words often end without a full stop ("Overloaded");
            # the next sentence must not run into them.
            if not text.endswith(_SENTENCE_END):
                text += "."
            text += f" Retry after {self.retry_after:g} s."
        return text

    def __str__(self) -> str:
        return self.message
