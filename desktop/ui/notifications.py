"""Native notifications: when a reply ends unseen, tell the user once (invariant 8).

:class:`NotificationService` listens for the stream manager's terminal events
and decides, in one place, what an ended reply deserves:

* ``complete`` / ``failed`` while its chat is not visible (not the current tab,
  or the window hidden, minimised or inactive): an unread mark
  (:attr:`NotificationService.finished_unseen`) and a notification, unless the
  chat is muted or "Do not disturb" is on. Exactly one per run of a reply.
* ``interrupted`` unseen (evicted, connection lost, stalled): the unread mark
  only. The reply did not finish; a banner saying "your answer is ready" would
  be wrong, and the chat's Continue/Retry actions wait for the user anyway.
  An interruption by the app's own quit marks nothing.
* ``stopped``: nothing; the user did it.

Notifications go through a :class:`Notifier`. :class:`DesktopNotifier` uses
desktop-notifier (D-Bus on Linux, the platform APIs on macOS and Windows);
:class:`FallbackNotifier` falls back to :class:`TrayBalloonNotifier` when no
notification service exists, and says why once.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, Signal

from desktop import APP_NAME
from desktop.core.states import InterruptReason, MessageStatus
from desktop.core.tasks import TaskKeeper
from desktop.services.chat import ChatService
from desktop.services.settings import SettingsService
from desktop.streaming.events import StreamEnded, StreamListener
from desktop.streaming.manager import StreamManager
from desktop.ui.icons import icons_dir

if TYPE_CHECKING:
    from desktop.ui.tray import Tray

log = logging.getLogger("sidestream.notify")

DO_NOT_DISTURB_KEY = "do_not_disturb"
NOTIFICATIONS_BUS_NAME = "org.freedesktop.Notifications"
BODY_LENGTH = 200
SEND_TIMEOUT = 10.0
PROBE_TIMEOUT = 3.0

ClickHandler = Callable[[int], None]
"""Called with the chat's session id when the user clicks a notification."""


class NotifierUnavailable(RuntimeError):
    """No notification service took the notification; the message says why."""


class Notifier(Protocol):
    """Something that can show a notification about a chat and report clicks on it."""

    async def send(self, title: str, body: str, session_id: int) -> None:
        """Show a notification; raise :class:`NotifierUnavailable` if nothing can."""
        ...

    def set_click_handler(self, handler: ClickHandler | None) -> None: ...

    async def withdraw(self, session_id: int) -> None:
        """Take back what is still shown about this chat (it has been seen)."""
        ...

    async def aclose(self) -> None: ...


# ------------------------------------------------------------------ notifiers
def notification_icon_path() -> Path | None:
    """The app icon file a notification shows (None if the resources are missing)."""
    for size in (128, 256, 64, 48):
        path = icons_dir() / f"sidestream-{size}.png"
        if path.is_file():
            return path
    return None


MARKUP_CAPABILITIES = frozenset({"body-markup", "body-hyperlinks", "body-images"})
_TAG = re.compile(r"<[^<>]*>")


def safe_body(text: str, capabilities: frozenset[str]) -> str:
    """A reply's first line made safe for a notification service.

    It is model output: on a service that reads markup, ``<a href>`` would be
    a link that opens without the app's confirmation and ``<img>`` a fetch.
    Where the body is markup it is escaped (shown as written); where the
    service only picks out hyperlinks or images, tags are dropped.
    """
    if "body-markup" in capabilities:
        return html.escape(text, quote=False)
    if capabilities & MARKUP_CAPABILITIES:
        return _TAG.sub("", text)
    return text


