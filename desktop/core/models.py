"""Plain records passed between layers: requests, chats, messages, provider configs."""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from desktop.core.states import FinishReason, MessageStatus, Role


class ProviderKind(enum.StrEnum):
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    ANTHROPIC = "anthropic"


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """One block of a reply's reasoning that must go back to the provider unchanged.

    Anthropic signs its ``thinking`` blocks and encrypts ``redacted_thinking``
    ones; a later assistant turn has to carry them exactly as they came
    (modified, they are refused). Other dialects have none.
    """

    type: str  # "thinking" | "redacted_thinking"
    thinking: str = ""
    signature: str = ""
    data: str = ""

    @classmethod
    def signed(cls, thinking: str, signature: str) -> ReasoningBlock:
        return cls("thinking", thinking=thinking, signature=signature)

    @classmethod
    def redacted(cls, data: str) -> ReasoningBlock:
        return cls("redacted_thinking", data=data)

    def to_json(self) -> dict[str, str]:
        """The block as the Messages API takes it in an assistant turn's content."""
        if self.type == "redacted_thinking":
            return {"type": self.type, "data": self.data}
        return {"type": self.type, "thinking": self.thinking, "signature": self.signature}

    @classmethod
    def from_json(cls, value: Any) -> ReasoningBlock | None:
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        if kind == "redacted_thinking" and isinstance(value.get("data"), str):
            return cls.redacted(value["data"])
        if kind == "thinking":
            thinking, signature = value.get("thinking"), value.get("signature")
            if isinstance(thinking, str) and isinstance(signature, str):
                return cls.signed(thinking, signature)
        return None


def blocks_to_json(blocks: Iterable[ReasoningBlock]) -> str | None:
    """Reasoning blocks as stored (``messages.reasoning_blocks``); None for none."""
    listed = [block.to_json() for block in blocks]
    return json.dumps(listed, ensure_ascii=False) if listed else None


def blocks_from_json(text: str | None) -> tuple[ReasoningBlock, ...]:
    """The stored blocks back; what cannot be read is left out (never raises)."""
    if not text:
        return ()
    try:
        values = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(values, list):
        return ()
    return tuple(b for b in map(ReasoningBlock.from_json, values) if b is not None)


#: OpenAI's reasoning efforts (Chat Completions ``reasoning_effort``, Responses
#: ``reasoning.effort``). Which a model takes varies: "minimal" from gpt-5,
#: "none" from gpt-5.1, "xhigh" only on the newest; o-series take low to high.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
#: Anthropic refuses a smaller extended-thinking budget (``budget_tokens``).
MIN_THINKING_BUDGET = 1024
#: OpenAI's range; Anthropic takes 0 to 1 and its dialect sends at most 1.
MAX_TEMPERATURE = 2.0


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number (got {value!r})")
    return float(value)


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    return value


def check_temperature(value: object) -> float:
    """``value`` as a temperature, 0 to 2; ValueError with a message for the user."""
    number = _number("Temperature", value)
    if not 0.0 <= number <= MAX_TEMPERATURE:  # also refuses NaN
        raise ValueError(f"Temperature must be between 0 and 2 (got {value!r})")
    return number


def check_top_p(value: object) -> float:
    """``value`` as a nucleus-sampling top-p, 0 to 1; ValueError otherwise."""
    number = _number("Top-p", value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"Top-p must be between 0 and 1 (got {value!r})")
    return number


def check_max_output_tokens(value: object) -> int:
    """``value`` as a reply's token limit, at least 1; ValueError otherwise."""
    number = _whole("Maximum output tokens", value)
    if number < 1:
        raise ValueError(f"Maximum output tokens must be at least 1 (got {number})")
    return number


def check_reasoning_effort(value: object) -> str:
    """``value`` as one of :data:`REASONING_EFFORTS`; ValueError otherwise."""
    if value not in REASONING_EFFORTS:
        known = ", ".join(REASONING_EFFORTS)
        raise ValueError(f"Reasoning effort must be one of {known} (got {value!r})")
    return str(value)


