"""The StreamManager: the one place that consumes a provider's reply stream.

Every reply is an asyncio task owned here (DESIGN.md invariant 1). The task
keeps the live state in memory, the flusher persists it in batches whether or
not anyone watches (2), views attach and detach without touching the task (3,
5), the live text is what an attaching view is given (4), at most ``limit``
streams run at once and the oldest one nobody is looking at is evicted (6),
terminal states are announced once they are on disk (8), messages left
streaming by a crash are resumed or marked interrupted (9), and resumable
streams reconnect after a stall or a drop (10).

All methods are called on the event loop's thread. Database writes go to one
writer thread so that the loop is never blocked by SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import Failed, Finished, StreamEvent
from desktop.core.models import ChatRequest, Message, ReasoningBlock
from desktop.core.states import FinishReason, InterruptReason, MessageStatus
from desktop.core.tasks import TaskKeeper
from desktop.providers.base import Provider
from desktop.store import Store, StoreError
from desktop.streaming.accumulate import ReplyState, accumulate
from desktop.streaming.events import StreamEnded, StreamListener, StreamProgress, StreamSnapshot
from desktop.streaming.persistence import StreamPersistence, UnsaveableText, UnsavedEnd
from desktop.streaming.stream import (
    Channel,
    ConcurrencyLimitError,
    FlushStats,
    LiveStream,
    RecoveryReport,
    UnsavedReply,
    overlap,
)

log = logging.getLogger("sidestream.stream")
_T = TypeVar("_T")

DEFAULT_LIMIT = 5
DEFAULT_FLUSH_INTERVAL = 0.25
DEFAULT_RESUME_BACKOFF: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)

_LIVE_STATUSES = (MessageStatus.PENDING, MessageStatus.STREAMING, MessageStatus.RESUMING)


class StreamManager:
    """Owns every live reply; see the module docstring for the invariants it keeps."""

    def __init__(
        self,
        store: Store,
        *,
        limit: int = DEFAULT_LIMIT,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        resume_backoff: Sequence[float] = DEFAULT_RESUME_BACKOFF,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._store = store
        self._limit = limit
        self._flush_interval = flush_interval
        self._resume_backoff = tuple(resume_backoff)
        # By message id: a chat may have several live replies, one per branch
        # (an edit while its older reply still streams).
        self._streams: dict[int, LiveStream] = {}
        # The one registry of listeners: a channel per chat, and one (key None)
        # for the listeners of every chat.
        self._channels: dict[int | None, Channel] = {None: Channel()}
        self._order = itertools.count()
        self._persist = StreamPersistence(store, self._tell_store_refused)
        self._flusher: asyncio.Task[None] | None = None
        self._tasks = TaskKeeper(log)  # every stream task, evicted ones too
        self._background = TaskKeeper(log)  # early flushes, remote cancels
        self._closed = False

    # ------------------------------------------------------------------ queries
    @property
    def limit(self) -> int:
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Change the concurrency limit; takes effect at the next new stream."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit

    def is_live(self, session_id: int) -> bool:
        """Whether any reply of the chat is live (on whichever branch)."""
        return any(s.session_id == session_id for s in self._streams.values())

    def is_message_live(self, message_id: int) -> bool:
        return message_id in self._streams

    def live_sessions(self) -> list[int]:
        """Chats with a live reply, each once, oldest reply first."""
        return list(dict.fromkeys(s.session_id for s in self._ordered()))

    def live_messages(self, session_id: int) -> list[int]:
        """The chat's live replies, oldest first."""
        return [s.message_id for s in self._ordered() if s.session_id == session_id]

    def live_count(self) -> int:
        """Replies with a task here, including ones whose final state is being written."""
        return len(self._streams)

    def streaming_count(self) -> int:
        """Replies still receiving text: what quitting now would cut.

        A reply that has ended stays live until its final state is on disk;
        quitting does not cut it (shutdown waits for that write).
        """
        return sum(1 for stream in self._streams.values() if not stream.ended)

    def snapshot(self, session_id: int) -> StreamSnapshot | None:
        """The state of the chat's newest live reply (None: nothing is live there)."""
        stream = self._newest(session_id)
        return stream.snapshot() if stream else None

    def snapshots(self, session_id: int) -> tuple[StreamSnapshot, ...]:
        """The state of each live reply of the chat, oldest first."""
        return tuple(s.snapshot() for s in self._ordered() if s.session_id == session_id)

    def snapshot_of(self, message_id: int) -> StreamSnapshot | None:
        stream = self._streams.get(message_id)
        return stream.snapshot() if stream else None

    def unsaved_replies(self) -> list[UnsavedReply]:
        """Replies with text that is not on disk because the store refuses writes
        (a full disk, say): what quitting now would lose."""
        found: dict[int, UnsavedReply] = {}
        streams = [end.stream for end in self._persist.unsaved.values()]
        if self._persist.refusal is not None:
            streams += self._streams.values()
        for stream in streams:
            saved = stream.flushed
            missing = stream.state.length - saved
            if missing > 0 or stream.message_id in self._persist.unsaved:
                found[stream.message_id] = UnsavedReply(
                    stream.session_id, stream.message_id, missing, saved
                )
        return list(found.values())

    @property
    def store_refusal(self) -> StoreError | None:
        """Why the store refused the last write, while it still does."""
        return self._persist.refusal

    async def retry_saving(self) -> None:
        """Try now to write what the store refused; never raises StoreError."""
        await self._flush_guarded()
        with contextlib.suppress(StoreError):
            await self._persist.retry_unsaved()

    @property
    def flush_stats(self) -> FlushStats:
        """Time the flusher has spent on the loop thread (for the benchmarks)."""
        return self._persist.stats

    def listener_count(self) -> int:
        """Listeners of single chats (views and the like)."""
        return sum(len(ch.listeners) for key, ch in self._channels.items() if key is not None)

    def on_screen_count(self) -> int:
        """Listeners whose chat is on screen (the rest follow in the background)."""
        return sum(len(ch.on_screen) for ch in self._channels.values())

    def task_count(self) -> int:
        live = sum(1 for s in self._streams.values() if s.task and not s.task.done())
        return live + len(self._background.pending())

    # --------------------------------------------------------------- listeners
    def attach(
        self, session_id: int | None, listener: StreamListener, *, on_screen: bool = True
    ) -> StreamSnapshot | None:
        """Subscribe ``listener`` to a chat (or, with ``None``, to every chat).

        Returns the state of the chat's newest live reply now (the others:
        :meth:`snapshots`, in the same synchronous step): snapshot and
        subscription happen in one synchronous step on the loop thread, so
        no delta can fall between them. Attaching a listener that is already
        attached changes nothing but ``on_screen`` (rapid tab switching stays
        cheap). A stream that no ``on_screen`` listener shows
        (:meth:`StreamListener.shows`: a reply on a branch the view does not
        show) may be evicted (invariant 6); a listener of every chat keeps
        none on screen.
        """
        channel = self._channels.get(session_id)
        if channel is None:
            channel = self._channels[session_id] = Channel()
        if listener not in channel.listeners:
            channel.listeners = (*channel.listeners, listener)
        if session_id is None:
            return None
        if on_screen and listener not in channel.on_screen:
            channel.on_screen = (*channel.on_screen, listener)
        elif not on_screen and listener in channel.on_screen:
            channel.on_screen = tuple(x for x in channel.on_screen if x is not listener)
        stream = self._newest(session_id)
        return stream.snapshot() if stream else None

    def detach(self, session_id: int | None, listener: StreamListener) -> None:
        """Unsubscribe; never affects the stream itself (invariant 3)."""
        channel = self._channels.get(session_id)
        if channel is None:
            return
        channel.listeners = tuple(x for x in channel.listeners if x is not listener)
        channel.on_screen = tuple(x for x in channel.on_screen if x is not listener)
        self._drop_channel_if_idle(session_id)

    def read_text(self, session_id: int, message_id: int, start: int, limit: int) -> str | None:
        """Up to ``limit`` characters of a live reply's text from ``start``;
        None when that reply is not live here (any more)."""
        stream = self._streams.get(message_id)
        if stream is None or stream.session_id != session_id:
            return None
        return stream.state.text_between(start, start + limit)

    def text_length(self, session_id: int, message_id: int) -> int | None:
        """How long a live reply's text is now; None when it is not live here."""
        stream = self._streams.get(message_id)
        if stream is None or stream.session_id != session_id:
            return None
        return stream.state.length

    def read_reasoning(
        self, session_id: int, message_id: int, start: int, limit: int
    ) -> str | None:
        """Up to ``limit`` characters of a live reply's reasoning from ``start``;
        None when that reply is not live here (any more)."""
        stream = self._streams.get(message_id)
        if stream is None or stream.session_id != session_id:
            return None
        return stream.state.reasoning_between(start, start + limit)

    def progress(self, session_id: int, message_id: int | None = None) -> StreamProgress | None:
        """A live reply's state without its text (lengths, waiting, reasoning
        time, usage): ``message_id``'s, or the chat's newest; None when that
        is not live."""
        stream = self._newest(session_id) if message_id is None else self._streams.get(message_id)
        if stream is None or stream.session_id != session_id:
            return None
        return stream.progress()

    def _ordered(self) -> list[LiveStream]:
        return sorted(self._streams.values(), key=lambda s: s.order)

    def _newest(self, session_id: int) -> LiveStream | None:
        mine = [s for s in self._streams.values() if s.session_id == session_id]
        return max(mine, key=lambda s: s.order) if mine else None

    def _everyone(self, session_id: int) -> tuple[StreamListener, ...]:
        channel = self._channels.get(session_id)
        chat = channel.listeners if channel is not None else ()
        return (*chat, *self._channels[None].listeners)

    def _tell_live_changed(self, session_id: int, live: bool) -> None:
        for listener in self._everyone(session_id):
            try:
                listener.on_live_changed(session_id, live)
            except Exception:
                log.exception("a stream listener failed")

    def _tell_store_refused(self, error: StoreError) -> None:
        for listener in self._channels[None].listeners:
            try:
                listener.on_store_refused(error)
            except Exception:
                log.exception("a stream listener failed")

    # ----------------------------------------------------------------- streams
    def start_reply(
        self,
        session_id: int,
        message_id: int,
        provider: Provider,
        request: ChatRequest,
        *,
        initial_text: str = "",
        initial_reasoning: str = "",
        initial_blocks: tuple[ReasoningBlock, ...] = (),
    ) -> None:
        """Consume ``provider.stream(request)`` into ``message_id`` (appending to
        ``initial_text``, the partial text a Continue goes on from, and to its
        reasoning and reasoning blocks)."""
        self._register(
            session_id,
            message_id,
            provider,
            lambda: provider.stream(request),
            state=ReplyState.starting(
                initial_text,
                status=MessageStatus.STREAMING,
                model=request.model,
                reasoning=initial_reasoning,
                blocks=initial_blocks,
                new_reasoning=True,
            ),
        )

    def resume_reply(
        self,
        session_id: int,
        message_id: int,
        provider: Provider,
        cursor: str,
        *,
        initial_text: str,
        model: str | None = None,
        initial_reasoning: str = "",
    ) -> None:
        """Reconnect to a reply that was cut off (e.g. by a restart) from ``cursor``."""
        # A reply that had said something is past its first token.
        started = bool(initial_text or initial_reasoning)
        stream = self._register(
            session_id,
            message_id,
            provider,
            lambda: provider.resume(cursor, started=started),
            state=ReplyState.starting(
                initial_text,
                status=MessageStatus.RESUMING,
                model=model,
                reasoning=initial_reasoning,
            ),
        )
        stream.state.cursor = cursor
        stream.flushed_cursor = cursor
        stream.waiting = not started

    def stop(self, session_id: int) -> bool:
        """Stop every live reply of the chat (on every branch) as ``stopped``."""
        stopped = False
        for message_id in self.live_messages(session_id):
            stopped = self.stop_message(message_id) or stopped
        return stopped

    def stop_message(self, message_id: int) -> bool:
        """The user's Stop: end one live reply as ``stopped``."""
        return self._end(message_id, MessageStatus.STOPPED, None)

    async def stop_and_wait(self, session_id: int) -> None:
        """Stop every live reply of the chat and wait until each end is on disk."""
        streams = [s for s in self._streams.values() if s.session_id == session_id]
        self.stop(session_id)
        tasks = {s.task for s in streams if s.task is not None}
        if tasks:
            await asyncio.wait(tasks)

    async def stop_all(
        self,
        status: MessageStatus = MessageStatus.STOPPED,
        reason: InterruptReason | None = None,
    ) -> None:
        """End every live reply and wait until each final state is on disk."""
        tasks = []
        for stream in list(self._streams.values()):
            self._end(stream.message_id, status, reason)
            if stream.task is not None:
                tasks.append(stream.task)
        if tasks:
            await asyncio.wait(tasks)

    async def flush_now(self) -> None:
        """Persist every live reply's text now (also used before exit)."""
        await self._persist.flush(self._streams.values())

    async def shutdown(self, *, interrupt: bool = True) -> None:
        """Quit: end live replies as ``interrupted`` (app quit), flush, release.

        With ``interrupt=False`` the replies are left ``streaming`` on disk,
        flushed with their cursors, so the next start resumes them (the same
        state a crash leaves, minus the lost flush interval).
        """
        if self._closed:
            return
        self._closed = True
        if interrupt:
            await self.stop_all(MessageStatus.INTERRUPTED, InterruptReason.APP_QUIT)
        else:
            await self._persist.flush(self._streams.values())
            for stream in list(self._streams.values()):
                stream.ended = True  # the task must not write a terminal state
                if stream.task is not None:
                    stream.task.cancel()
            await asyncio.gather(
                *(s.task for s in self._streams.values() if s.task), return_exceptions=True
            )
            self._streams.clear()
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self._tasks.wait()
        with contextlib.suppress(StoreError):
            await self._persist.retry_unsaved()  # a last try; the next start recovers the rest
        await self._background.wait(within=3.0)
        self._persist.close()

    async def recover(self, provider_for: Callable[[Message], Provider | None]) -> RecoveryReport:
        """At start-up, pick up every message a quit or crash left live (invariant 9).

        A resumable provider with a saved cursor resumes the stream live; one
        that can only report status is asked once; any other message becomes
        ``interrupted`` with its partial text.
        """
        messages = await self._persist.read(self._store.messages_with_status, _LIVE_STATUSES)
        resumed: list[int] = []
        completed: list[int] = []
        interrupted: list[int] = []
        for message in messages:
            provider = provider_for(message)
            if provider is not None and provider.resumable and message.cursor:
                log.info("resuming message %s from its saved cursor", message.id)
                try:
                    self.resume_reply(
                        message.session_id,
                        message.id,
                        provider,
                        message.cursor,
                        initial_text=message.content,
                        model=message.model,
                        initial_reasoning=message.reasoning,
                    )
                except ConcurrencyLimitError:
                    pass
                else:
                    resumed.append(message.id)
                    continue
            if provider is not None and message.cursor:
                remote = None
                with contextlib.suppress(Exception):
                    remote = await provider.status(message.cursor)
                if remote is not None and remote.status == "completed" and remote.text is not None:
                    await self._persist.write(
                        functools.partial(
                            self._store.finish_message,
                            message.id,
                            remote.text,
                            MessageStatus.COMPLETE,
                            cursor=message.cursor,
                            finish=FinishReason.STOP,
                        )
                    )
                    completed.append(message.id)
                    continue
            await self._persist.write(
                functools.partial(
                    self._store.finish_message,
                    message.id,
                    message.content,
                    MessageStatus.INTERRUPTED,
                    reason=InterruptReason.APP_QUIT.value,
                    cursor=message.cursor,
                    reasoning=message.reasoning,
                )
            )
            interrupted.append(message.id)
        return RecoveryReport(tuple(resumed), tuple(completed), tuple(interrupted))

    # --------------------------------------------------------------- internals
    def _register(
        self,
        session_id: int,
        message_id: int,
        provider: Provider,
        open_events: Callable[[], AsyncIterator[StreamEvent]],
        *,
        state: ReplyState,
    ) -> LiveStream:
        if self._closed:
            raise RuntimeError("the stream manager has shut down")
        if message_id in self._streams:
            raise RuntimeError(f"message {message_id} is already streaming")
        # A stream already told to end (stopped, evicted) no longer takes a slot.
        running = sum(1 for s in self._streams.values() if s.end_request is None)
        if running >= self._limit:
            self._evict_one()
        channel = self._channels.get(session_id)
        if channel is None:
            channel = self._channels[session_id] = Channel()
        stream = LiveStream(
            session_id=session_id,
            message_id=message_id,
            provider=provider,
            channel=channel,
            order=next(self._order),
            state=state,
            flushed=state.length,  # already in the store
            flushed_reasoning=state.reasoning_length,
        )
        self._streams[message_id] = stream
        self._ensure_flusher()
        task = self._tasks.spawn(self._run(stream, open_events), name=f"stream-{message_id}")
        stream.task = task
        task.add_done_callback(lambda t: self._on_task_done(stream, t))
        snapshot = stream.snapshot()
        for listener in channel.listeners:
            listener.on_stream_started(snapshot)
        self._tell_live_changed(session_id, True)
        log.info("stream started: chat %s message %s", session_id, message_id)
        return stream

    def _on_task_done(self, stream: LiveStream, task: asyncio.Task[None]) -> None:
        if task.cancelled() and not stream.ended:
            # Cancelled before its first step, so _run never saw the
            # cancellation: write the end it was asked for from a new task.
            status, reason = stream.end_request or (
                MessageStatus.INTERRUPTED,
                InterruptReason.APP_QUIT,
            )
            stream.ended = True
            self._tasks.spawn(
                self._finish(stream, status, None, reason), name=f"finish-{stream.message_id}"
            )

    def _evict_one(self) -> None:
        candidates = [
            s for s in self._streams.values() if s.end_request is None and not _on_screen(s)
        ]
        if not candidates:
            raise ConcurrencyLimitError(
                f"{len(self._streams)} replies are streaming and all are on screen; "
                "stop one before starting another."
            )
        victim = min(candidates, key=lambda s: s.order)
        log.info("evicting the reply of chat %s to stay within %s", victim.session_id, self._limit)
        self._end(victim.message_id, MessageStatus.INTERRUPTED, InterruptReason.EVICTED)
        # The slot is free at once; the victim's task finishes its bookkeeping.
        del self._streams[victim.message_id]

    def _end(self, message_id: int, status: MessageStatus, reason: InterruptReason | None) -> bool:
        stream = self._streams.get(message_id)
        if stream is None or stream.end_request is not None or stream.ended:
            return False
        stream.end_request = (status, reason)
        if stream.task is not None and not stream.task.done():
            # Cancel once only: cancelling twice is known to leak httpcore pool slots.
            stream.task.cancel()
        return True

    async def _run(
        self, stream: LiveStream, open_events: Callable[[], AsyncIterator[StreamEvent]]
    ) -> None:
        status = MessageStatus.FAILED
        error: ProviderError | None = None
        reason: InterruptReason | None = None
        recovering = stream.status is MessageStatus.RESUMING
        # Why the reply is being resumed, while a resume is under way.
        cause: ProviderError | None = None
        quit_cause = ProviderError(
            ErrorKind.CONNECTION, "Sidestream quit before the reply finished"
        )
        if recovering:
            cause = quit_cause
        refused = False  # the provider answered a resume with an error of its own
        try:
            if recovering:
                await self._persist.write_status(stream)
            attempts = 0
            events = open_events()
            while True:
                length_before = stream.state.length
                reasoning_before = stream.state.reasoning_length
                terminal = await self._consume(stream, events)
                if isinstance(terminal, Finished):
                    # A drop that a resume got over is no error of the reply.
                    status, error = MessageStatus.COMPLETE, None
                    break
                error = terminal.error
                progressed = (
                    stream.state.length > length_before
                    or stream.state.reasoning_length > reasoning_before
                )
                if progressed:
                    attempts = 0  # that connection made progress: a new drop, a fresh budget
                elif cause is not None and not error.kind.retryable_by_resume:
                    # The resume itself was refused (a server that cannot
                    # resume answers 404): the reply still ended for the
                    # reason it was being resumed, not for the refusal.
                    log.info(
                        "chat %s: the provider could not resume the reply: %s",
                        stream.session_id,
                        error.message,
                    )
                    error = _could_not_resume(cause, error)
                    refused = True
                if (
                    not refused
                    and stream.provider.resumable
                    and stream.state.cursor
                    and error.kind.retryable_by_resume
                    and attempts < len(self._resume_backoff)
                ):
                    delay = self._resume_backoff[attempts]
                    attempts += 1
                    log.info(
                        "chat %s: %s; resuming from the cursor in %.2f s (attempt %d)",
                        stream.session_id,
                        error.kind.value,
                        delay,
                        attempts,
                    )
                    cause = error
                    self._set_status(stream, MessageStatus.RESUMING)
                    await asyncio.sleep(delay)
                    events = stream.provider.resume(stream.state.cursor, started=not stream.waiting)
                    continue
                if error.kind is ErrorKind.NO_FIRST_TOKEN:
                    # Sidestream gives up on it: so should a provider that
                    # would go on generating it in the background.
                    if stream.provider.resumable and stream.state.cursor:
                        self._spawn(_cancel_remote(stream.provider, stream.state.cursor))
                elif stream.provider.resumable and stream.state.cursor:
                    remote_text = await self._poll_remote(stream)
                    if remote_text is not None:
                        # The remote text is the whole response; ours may hold a
                        # Continue's earlier text before it. Join at the overlap.
                        state = stream.state
                        state.append(remote_text[overlap(state.text(), remote_text) :])
                        status, error = MessageStatus.COMPLETE, None
                        break
                has_text = stream.state.length > 0
                status, reason = _classify_failure(error, has_text=has_text)
                if refused and cause is quit_cause and has_text:
                    # Cut by the quit, and not to be picked up again here.
                    status, reason = MessageStatus.INTERRUPTED, InterruptReason.APP_QUIT
                if status is MessageStatus.FAILED and has_text and (recovering or attempts):
                    # The provider lost the reply we were resuming: keep it as cut off.
                    status = MessageStatus.INTERRUPTED
                    reason = (
                        InterruptReason.APP_QUIT if recovering else InterruptReason.CONNECTION_LOST
                    )
                break
        except asyncio.CancelledError:
            if stream.ended:  # shutdown(interrupt=False): leave it streaming on disk
                raise
            status, reason = stream.end_request or (
                MessageStatus.INTERRUPTED,
                InterruptReason.APP_QUIT,
            )
            error = None
            if stream.provider.resumable and stream.state.cursor:
                self._spawn(_cancel_remote(stream.provider, stream.state.cursor))
            await self._finish(stream, status, error, reason)
            return
        except Exception as exc:  # a bug in a provider: the reply fails, the app does not
            log.exception("chat %s: the stream failed unexpectedly", stream.session_id)
            error = ProviderError(ErrorKind.PROTOCOL, f"internal error: {exc}")
            status, reason = MessageStatus.FAILED, None
        await self._finish(stream, status, error, reason)

    async def _consume(
        self, stream: LiveStream, events: AsyncIterator[StreamEvent]
    ) -> Finished | Failed:
        """Fold one HTTP exchange's events into the stream and tell its listeners; the hot path."""
        state = stream.state
        state.reopen()
        channel = stream.channel
        message_id = stream.message_id
        awaiting_text = stream.first_text_at is None
        ended = False
        try:
            async for event in events:
                status = state.status
                accumulate(state, event)
                if state.status is not status:
                    self._announce_status(stream)
                if state.added:
                    if awaiting_text:
                        awaiting_text = False
                        stream.first_text_at = time.time()
                        stream.waiting = False
                    text = state.added
                    for listener in channel.listeners:
                        listener.on_stream_delta(message_id, text)
                elif state.added_reasoning:
                    if stream.reasoning_started_at is None:
                        stream.reasoning_started_at = time.time()
                        stream.waiting = False
                    text = state.added_reasoning
                    for listener in channel.listeners:
                        listener.on_stream_reasoning(message_id, text)
                elif state.end is not None:
                    ended = True
                    return state.end
                elif (
                    state.cursor is not None
                    and stream.flushed_cursor is None
                    and not stream.early_flush
                ):
                    # The first cursor (the reply's id) is what makes the
                    # reply resumable after a crash: save it now rather than
                    # at the next flush tick.
                    stream.early_flush = True
                    self._spawn(self._flush_early())
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                if ended:
                    # The reply is over: what the server still sends after its
                    # last event is read (and the connection closed) while the
                    # end is written and announced, not before.
                    self._spawn(aclose())
                else:
                    await aclose()
        return Failed(
            ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
        )

    async def _poll_remote(self, stream: LiveStream) -> str | None:
        """Ask a provider that can tell how the reply stands, while it can tell.

        Used when a resumable stream cannot be resumed any more: if the
        provider finished the reply meanwhile, its text is the reply.
        """
        cursor = stream.state.cursor
        assert cursor is not None
        for delay in (0.0, *self._resume_backoff):
            await asyncio.sleep(delay)
            try:
                remote = await stream.provider.status(cursor)
            except Exception as exc:
                log.info("chat %s: status check failed: %s", stream.session_id, exc)
                return None
            if remote is None:
                return None
            if remote.status == "completed":
                return remote.text
            if remote.status not in ("queued", "in_progress"):
                return None
        return None

    def _set_status(self, stream: LiveStream, status: MessageStatus) -> None:
        stream.state.status = status
        self._announce_status(stream)

    def _announce_status(self, stream: LiveStream) -> None:
        snapshot = stream.snapshot()
        for listener in stream.channel.listeners:
            listener.on_stream_status(snapshot)

    async def _finish(
        self,
        stream: LiveStream,
        status: MessageStatus,
        error: ProviderError | None,
        reason: InterruptReason | None,
    ) -> None:
        """Write the terminal state, then tell listeners: announced means on disk."""
        stream.ended = True
        stream.ended_at = time.time()
        state = stream.state
        state.status = status
        state.close()
        # Why the model ended it, for a reply that completed (one completed
        # through a status check ended as the model chose: stop).
        state.finish = (
            (state.finish or FinishReason.STOP) if status is MessageStatus.COMPLETE else None
        )
        text = state.text()
        reasoning = state.reasoning()
        error_text = error.message if error else stream.end_error
        reason_text = reason.value if reason else None
        reasoning_seconds = stream.reasoning_seconds
        write = functools.partial(
            self._store.finish_message,
            stream.message_id,
            text,
            status,
            error=error_text,
            reason=reason_text,
            cursor=state.cursor,
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            model=state.model,
            reasoning=reasoning,
            reasoning_blocks=tuple(state.blocks),
            finish=state.finish,
            reasoning_seconds=reasoning_seconds,
        )
        try:
            await self._persist.write(write)
        except StoreError:
            # Reported by the write. The text stays in the snapshot below, and
            # the write is retried with every flush until the store takes it.
            self._persist.unsaved[stream.message_id] = UnsavedEnd(stream, write)
            if not self._closed:
                self._ensure_flusher()
        except Exception as exc:
            # Never a reply stuck "streaming" on screen: it ends, and says why.
            # (Stored, it stays live: the next start marks it interrupted.)
            log.error(
                "could not write the end of message %s (%s)", stream.message_id, type(exc).__name__
            )
            status = state.status = MessageStatus.FAILED
            error_text = (
                f"Sidestream could not save the end of this reply (internal error: "
                f"{type(exc).__name__}); only the text saved while it streamed is kept."
            )
        finally:
            if self._streams.get(stream.message_id) is stream:
                del self._streams[stream.message_id]
        log.info(
            "stream ended: chat %s message %s %s", stream.session_id, stream.message_id, status
        )
        snapshot = stream.snapshot(error=error_text, reason=reason_text)
        for listener in stream.channel.listeners:
            try:
                listener.on_stream_status(snapshot)
            except Exception:
                log.exception("a stream listener failed")
        self._drop_channel_if_idle(stream.session_id)
        if not self.is_live(stream.session_id):
            self._tell_live_changed(stream.session_id, False)
        ended = StreamEnded(
            session_id=stream.session_id,
            message_id=stream.message_id,
            status=status,
            text=text,
            error=error_text,
            reason=reason_text,
            reasoning=reasoning,
            finish=state.finish if status is MessageStatus.COMPLETE else None,
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            reasoning_seconds=reasoning_seconds,
        )
        for listener in self._everyone(stream.session_id):
            try:
                listener.on_stream_ended(ended)
            except Exception:
                log.exception("a stream listener failed")

    def _drop_channel_if_idle(self, session_id: int | None) -> None:
        if session_id is None:
            return  # the channel of every chat stays
        channel = self._channels.get(session_id)
        if channel is not None and not channel.listeners and not self.is_live(session_id):
            del self._channels[session_id]

    # ------------------------------------------------------------- persistence
    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_forever(), name="stream-flusher"
            )

    async def _flush_forever(self) -> None:
        while self._streams or self._persist.unsaved:
            await asyncio.sleep(self._flush_interval)
            await self._flush_guarded()
            try:
                await self._persist.retry_unsaved()
            except StoreError:
                pass  # reported; the text is kept and written by a later flush
            except Exception as exc:
                # A final write that can never succeed: give up on it, loudly.
                log.error("a final write failed unexpectedly (%s)", type(exc).__name__)
                self._persist.unsaved.clear()

    async def _flush_early(self) -> None:
        await self._flush_guarded()

    async def _flush_guarded(self) -> None:
        """One flush; whatever goes wrong, the flusher lives and no reply is left
        streaming unsaved without the user being told."""
        try:
            await self._persist.flush(self._streams.values())
        except StoreError:
            pass  # reported; the text is kept and written by a later flush
        except UnsaveableText as exc:
            for stream in exc.streams:
                self._fail_unsaveable(stream, exc.cause)
        except Exception as exc:
            log.error("the flush failed unexpectedly (%s)", type(exc).__name__)
            for stream in list(self._streams.values()):
                self._fail_unsaveable(stream, type(exc).__name__)

    def _fail_unsaveable(self, stream: LiveStream, cause: str) -> None:
        """End a reply whose text the store cannot take: ``failed``, saying so."""
        if self._streams.get(stream.message_id) is not stream:
            return
        stream.end_error = (
            f"Sidestream could not save this reply (internal error: {cause}); "
            "the text shown was not saved. Copy it now if you need it."
        )
        self._end(stream.message_id, MessageStatus.FAILED, None)

    async def run_store(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a store write on the writer thread, ordered after every stream write."""
        result: _T = await self._persist.write(fn, *args)
        return result

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(coro)


def _on_screen(stream: LiveStream) -> bool:
    """Whether someone looks at this reply: a listener of its chat that is on
    screen and shows it (its branch is the one shown)."""
    for listener in stream.channel.on_screen:
        try:
            if listener.shows(stream.message_id):
                return True
        except Exception:
            log.exception("a stream listener failed")
            return True  # when in doubt, never evict what may be on screen
    return False


def _classify_failure(
    error: ProviderError, *, has_text: bool
) -> tuple[MessageStatus, InterruptReason | None]:
    """A drop or stall after text arrived leaves a reply worth continuing (so
    does a Continue whose first token never came: its text is still there)."""
    if has_text and error.kind is ErrorKind.CONNECTION:
        return MessageStatus.INTERRUPTED, InterruptReason.CONNECTION_LOST
    if has_text and error.kind in (ErrorKind.STALLED, ErrorKind.NO_FIRST_TOKEN):
        return MessageStatus.INTERRUPTED, InterruptReason.STALLED
    return MessageStatus.FAILED, None


def _could_not_resume(cause: ProviderError, refusal: ProviderError) -> ProviderError:
    """The error that made a reply resume, saying that the resume was refused."""
    why = f"HTTP {refusal.status}" if refusal.status is not None else refusal.detail
    detail = "the provider could not resume the reply" + (f" ({why})" if why else "")
    return ProviderError(
        cause.kind, f"{cause.detail}; {detail}" if cause.detail else detail, status=cause.status
    )


async def _cancel_remote(provider: Provider, cursor: str) -> None:
    """Stop server-side generation of a background reply the user ended."""
    try:
        await asyncio.wait_for(provider.cancel(cursor), timeout=5.0)
    except Exception as exc:
        log.info("could not cancel the reply on the server: %s", exc)
