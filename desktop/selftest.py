"""``sidestream --self-test``: is this build (frozen or not) whole? Exit 0, or 1 and why.

It runs the app's real parts once, offscreen when there is no display, and
touches nothing of the user's: a temporary data folder, a keyring that stores
nothing, the embedded demo server on loopback, a notifier that only records.

1. Qt: the application starts on a platform plugin (offscreen without a display).
2. Resources: the icons are in the bundle and decode; Qt can read PNG and SVG
   (icons) and JPEG, GIF and WebP (attached images); pypdf reads a PDF.
3. Notifications: desktop-notifier loads and has a real backend (in a frozen
   build, a dummy backend fails the test: on macOS an unsigned .app, on
   Windows missing winrt modules).
4. Store: a fresh SQLite store in a temporary folder.
5. Demo server: started on 127.0.0.1 with fast replies.
6. Stream: a prompt sent through ChatService; the StreamManager consumes the
   reply; the stored text must be exactly the demo's reply to that prompt.
7. Render: a real ChatView shows the transcript; every word Qt's own Markdown
   reading of the reply shows must be in the rendered document; it paints.
8. Notification: the reply ended with no chat on screen, so the
   NotificationService must have sent exactly one notification about it.
9. Shutdown: services closed, the demo server saw no error, the folder removed.

Each step is written to standard error (when there is one: a windowed build
has none) as ``self-test: ok <step> ...``; a failure as ``self-test: FAILED``
with the step and the reason.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop.core.models import Message

log = logging.getLogger("sidestream.selftest")

PROMPT = "Self-test: does every part of this build work?"
TOKENS = 160
STEP_TIMEOUT = 30.0
REQUIRED_ICONS = ("sidestream-48.png", "sidestream-128.png", "tray-22.png", "tray-44.png")
_WORD = re.compile(r"\w{3,}")


class SelfTestError(Exception):
    """A step failed; the message says why."""


@dataclass
class Report:
    """Writes one line per step to ``out`` (if any), and to the log at INFO."""

    out: TextIO | None
    started: float = field(default_factory=time.monotonic)
    _last: float = field(default_factory=time.monotonic)
    step: str = "start"

    def begin(self, step: str) -> None:
        self.step = step
        self._last = time.monotonic()

    def ok(self, detail: str = "") -> None:
        elapsed = (time.monotonic() - self._last) * 1000
        line = f"ok  {self.step}" + (f": {detail}" if detail else "") + f" ({elapsed:.0f} ms)"
        log.info("%s", line)
        self._write(line)

    def passed(self) -> None:
        line = f"passed in {time.monotonic() - self.started:.2f} s"
        log.info("%s", line)
        self._write(line)

    def failed(self, reason: str) -> None:
        line = f"FAILED at {self.step}: {reason}"
        log.info("%s", line)  # standard error has it already; the log has it at INFO
        self._write(line)

    def _write(self, line: str) -> None:
        if self.out is None:
            return
        try:
            self.out.write(f"self-test: {line}\n")
            self.out.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream must not turn a pass into a crash


def choose_platform(environ: dict[str, str] | os._Environ[str], platform: str) -> str | None:
    """The Qt platform plugin to force, if any: offscreen on Linux with no display.

    Respects an explicit ``QT_QPA_PLATFORM``; macOS and Windows always have one.
    """
    if environ.get("QT_QPA_PLATFORM"):
        return None
    if platform.startswith("linux") and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    ):
        return "offscreen"
    return None


def missing_words(reference: str, rendered: str) -> list[str]:
    """Words (3+ word characters) of ``reference`` that ``rendered`` lacks, in order."""
    have = set(_WORD.findall(rendered))
    missing: list[str] = []
    for word in _WORD.findall(reference):
        if word not in have and word not in missing:
            missing.append(word)
    return missing


def self_test() -> int:
    """Run every step; 0 if all passed, else 1 (the reason is on standard error)."""
    report = Report(sys.stderr)
    try:
        _run(report)
    except SelfTestError as exc:
        report.failed(str(exc))
        return 1
    except Exception as exc:
        log.exception("self-test: unexpected error")
        report.failed(f"{type(exc).__name__}: {exc}")
        return 1
    report.passed()
    return 0


def _run(report: Report) -> None:
    report.begin("qt")
    forced = choose_platform(os.environ, sys.platform)
    if forced:
        os.environ["QT_QPA_PLATFORM"] = forced
    import PySide6  # before qasync, so that it picks PySide6
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication

    os.environ.setdefault("QT_API", "pyside6")
    from desktop import APP_NAME
    from desktop.ui.event_loop import new_event_loop

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    report.ok(f"Qt {qVersion()}, PySide6 {PySide6.__version__}, platform {app.platformName()}")

    _check_resources(report)
    _check_notifier_backend(report)
    _check_link_check(report)

    # As in the app, no automatic collection: a cycle holding a Qt object must
    # not be collected in the demo server's or the store writer's thread, nor
    # in the middle of a QObject's destructor (a deadlock on Qt's signal mutex).
    # Collected here, on this thread, between Qt calls, instead.
    automatic_gc = gc.isenabled()
    gc.disable()
    try:
        with tempfile.TemporaryDirectory(prefix="sidestream-selftest-") as tmp:
            with asyncio.Runner(loop_factory=lambda: new_event_loop(app)) as runner:
                runner.run(_scenario(report, app, Path(tmp)))
            report.begin("cleanup")
            gc.collect()
        report.ok("temporary folder removed")
    finally:
        gc.collect()
        if automatic_gc:
            gc.enable()


def _check_resources(report: Report) -> None:
    report.begin("resources")
    from PySide6.QtGui import QImage, QImageReader

    from desktop.ui.icons import icons_dir

    folder = icons_dir()
    missing = [name for name in REQUIRED_ICONS if not (folder / name).is_file()]
    if missing:
        raise SelfTestError(f"icons missing from {folder}: {', '.join(missing)}")
    for name in REQUIRED_ICONS:
        if QImage(str(folder / name)).isNull():
            raise SelfTestError(f"{folder / name} does not decode")
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    # PNG and SVG for the icons; JPEG, GIF and WebP for attached images' thumbnails.
    lacking = {"png", "svg", "jpeg", "gif", "webp"} - formats
    if lacking:
        raise SelfTestError(f"Qt cannot read {', '.join(sorted(lacking))} images")
    report.ok(f"{len(REQUIRED_ICONS)} icons in {folder}")
    _check_pdf(report)


def _check_pdf(report: Report) -> None:
    """pypdf reads an attached PDF's text; a build may leave it out (a lazy import)."""
    report.begin("pdf")
    import io

    import pypdf

    out = io.BytesIO()
    writer = pypdf.PdfWriter()
    writer.add_blank_page(72, 72)
    writer.write(out)
    pages = len(pypdf.PdfReader(io.BytesIO(out.getvalue())).pages)
    if pages != 1:
        raise SelfTestError(f"pypdf read {pages} pages of a one-page PDF")
    report.ok(f"pypdf {pypdf.__version__}")