def check_thinking_budget(value: object) -> int:
    """``value`` as an Anthropic thinking budget, at least 1024 tokens; ValueError otherwise."""
    number = _whole("Thinking budget", value)
    if number < MIN_THINKING_BUDGET:
        raise ValueError(
            f"Thinking budget must be at least {MIN_THINKING_BUDGET} tokens (got {number})"
        )
    return number


_CHECKS = {
    "temperature": check_temperature,
    "top_p": check_top_p,
    "max_output_tokens": check_max_output_tokens,
    "reasoning_effort": check_reasoning_effort,
    "thinking_budget": check_thinking_budget,
}


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """A chat's sampling and length settings; each None is unset.

    An unset field is left out of the request, so the provider's (or the
    model's) own default applies. Each dialect sends a set field under the
    name its API gives it (``desktop.providers``): ``reasoning_effort`` is
    OpenAI's (Chat Completions, Responses), ``thinking_budget`` Anthropic's
    extended thinking (``budget_tokens``); a dialect without one ignores it.
    Nothing is checked on construction (a stored value must always load);
    :meth:`validate` is what a form calls.
    """

    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None

    @property
    def is_unset(self) -> bool:
        return self == GenerationParams()

    def validate(self) -> GenerationParams:
        """Self, if every set field is in range; else ValueError naming the first
        that is not, in words a user can act on.

        Fields are checked one by one: how they combine is the dialect's to
        fit (Anthropic's ``max_tokens`` must exceed the thinking budget; its
        dialect raises it, see ``desktop.providers.anthropic.add_params``).
        """
        for name, check in _CHECKS.items():
            value = getattr(self, name)
            if value is not None:
                check(value)
        return self

    def to_json(self) -> str | None:
        """The set fields as a JSON object (as stored); None when nothing is set."""
        values = {name: getattr(self, name) for name in _CHECKS if getattr(self, name) is not None}
        return json.dumps(values) if values else None

    @classmethod
    def from_json(cls, text: str | None) -> GenerationParams:
        """The stored settings back; a field that cannot be read or is out of
        range is left unset (never raises)."""
        if not text:
            return cls()
        try:
            values = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(values, dict):
            return cls()
        kept: dict[str, Any] = {}
        for name, check in _CHECKS.items():
            if values.get(name) is None:
                continue
            try:
                kept[name] = check(values[name])
            except ValueError:
                continue
        return cls(**kept)