async def notification_capabilities() -> list[str]:
    """The freedesktop notification service's ``GetCapabilities`` (e.g. "body-markup")."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    async with asyncio.timeout(PROBE_TIMEOUT):
        bus = await MessageBus().connect()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            reply = await bus.call(
                Message(
                    destination=NOTIFICATIONS_BUS_NAME,
                    path="/org/freedesktop/Notifications",
                    interface=NOTIFICATIONS_BUS_NAME,
                    member="GetCapabilities",
                )
            )
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            raise RuntimeError(f"GetCapabilities failed: {reply.body if reply else 'no reply'}")
        return [str(c) for c in reply.body[0]]
    finally:
        bus.disconnect()


async def notification_service_missing() -> str | None:
    """Why no freedesktop notification service can be reached, or None if one can.

    desktop-notifier does not raise when the service is missing (it logs a
    warning), so ask the session bus first: the name must have an owner or be
    activatable. Gives up after :data:`PROBE_TIMEOUT` seconds.
    """
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            bus = await MessageBus().connect()
    except Exception as exc:
        return f"no D-Bus session bus ({exc or type(exc).__name__})"

    async def call(member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member=member,
                signature=signature,
                body=body or [],
            )
        )
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            raise RuntimeError(f"{member} failed: {reply.body if reply else 'no reply'}")
        return reply.body[0]

    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            if await call("NameHasOwner", "s", [NOTIFICATIONS_BUS_NAME]):
                return None
            if NOTIFICATIONS_BUS_NAME in await call("ListActivatableNames"):
                return None
        return f"no notification service on the session bus ({NOTIFICATIONS_BUS_NAME})"
    except Exception as exc:
        return f"could not ask the session bus ({exc or type(exc).__name__})"
    finally:
        bus.disconnect()


class DesktopNotifier:
    """Native notifications through desktop-notifier, with an "Open" action.

    ``probe`` tells why no service is there (None: there is one); by default
    the session bus is asked on Linux, and desktop-notifier is trusted on
    macOS and Windows. A notification that desktop-notifier did not dispatch
    (it only logs a warning then) raises :class:`NotifierUnavailable` too.
    """

    def __init__(
        self,
        app_name: str = APP_NAME,
        *,
        probe: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        import desktop_notifier as dn

        self._dn = dn
        icon_path = notification_icon_path()
        self._icon = dn.Icon(path=icon_path) if icon_path else None
        self._notifier = dn.DesktopNotifier(app_name=app_name, app_icon=self._icon)
        backend = type(getattr(self._notifier, "_backend", None)).__name__
        self._backend_name = backend
        if probe is not None:
            self._probe: Callable[[], Awaitable[str | None]] | None = probe
        elif backend == "DBusDesktopNotifier":
            self._probe = notification_service_missing
        else:
            self._probe = None
        self._handler: ClickHandler | None = None
        self._shown: dict[int, list[str]] = {}  # session id -> notification identifiers
        self._capabilities: frozenset[str] | None = None

    def set_click_handler(self, handler: ClickHandler | None) -> None:
        self._handler = handler

    async def send(self, title: str, body: str, session_id: int) -> None:
        if self._backend_name == "DummyNotificationCenter":
            raise NotifierUnavailable("desktop-notifier has no backend on this platform or build")
        if self._probe is not None:
            missing = await self._probe()
            if missing is not None:
                raise NotifierUnavailable(missing)
        body = safe_body(body, await self._service_capabilities())
        dispatched = asyncio.Event()
        notification = self._dn.Notification(
            title=title,
            message=body,
            icon=self._icon,
            buttons=(self._dn.Button(title="Open", on_pressed=lambda: self._clicked(session_id)),),
            on_clicked=lambda: self._clicked(session_id),
            on_dispatched=dispatched.set,
            thread=f"chat-{session_id}",
        )
        try:
            await asyncio.wait_for(self._notifier.send_notification(notification), SEND_TIMEOUT)
        except TimeoutError:
            raise NotifierUnavailable("the notification service did not answer") from None
        if not dispatched.is_set():
            raise NotifierUnavailable("the notification service refused it (logged above)")
        self._shown.setdefault(session_id, []).append(notification.identifier)
        log.debug("notified about chat %s: %s", session_id, title)

    async def _service_capabilities(self) -> frozenset[str]:
        """What the notification service does with a body (asked once)."""
        if self._capabilities is None:
            self._capabilities = frozenset()
            if self._backend_name == "DBusDesktopNotifier":
                try:
                    self._capabilities = frozenset(await notification_capabilities())
                except Exception as exc:
                    # Unknown: assume the worst. A literal "&amp;" beats a live link.
                    log.debug("could not ask for the notification service's capabilities: %r", exc)
                    self._capabilities = MARKUP_CAPABILITIES
        return self._capabilities

    async def withdraw(self, session_id: int) -> None:
        for identifier in self._shown.pop(session_id, ()):
            try:
                await asyncio.wait_for(self._notifier.clear(identifier), SEND_TIMEOUT)
            except Exception as exc:  # gone already, or no service: nothing to take back
                log.debug("withdrawing a notification about chat %s: %r", session_id, exc)

    def _clicked(self, session_id: int) -> None:
        log.debug("notification about chat %s clicked", session_id)
        self._shown.pop(session_id, None)  # the service closes a clicked one itself
        if self._handler is not None:
            self._handler(session_id)

    async def aclose(self) -> None:
        bus = getattr(getattr(self._notifier, "_backend", None), "bus", None)
        if bus is not None:
            try:
                bus.disconnect()
            except Exception as exc:
                log.debug("closing the notification bus: %s", exc)


class TrayBalloonNotifier:
    """The fallback: the tray icon's balloon message (QSystemTrayIcon.showMessage).

    A balloon carries no identity, so a click opens the chat of the last one.
    """

    def __init__(self, tray: Tray) -> None:
        self._tray = tray
        self._handler: ClickHandler | None = None
        self._last_session: int | None = None
        tray.message_clicked.connect(self._on_message_clicked)

    def set_click_handler(self, handler: ClickHandler | None) -> None:
        self._handler = handler

    async def send(self, title: str, body: str, session_id: int) -> None:
        if not self._tray.available:
            raise NotifierUnavailable("no system tray to show a balloon in either")
        self._last_session = session_id
        self._tray.show_message(title, body)

    def _on_message_clicked(self) -> None:
        if self._handler is not None and self._last_session is not None:
            self._handler(self._last_session)

    async def withdraw(self, session_id: int) -> None:
        return None  # a balloon cannot be taken back; it fades by itself

    async def aclose(self) -> None:
        return None


class FallbackNotifier:
    """``primary`` while it works; ``fallback`` when it reports it is unavailable.

    Why the fallback is used is logged once, and again only when it changes
    (the service came back, or went away again).
    """

    def __init__(self, primary: Notifier, fallback: Notifier) -> None:
        self.primary = primary
        self.fallback = fallback
        self.fallback_reason: str | None = None

    def set_click_handler(self, handler: ClickHandler | None) -> None:
        self.primary.set_click_handler(handler)
        self.fallback.set_click_handler(handler)

    async def send(self, title: str, body: str, session_id: int) -> None:
        try:
            await self.primary.send(title, body, session_id)
        except NotifierUnavailable as exc:
            try:
                await self.fallback.send(title, body, session_id)
            except NotifierUnavailable as fallback_exc:
                self._report(f"{exc}, and {fallback_exc}: notifications are not shown")
                raise
            self._report(f"{exc}: notifications are shown as tray balloons")
            return
        if self.fallback_reason is not None:
            log.info("native notifications work again")
            self.fallback_reason = None

    async def withdraw(self, session_id: int) -> None:
        await self.primary.withdraw(session_id)
        await self.fallback.withdraw(session_id)

    def _report(self, reason: str) -> None:
        if reason != self.fallback_reason:
            log.warning("cannot show native notifications: %s", reason)
        self.fallback_reason = reason

    async def aclose(self) -> None:
        await self.primary.aclose()
        await self.fallback.aclose()


class RecordingNotifier:
    """A notifier for tests: records what would have been shown; :meth:`click` clicks."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []
        self.withdrawn: list[int] = []
        self._handler: ClickHandler | None = None

    def set_click_handler(self, handler: ClickHandler | None) -> None:
        self._handler = handler

    async def send(self, title: str, body: str, session_id: int) -> None:
        self.sent.append((title, body, session_id))

    def click(self, session_id: int) -> None:
        if self._handler is not None:
            self._handler(session_id)

    async def withdraw(self, session_id: int) -> None:
        self.withdrawn.append(session_id)

    async def aclose(self) -> None:
        return None