def _check_link_check(report: Report) -> None:
    """The Public Suffix List ships as a data file a build can leave out."""
    report.begin("link check")
    from desktop.core.links import site_of

    site = site_of("bank.example.com.evil.example.co.uk")
    if site != "example.co.uk":
        raise SelfTestError(f"the Public Suffix List is not whole: got {site!r}")
    report.ok("links name their registrable domain")


def _check_notifier_backend(report: Report) -> None:
    report.begin("notifications library")
    from desktop.ui.notifications import DesktopNotifier

    backend = type(getattr(DesktopNotifier()._notifier, "_backend", None)).__name__
    if backend == "DummyNotificationCenter" and getattr(sys, "frozen", False):
        hint = {
            "darwin": "is the .app signed (codesign --force --deep -s -)?",
            "win32": "are the winrt modules bundled?",
        }.get(sys.platform, "")
        raise SelfTestError(f"desktop-notifier has no backend in this build {hint}".strip())
    report.ok(f"desktop-notifier backend {backend}")


async def _until(predicate: Callable[[], bool], what: str) -> None:
    """Wait for ``predicate`` with a deadline, letting Qt and asyncio run."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise SelfTestError(f"timed out after {STEP_TIMEOUT:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)


async def _within(awaitable: Awaitable[object], what: str) -> None:
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            await awaitable
    except TimeoutError:
        raise SelfTestError(f"timed out after {STEP_TIMEOUT:.0f} s waiting for {what}") from None


async def _scenario(report: Report, app: QApplication, data_dir: Path) -> None:
    import keyring.backends.null

    from desktop.core.states import MessageStatus, Role
    from desktop.providers.demo import DemoOptions, DemoServer, demo_reply
    from desktop.services import Services, build_services
    from desktop.services.directory import DEMO_MODEL
    from desktop.store import KeyStore, Store
    from desktop.streaming.events import StreamEnded, StreamListener
    from desktop.ui.notifications import NotificationService, RecordingNotifier

    report.begin("store")
    store = Store.open(data_dir)
    report.ok(f"new store in {data_dir}")

    report.begin("demo server")
    demo = DemoServer(defaults=DemoOptions(rate=0, tokens=TOKENS))
    services: Services | None = None
    try:
        demo.start()
        report.ok(demo.openai_base_url)

        report.begin("services")
        # A keyring that keeps nothing: the user's real one is never touched.
        no_keyring = keyring.backends.null.Keyring()  # type: ignore[no-untyped-call]
        services = build_services(store, KeyStore(backend=no_keyring), demo=demo)
        demo_provider = next((p for p in services.settings.providers() if p.is_demo), None)
        if demo_provider is None:
            raise SelfTestError("the demo provider was not set up")
        session = services.chat.create_chat("Self-test", provider_id=demo_provider.id)
        report.ok(f"chat {session.id} on {demo_provider.name} ({DEMO_MODEL})")

        recorder = RecordingNotifier()
        notifications = NotificationService(
            services.manager, services.chat, services.settings, recorder, lambda: None
        )
        finished: list[StreamEnded] = []

        class Ends(StreamListener):
            def on_stream_ended(self, ended: StreamEnded) -> None:
                finished.append(ended)

        ends = Ends()
        services.manager.attach(None, ends)
        try:
            report.begin("stream")
            message = await services.chat.send(session.id, PROMPT)
            await _until(lambda: bool(finished), "the reply to end")
            stored = services.chat.message(message.id)
            expected = demo_reply(PROMPT, TOKENS)
            if stored is None:
                raise SelfTestError("the reply is not in the store")
            if stored.status is not MessageStatus.COMPLETE:
                why = stored.error or stored.reason or ""
                raise SelfTestError(f"the reply ended {stored.status.value} {why}".strip())
            if stored.content != expected:
                raise SelfTestError(
                    f"the stored reply differs from the demo's ({len(stored.content)} characters"
                    f" stored, {len(expected)} expected)"
                )
            report.ok(f"{len(expected)} characters streamed and stored")

            report.begin("render")
            _check_render(services.chat.messages(session.id), message.id, expected)
            report.ok("the chat view shows the reply and paints")

            report.begin("notification")
            await _until(lambda: bool(recorder.sent) and not notifications.pending(), "it")
            title, body, session_id = recorder.sent[0]
            if len(recorder.sent) != 1 or session_id != session.id:
                raise SelfTestError(
                    f"expected one notification about chat {session.id}, got {recorder.sent}"
                )
            titled = services.chat.chat(session.id)
            if titled is None or title != titled.title or not body:
                raise SelfTestError(f"unexpected notification {title!r}: {body!r}")
            report.ok(f"{title!r}: {body!r}")
        finally:
            services.manager.detach(None, ends)
            await notifications.aclose()
        report.begin("shutdown")
        user_turns = [m for m in services.chat.messages(session.id) if m.role is Role.USER]
        await _within(services.aclose(), "the services to close")
        services = None
        if demo.errors:
            raise SelfTestError(f"the demo server reported errors: {demo.errors!r}")
        report.ok(f"{len(user_turns)} prompt, services closed")
    finally:
        if services is not None:
            try:
                await _within(services.aclose(), "the services to close")
            except Exception:
                log.exception("closing the services after a failure")
        demo.stop()
        store.close()
        app.processEvents()


def _check_render(messages: list[Message], message_id: int, expected: str) -> None:
    from PySide6.QtGui import QTextDocument

    from desktop.ui.chat_view import ChatView

    view = ChatView()
    view.resize(800, 600)
    view.load_transcript(messages)
    if view.message_text(message_id) != expected:
        raise SelfTestError("the chat view holds other text than the stored reply")
    reference = QTextDocument()
    reference.setMarkdown(expected)
    missing = missing_words(reference.toPlainText(), view.document().toPlainText())
    if missing:
        raise SelfTestError(f"the rendered reply lacks {', '.join(missing[:5])}")
    if view.grab().isNull():
        raise SelfTestError("the chat view did not paint")