class AttachmentKind(enum.StrEnum):
    """What a file attached to a message is, and so how it is sent."""

    IMAGE = "image"  # PNG, JPEG, WebP, GIF: sent as an image part
    TEXT = "text"  # UTF-8 (or UTF-16 with a BOM) text: sent as a text part
    PDF = "pdf"  # its text layer (pypdf), sent as a text part


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message, stored once under its SHA-256 in the data folder.

    ``text`` is what a PDF's text layer read (kept with the message, so that
    resending a chat does not parse the PDF again); None for the other kinds,
    whose text (or image) is the file itself.
    """

    sha256: str
    name: str
    mime: str
    kind: AttachmentKind
    size: int
    text: str | None = None


@dataclass(frozen=True, slots=True)
class TurnFile:
    """An attached file as a model is sent it: an image's bytes, or the text of
    a text file or PDF (``text``), with its name and media type.

    ``encoded`` is an image's base64, when it was made ahead (off the event
    loop: 20 MB take ~30 ms); else :meth:`base64` makes it.
    """

    name: str
    mime: str
    kind: AttachmentKind
    data: bytes = b""
    text: str = ""
    encoded: str = ""

    @classmethod
    def image(cls, name: str, mime: str, data: bytes) -> TurnFile:
        """An image with its base64 made now, in pieces (call it in a worker
        thread: one ``b64encode`` of 20 MB would hold the GIL for ~30 ms)."""
        step = 3 << 18  # a multiple of 3: the pieces' base64 joins into the whole's
        pieces = [
            base64.b64encode(data[start : start + step]).decode("ascii")
            for start in range(0, len(data), step)
        ]
        return cls(name, mime, AttachmentKind.IMAGE, data=data, encoded="".join(pieces))

    @property
    def is_image(self) -> bool:
        return self.kind is AttachmentKind.IMAGE

    def base64(self) -> str:
        """An image's bytes as base64 (Anthropic's image ``source``)."""
        return self.encoded or base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        """An image as a ``data:`` URL (Chat Completions ``image_url``, Responses
        ``input_image``)."""
        return f"data:{self.mime};base64,{self.base64()}"

    def framed_text(self) -> str:
        """A text file's content as one text part, named, so the model can tell
        the files apart and from the message."""
        return f'<file name="{self.name}">\n{self.text}\n</file>'


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One turn of the transcript a model is sent.

    ``reasoning_blocks`` are an assistant turn's signed reasoning; only the
    Anthropic dialect sends them (back, unchanged), the others leave them out.
    ``files`` are the files attached to a user turn, in the order attached.
    """

    role: Role
    content: str
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()
    files: tuple[TurnFile, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One reply to generate.

    When ``continue_partial`` is true the last turn is an assistant turn whose
    text the model should go on from (Anthropic prefill; OpenAI-compatible
    ``continue_final_message`` where supported, else a follow-up turn).

    ``system`` is the chat's system prompt and ``params`` its settings, each
    sent where its dialect expects it. ``max_tokens`` is the app's own cap
    (a caller's limit, the demo, tests), not the user's setting:
    ``params.max_output_tokens`` wins when set (:attr:`output_limit`).
    """

    model: str
    turns: tuple[ChatTurn, ...]
    system: str | None = None
    # None leaves the length to the provider (Anthropic requires one: it gets
    # ANTHROPIC_DEFAULT_MAX_TOKENS).
    max_tokens: int | None = None
    continue_partial: bool = False
    params: GenerationParams = GenerationParams()

    @property
    def has_files(self) -> bool:
        return any(turn.files for turn in self.turns)

    @property
    def output_limit(self) -> int | None:
        """The reply's token limit: the chat's setting, else the app's cap, else None."""
        if self.params.max_output_tokens is not None:
            return self.params.max_output_tokens
        return self.max_tokens


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    kind: ProviderKind
    base_url: str
    api_key: str | None = None
    default_model: str = ""
    name: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()
    connect_timeout: float = 10.0
    # Once the first token came, no bytes for this long means the stream
    # stalled (the watchdog).
    read_timeout: float = 60.0
    # How long a reply may take to its first token (text or reasoning), in
    # all: a reasoning model or a local server reading a long prompt can be
    # silent for minutes. Bytes without a token (pings, comments) neither end
    # nor extend it.
    first_token_wait: float = 600.0


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    """What a provider that can tell says about a reply it is generating."""

    status: str  # "in_progress" | "completed" | "failed" | "cancelled" | "queued" ...
    text: str | None = None


@dataclass(slots=True)
class Session:
    id: int
    title: str
    provider_id: int | None
    model: str
    muted: bool
    created_at: datetime
    updated_at: datetime
    unread: bool = False
    # The end of the path of its message tree the chat shows (None: empty).
    active_leaf_id: int | None = None
    system_prompt: str = ""
    preset_id: int | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    # Order in a long history: pinned chats lead the list, archived ones
    # leave it (they are still searched), a folder ("" none) groups chats.
    pinned: bool = False
    archived: bool = False
    folder: str = ""


@dataclass(slots=True)
class Message:
    id: int
    session_id: int
    role: Role
    content: str
    status: MessageStatus
    error: str | None = None
    reason: str | None = None
    cursor: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    created_at: datetime = field(default_factory=datetime.now)
    updated_at: datetime = field(default_factory=datetime.now)
    # The reasoning apart from the answer, its blocks a provider wants back
    # (Anthropic signatures), why the model ended the reply, and how long it
    # reasoned before answering.
    reasoning: str = ""
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()
    finish: FinishReason | None = None
    reasoning_seconds: float | None = None
    # The message it answers or follows in the chat's tree (None: the first).
    parent_id: int | None = None
    # Files attached to a user message, in the order attached.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Preset:
    """An assistant to start chats from: a name, a system prompt, a provider and
    model (None, "": the default provider's), and parameters."""

    id: int
    name: str
    system_prompt: str = ""
    provider_id: int | None = None
    model: str = ""
    params: GenerationParams = field(default_factory=GenerationParams)


@dataclass(slots=True)
class StoredProvider:
    id: int
    name: str
    kind: ProviderKind
    base_url: str
    default_model: str