# -------------------------------------------------------------------- service
def notification_body(ended: StreamEnded) -> str:
    """The reply's first line, or the error of a failed one, kept short."""
    if ended.status is MessageStatus.FAILED:
        body = f"The reply failed: {ended.error or 'unknown error'}"
    else:
        body = ended.first_line or "The reply is complete."
    body = " ".join(body.split())
    return body if len(body) <= BODY_LENGTH else body[: BODY_LENGTH - 1].rstrip() + "…"


class NotificationService(QObject, StreamListener):
    """Turns the manager's terminal events into unread marks and notifications.

    ``visible_session`` answers which chat the user is looking at now (None:
    none; :meth:`MainWindow.visible_session`); the same answer decides the
    unread mark and the notification, so the two never disagree.
    ``shows_message(session_id, message_id)`` answers whether that chat's
    view shows that reply (its branch is the one shown; None: every reply of
    a chat is shown): a reply that ends on a branch the user left is notified
    as a hidden chat's is, though its chat is on screen (and not marked
    unread: the user is in it).
    """

    finished_unseen = Signal(int)
    """A reply of this chat ended while nobody was looking: mark it unread."""
    clicked = Signal(int)
    """The user clicked the notification about this chat."""
    reply_clicked = Signal(int, int)
    """The same click: the chat and the reply it told of (to show its branch)."""

    def __init__(
        self,
        manager: StreamManager,
        chat: ChatService,
        settings: SettingsService,
        notifier: Notifier,
        visible_session: Callable[[], int | None],
        parent: QObject | None = None,
        shows_message: Callable[[int, int], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self._manager = manager
        self._chat = chat
        self._settings = settings
        self._notifier = notifier
        self._visible_session = visible_session
        self._shows_message = shows_message
        self._told: dict[int, int] = {}  # chat -> the reply its notification is about
        self._notified: set[int] = set()  # message ids notified in their current run
        self._unseen: set[int] = set()  # chats with a notification not yet seen
        self._tasks = TaskKeeper(log)
        self._closed = False
        notifier.set_click_handler(self._on_notifier_clicked)
        manager.attach(None, self)

    # --------------------------------------------------------------- settings
    @property
    def notifier(self) -> Notifier:
        return self._notifier

    @property
    def do_not_disturb(self) -> bool:
        return bool(self._settings.get(DO_NOT_DISTURB_KEY, False))

    def set_do_not_disturb(self, on: bool) -> None:
        """Global switch, persisted; the tray's "Do not disturb" sets it."""
        self._settings.set(DO_NOT_DISTURB_KEY, bool(on))
        log.info("do not disturb %s", "on" if on else "off")

    def pending(self) -> int:
        """Notifications being sent or withdrawn now."""
        return len(self._tasks.pending())

    # ----------------------------------------------------------------- events
    def on_live_changed(self, session_id: int, live: bool) -> None:
        if not live:
            return
        # A reply runs again (Continue reuses its message; SQLite may reuse the
        # id of a deleted one): its next end is a new end worth telling.
        for message_id in self._manager.live_messages(session_id):
            self._notified.discard(message_id)

    def on_stream_ended(self, ended: StreamEnded) -> None:
        if self._closed:
            return
        status = ended.status
        if status is MessageStatus.STOPPED:
            return
        if status is MessageStatus.INTERRUPTED and ended.reason == InterruptReason.APP_QUIT.value:
            return
        if status not in (MessageStatus.COMPLETE, MessageStatus.FAILED, MessageStatus.INTERRUPTED):
            return
        if self._visible_session() == ended.session_id:
            shows = self._shows_message
            if shows is None or shows(ended.session_id, ended.message_id):
                return  # seen as it ended
            # On a branch the user left: told as a hidden chat's reply is,
            # but the chat on screen is not marked unread.
        else:
            self.finished_unseen.emit(ended.session_id)
        if status is MessageStatus.INTERRUPTED:
            return
        if ended.message_id in self._notified:
            log.debug("message %s was already notified", ended.message_id)
            return
        self._notified.add(ended.message_id)
        session = self._chat.chat(ended.session_id)
        if session is None:
            return
        if session.muted:
            log.debug("chat %s is muted: no notification", session.id)
            return
        if self.do_not_disturb:
            log.debug("do not disturb: no notification for chat %s", session.id)
            return
        self._unseen.add(session.id)
        self._told[session.id] = ended.message_id
        self._tasks.spawn(self._send(session.title, notification_body(ended), session.id), "notify")

    def seen(self, session_id: int | None) -> None:
        """The user is looking at this chat: take back its notifications."""
        if session_id is None or session_id not in self._unseen or self._closed:
            return
        self._unseen.discard(session_id)
        self._tasks.spawn(self._withdraw(session_id), "withdraw a notification")

    async def _withdraw(self, session_id: int) -> None:
        try:
            await self._notifier.withdraw(session_id)
        except Exception:
            log.exception("withdrawing a notification failed")

    async def _send(self, title: str, body: str, session_id: int) -> None:
        try:
            await self._notifier.send(title, body, session_id)
        except NotifierUnavailable as exc:
            log.debug("notification about chat %s not shown: %s", session_id, exc)
        except Exception:
            log.exception("sending a notification failed")

    def _on_notifier_clicked(self, session_id: int) -> None:
        self._unseen.discard(session_id)
        if not self._closed:
            self.clicked.emit(session_id)
            message_id = self._told.get(session_id)
            if message_id is not None:
                self.reply_clicked.emit(session_id, message_id)

    # -------------------------------------------------------------- lifecycle
    async def aclose(self) -> None:
        """Stop listening, drop notifications still being sent (the app is quitting)."""
        self._closed = True
        self._manager.detach(None, self)
        await self._tasks.cancel_and_wait()
        await self._notifier.aclose()
