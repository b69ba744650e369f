"""Secrets stay secret, and logs carry no chat text (issue 6).

Covered elsewhere, not repeated here: where keys live (OS keyring first,
then the environment's key only at its own endpoint, session-only without
a keyring) in tests/unit/store/test_secrets.py; key shapes redacted from
provider errors in tests/unit/providers/test_http.py; the data folder 0700 and the database 0600
in tests/unit/store/test_paths.py; model output as hostile input (no remote
image fetched, only http(s)/mailto links open, HTML shown as text) in
tests/unit/ui/test_chat_view.py.

Here the app's services run real chats through providers whose keys are
planted, in all three dialects, with every log at DEBUG into a file (httpx's
and httpcore's too); then the key must be nowhere but in the request
headers: not in the database, its WAL or shared-memory file, the log, or
an export. And with the app's loggers at their most verbose, no record at
INFO or above may hold a prompt or any piece of a reply.

Issue 13: an environment key goes only to the endpoint it was made for (a
recorder on loopback plays a custom OpenAI-compatible server), and a key the
provider echoes in its error is redacted before it is stored, logged,
announced or exported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop.core.models import ProviderKind
from desktop.core.states import MessageStatus
from desktop.export import export_main
from desktop.providers.demo.replies import demo_reply_tokens
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.services.directory import ProviderDirectory
from desktop.store import KeyPersistence, KeyStore, Store
from desktop.streaming.events import Callbacks, StreamEnded
from tests.reliability.conftest import Figures
from tests.reliability.helpers import request
from tests.support.aio import run, wait_for
from tests.support.raw_server import RawServer, RecordedRequest, Reply
from tests.support.services import MemoryKeyring, services_on

PLANTED = "sk-test-PLANTED-1234567890"
PLANTED_ENV = "sk-test-PLANTED-ENV-0987654321"
LOGGERS = ("sidestream", "httpx", "httpcore")
TOKENS = 60


class Captured(logging.Handler):
    """Keeps every record of the app's and httpx's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in LOGGERS:
            self.records.append(record)

    def texts(self, at_least: int) -> list[str]:
        out = []
        for record in self.records:
            if record.levelno >= at_least:
                text = record.getMessage()
                if record.exc_info:
                    text += "\n" + logging.Formatter().formatException(record.exc_info)
                out.append(text)
        return out


@pytest.fixture
def verbose_logs(tmp_path: Path) -> Iterator[tuple[Captured, Path]]:
    """Every app and httpx logger at DEBUG, into a file and a capture; restored after."""
    log_file = tmp_path / "sidestream-debug.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    captured = Captured()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root.addHandler(file_handler)
    root.addHandler(captured)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield captured, log_file
    finally:
        root.removeHandler(file_handler)
        root.removeHandler(captured)
        file_handler.close()
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class Chat:
    name: str
    kind: ProviderKind
    prompt: str
    status: MessageStatus = MessageStatus.COMPLETE


async def converse(
    services: Services, demo: DemoServer | None, provider_id: int, chat: Chat
) -> StreamEnded:
    """Send ``chat.prompt`` through the provider and wait for the reply to end."""
    ended: list[StreamEnded] = []
    listener = Callbacks(ended=ended.append)
    services.manager.attach(None, listener)
    try:
        session = services.chat.create_chat(provider_id=provider_id)
        message = await services.chat.send(session.id, chat.prompt)
        if chat.status is MessageStatus.STOPPED:
            await wait_for(
                lambda: bool((services.manager.snapshot(session.id) or _NONE).text), 10, "text"
            )
            services.chat.stop(session.id)
        await wait_for(lambda: any(e.message_id == message.id for e in ended), 20, chat.name)
        result = next(e for e in ended if e.message_id == message.id)
        assert result.status is chat.status, (chat, result)
        return result
    finally:
        services.manager.detach(None, listener)


class _NoSnapshot:
    text = ""


_NONE = _NoSnapshot()


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "SIDESTREAM_DEMO_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_planted_key_reaches_only_the_request_headers(
    demo: DemoServer,
    tmp_path: Path,
    verbose_logs: tuple[Captured, Path],
    monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:
    case = figures.case("Secrets", "planted API key: only in request headers")
    captured, log_file = verbose_logs
    data = tmp_path / "data"
    ring = MemoryKeyring()
    services = services_on(demo, Store.open(data), KeyStore(backend=ring))
    demo.clear_log()
    bases = {
        ProviderKind.OPENAI_CHAT: demo.openai_base_url,
        ProviderKind.OPENAI_RESPONSES: demo.openai_base_url,
        ProviderKind.ANTHROPIC: demo.anthropic_base_url,
    }
    ids: dict[str, int] = {}
    for kind, base in bases.items():
        stored, persistence = services.settings.add_provider(
            f"Planted {kind.value}", kind, base, "sidestream-demo", api_key=PLANTED
        )
        assert persistence is KeyPersistence.KEYRING
        ids[kind.value] = stored.id
    assert PLANTED in ring.passwords.values(), "the key is in the keyring"
    chats = [Chat(f"chat in {kind.value}", kind, f"planted {kind.value}") for kind in bases]

    async def scenario() -> None:
        demo.defaults = DemoOptions(rate=0, tokens=TOKENS)
        for chat in chats:
            await converse(services, demo, ids[chat.kind.value], chat)
        # A Responses reply cut and resumed (GET with the key), and one stopped
        # (its cancel is a POST with the key), and a 401 answer.
        demo.defaults = DemoOptions(rate=0, tokens=TOKENS, cut_after=12)
        cut = Chat("cut and resumed", ProviderKind.OPENAI_RESPONSES, "planted resumed")
        await converse(services, demo, ids[cut.kind.value], cut)
        demo.defaults = DemoOptions(rate=40, tokens=400)
        stop = Chat(
            "stopped", ProviderKind.OPENAI_RESPONSES, "planted stopped", MessageStatus.STOPPED
        )
        await converse(services, demo, ids[stop.kind.value], stop)
        demo.defaults = DemoOptions(rate=0, tokens=TOKENS, status=401)
        for kind in bases:
            refused = Chat(f"401 in {kind.value}", kind, f"refused {kind.value}")
            refused.status = MessageStatus.FAILED
            await converse(services, demo, ids[kind.value], refused)
        # A provider with no key of its own, at the address the environment's
        # key is for, sends that key.
        demo.defaults = DemoOptions(rate=0, tokens=TOKENS)
        monkeypatch.setenv("OPENAI_API_KEY", PLANTED_ENV)
        monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED_ENV)
        monkeypatch.setenv("OPENAI_BASE_URL", demo.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", demo.anthropic_base_url)
        for kind, base in bases.items():
            stored, _ = services.settings.add_provider(
                f"From the environment {kind.value}", kind, base, "sidestream-demo"
            )
            env_chat = Chat(f"env key in {kind.value}", kind, f"env {kind.value}")
            await converse(services, demo, stored.id, env_chat)
        await services.manager.flush_now()

    async def then_close() -> dict[str, bytes]:
        try:
            await scenario()
            # The database, its WAL and shared-memory file while the app runs.
            return {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
        finally:
            await services.aclose()

    files_open = run(then_close())

    # The key did go out, in each dialect's own header.
    sent = {"authorization": 0, "x-api-key": 0}
    for method, path, headers, _ in demo.requests:
        if path.endswith("/messages"):
            assert headers.get("x-api-key") in (PLANTED, PLANTED_ENV), headers
            sent["x-api-key"] += 1
        elif path.startswith("/v1/"):
            assert headers.get("authorization") in (
                f"Bearer {PLANTED}",
                f"Bearer {PLANTED_ENV}",
            ), (method, path)
            sent["authorization"] += 1
    assert all(sent.values()), sent
    env_used = sum(
        1
        for _, _, headers, _ in demo.requests
        if PLANTED_ENV in headers.get("x-api-key", "") + headers.get("authorization", "")
    )
    assert env_used >= 3

    # And nowhere else.
    exports = {}
    for fmt in ("json", "markdown"):
        out = tmp_path / f"export.{fmt}"
        assert export_main(data, fmt, None, out) == 0
        exports[out.name] = out.read_bytes()
    assert b"planted" in exports["export.json"], "the export holds the chats"
    files_closed = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    log_text = log_file.read_bytes()
    assert b"httpcore" in log_text and b"sidestream.stream" in log_text, "DEBUG logs were on"
    searched = {
        **{f"{name} (while open)": body for name, body in files_open.items()},
        **{f"{name} (after close)": body for name, body in files_closed.items()},
        log_file.name: log_text,
        **exports,
    }
    assert any("-wal" in name for name in searched), "the WAL was searched while it existed"
    for name, body in searched.items():
        for key in (PLANTED, PLANTED_ENV):
            assert key.encode() not in body, f"the key is in {name}"
            assert key.split("-", 2)[-1].encode() not in body, f"part of the key is in {name}"
    assert not any(PLANTED in t or PLANTED_ENV in t for t in captured.texts(logging.DEBUG))
    case.detail += (
        f": sent {sent['authorization']}x as Authorization, {sent['x-api-key']}x as "
        f"x-api-key ({env_used} from the environment); absent from {len(searched)} files "
        f"({', '.join(sorted(searched))}) and {len(captured.records)} log records at DEBUG"
    )


def windows(text: str, prompt: str, size: int = 6) -> set[str]:
    """Every run of ``size`` consecutive reply tokens (about 25 characters)."""
    tokens = demo_reply_tokens(prompt, TOKENS)
    found = {"".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}
    return {w for w in found if len(w.strip()) >= 12}


def test_no_log_record_at_info_or_above_holds_chat_text(
    demo: DemoServer,
    tmp_path: Path,
    verbose_logs: tuple[Captured, Path],
    figures: Figures,
) -> None:
    case = figures.case("Logs", "no prompt or reply text at INFO or above")
    captured, _ = verbose_logs
    services = services_on(demo, Store.open(tmp_path / "data"), KeyStore(backend=MemoryKeyring()))
    kinds = {
        ProviderKind.OPENAI_CHAT: demo.openai_base_url,
        ProviderKind.OPENAI_RESPONSES: demo.openai_base_url,
        ProviderKind.ANTHROPIC: demo.anthropic_base_url,
    }
    ids = {
        kind: services.settings.add_provider(kind.value, kind, base, "sidestream-demo", "k")[0].id
        for kind, base in kinds.items()
    }
    prompts: list[str] = []

    def prompt(label: str) -> str:
        text = f"Zanzibar quokka {label} 7f3e: tell me about the nightly kumquat harvest"
        prompts.append(text)
        return text

    async def scenario() -> None:
        plain = DemoOptions(rate=0, tokens=TOKENS)
        faults = {
            "complete": (plain, MessageStatus.COMPLETE),
            "cut": (DemoOptions(rate=0, tokens=TOKENS, cut_after=9), None),
            "malformed": (DemoOptions(rate=0, tokens=TOKENS, malformed_after=7), None),
            "html": (DemoOptions(rate=0, tokens=TOKENS, content_type="text/html"), None),
        }
        for kind in kinds:
            for label, (options, _) in faults.items():
                demo.defaults = options
                text = prompt(f"{label} {kind.value}")
                chat = Chat(label, kind, text, _expected(kind, label))
                await converse(services, demo, ids[kind], chat)
        demo.defaults = DemoOptions(rate=40, tokens=400)
        stopped = Chat(
            "stopped", ProviderKind.OPENAI_CHAT, prompt("stopped"), MessageStatus.STOPPED
        )
        await converse(services, demo, ids[ProviderKind.OPENAI_CHAT], stopped)

    async def then_close() -> None:
        try:
            await scenario()
        finally:
            await services.aclose()

    run(then_close())

    loud = captured.texts(logging.INFO)
    assert loud, "the app logs at INFO"
    pieces = set(prompts)
    for text in prompts:
        pieces |= windows(demo_reply(text, TOKENS), text)
    leaks = [(p, t) for t in loud for p in pieces if p in t]
    assert not leaks, leaks[:3]
    quiet = captured.texts(logging.DEBUG)
    at_debug = sum(1 for t in quiet if any(p in t for p in pieces))
    case.detail += (
        f": {len(prompts)} chats in 3 dialects (complete, cut, malformed, HTML, stopped); "
        f"{len(loud)} records at INFO+ checked against {len(pieces)} prompts and reply "
        f"fragments: 0 hits ({at_debug} of {len(quiet)} DEBUG records hold chat text)"
    )


def _expected(kind: ProviderKind, label: str) -> MessageStatus:
    if label == "complete":
        return MessageStatus.COMPLETE
    if label == "cut":
        resumable = kind is ProviderKind.OPENAI_RESPONSES
        return MessageStatus.COMPLETE if resumable else MessageStatus.INTERRUPTED
    if label == "malformed" and kind is ProviderKind.OPENAI_RESPONSES:
        return MessageStatus.COMPLETE  # the stored response tells its text
    return MessageStatus.FAILED


# --- issue 13: environment keys stay with their endpoint; echoed keys are redacted -----

RECORDED_REPLY = Reply(chunks=[b"data: [DONE]\n\n"])


def test_an_environment_key_goes_only_to_the_endpoint_it_was_made_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    case = figures.case("Secrets", "environment key only to its own endpoint")
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED_ENV)
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED_ENV)
    keys = KeyStore(backend=MemoryKeyring())
    with RawServer(RECORDED_REPLY) as recorder, Store.open(tmp_path / "data") as store:
        base = recorder.base_url
        # path prefix on the recorder -> (kind, its own key or None)
        providers = {
            "/own-chat": (ProviderKind.OPENAI_CHAT, PLANTED),
            "/own-responses": (ProviderKind.OPENAI_RESPONSES, PLANTED),
            "/own-anthropic": (ProviderKind.ANTHROPIC, PLANTED),
            "/bare-chat": (ProviderKind.OPENAI_CHAT, None),
            "/bare-anthropic": (ProviderKind.ANTHROPIC, None),
        }
        ids = {}
        for prefix, (kind, key) in providers.items():
            ids[prefix] = store.add_provider(prefix, kind, base + prefix, "m").id
            if key:
                keys.set_key(prefix, key)
        openai = store.add_provider("OpenAI", ProviderKind.OPENAI_CHAT, OPENAI_URL, "m")
        anthropic = store.add_provider("Anthropic", ProviderKind.ANTHROPIC, ANTHROPIC_URL, "m")

        async def send_all(directory: ProviderDirectory, prefixes: list[str]) -> None:
            try:
                for prefix in prefixes:
                    provider, _ = directory.provider(ids[prefix])
                    async for _ in provider.stream(request("hello")):
                        pass
            finally:
                await directory.aclose()

        directory = ProviderDirectory(store, keys)
        run(send_all(directory, list(providers)))
        # At OpenAI's and Anthropic's own addresses, the environment's key.
        assert directory.config_for(openai).api_key == PLANTED_ENV
        assert directory.config_for(anthropic).api_key == PLANTED_ENV
        # With the base URL pointing at the recorder, that address is the key's.
        monkeypatch.setenv("OPENAI_BASE_URL", base + "/bare-chat")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base + "/bare-anthropic/v1")
        run(send_all(ProviderDirectory(store, keys), ["/bare-chat", "/bare-anthropic"]))
        moved_away = ProviderDirectory(store, keys).config_for(openai).api_key
        requests = list(recorder.requests)

    def sent(r: RecordedRequest) -> str | None:
        auth = r.headers.get("authorization", r.headers.get("x-api-key"))
        return auth.removeprefix("Bearer ") if auth else None

    seen = [(r.path.split("/")[1], sent(r)) for r in requests]
    assert seen == [
        ("own-chat", PLANTED),
        ("own-responses", PLANTED),
        ("own-anthropic", PLANTED),
        ("bare-chat", None),
        ("bare-anthropic", None),
        ("bare-chat", PLANTED_ENV),
        ("bare-anthropic", PLANTED_ENV),
    ]
    assert moved_away == "", "OPENAI_BASE_URL elsewhere: OpenAI's own URL no longer gets it"
    case.detail += (
        f": {len(requests)} requests to a loopback recorder in 3 dialects with "
        "OPENAI_API_KEY/ANTHROPIC_API_KEY set: own key 3/3, elsewhere no key 2/2, "
        "env key only with the *_BASE_URL pointing there 2/2; OpenAI's and "
        "Anthropic's own URLs get the env key"
    )


OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
# A key of no known shape: only the configured value gives it away.
PLAIN_PLANTED = "gw-local-Secret-7Hq2"


def echoing_401(r: RecordedRequest) -> Reply:
    """What a careless gateway answers: the credentials it was sent, quoted back."""
    auth = r.headers.get("authorization") or r.headers.get("x-api-key", "")
    if r.path.endswith("/messages"):
        body = json.dumps(
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": f"invalid x-api-key: {auth}"},
            }
        )
    else:
        body = json.dumps({"error": {"message": f"Invalid credentials: '{auth}'"}})
    return Reply(status=401, headers=[("Content-Type", "application/json")], chunks=[body.encode()])


def test_a_key_echoed_in_an_error_is_stored_logged_and_exported_redacted(
    demo: DemoServer,
    tmp_path: Path,
    verbose_logs: tuple[Captured, Path],
    figures: Figures,
) -> None:
    case = figures.case("Secrets", "key echoed in a 401: redacted everywhere")
    captured, log_file = verbose_logs
    data = tmp_path / "data"
    services = services_on(demo, Store.open(data), KeyStore(backend=MemoryKeyring()))
    results: list[StreamEnded] = []

    with RawServer(echoing_401) as gateway:

        async def scenario() -> None:
            try:
                for key in (PLANTED, PLAIN_PLANTED):
                    for kind in (
                        ProviderKind.OPENAI_CHAT,
                        ProviderKind.OPENAI_RESPONSES,
                        ProviderKind.ANTHROPIC,
                    ):
                        stored, _ = services.settings.add_provider(
                            f"Echo {kind.value} {key[:6]}", kind, gateway.base_url + "/v1", "m", key
                        )
                        chat = Chat(
                            f"401 {kind.value}", kind, f"echo {kind.value}", MessageStatus.FAILED
                        )
                        results.append(await converse(services, None, stored.id, chat))
                await services.manager.flush_now()
            finally:
                await services.aclose()

        run(scenario())
        echoed = [
            r.headers.get("authorization") or r.headers["x-api-key"] for r in gateway.requests
        ]

    assert len(results) == 6 and all(PLANTED in e or PLAIN_PLANTED in e for e in echoed)
    with Store.open(data) as store:
        stored_errors = [store.get_message(r.message_id) for r in results]
    errors = [m.error for m in stored_errors if m is not None]
    assert len(errors) == 6
    for announced, error in zip(results, errors, strict=True):
        assert error and announced.error == error, "announced (the UI) and stored alike"
        assert "rejected the API key (HTTP 401)" in error and "[redacted]" in error, error
    exports = {}
    for fmt in ("json", "markdown"):
        out = tmp_path / f"export.{fmt}"
        assert export_main(data, fmt, None, out) == 0
        exports[out.name] = out.read_bytes()
    assert b"redacted" in exports["export.json"], "the export holds the errors"
    searched = {
        **{p.name: p.read_bytes() for p in data.iterdir() if p.is_file()},
        log_file.name: log_file.read_bytes(),
        **exports,
    }
    for name, body in searched.items():
        for key in (PLANTED, PLAIN_PLANTED):
            assert key.encode() not in body, f"the key is in {name}"
    texts = captured.texts(logging.DEBUG)
    assert any("rejected the API key" in t for t in texts), "the failures were logged"
    assert not any(PLANTED in t or PLAIN_PLANTED in t for t in texts)
    assert all(PLANTED not in e and PLAIN_PLANTED not in e for e in errors)
    case.detail += (
        f": 6 replies (3 dialects x a sk- key and a key of no known shape) answered 401 "
        f"echoing the key; stored and announced as e.g. {errors[0]!r}; no key in "
        f"{len(searched)} files (database, log, exports) or {len(texts)} log records"
    )
