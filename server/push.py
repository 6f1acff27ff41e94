"""Proactive delivery: the bot's messages pushed to the customer's open widget (docs/proactive.md).

    hub = push_of(app)
    hub.register(sender, deliver)     # a socket that PROVED the conversation's token (server/conversation_tokens.py)
    hub.unregister(sender, deliver)   # when it closes or switches conversation

`deliver` is `async (replies) -> None`, `replies` a list of `Reply.as_dict()` (the `POST /chat` shape; use
`replies_of` for `Reply` objects, e.g. socket.io's `bot_uttered_payloads`). A socket registers only after
`authorize` accepted its token: registration is what lets it receive the conversation's messages.

An event or reminder stores its replies in the outbox (`bot.proactive.outbox`). Each worker's `PushHub`
polls the outbox for the senders registered with it every `proactive_poll_seconds` (at once after
`poke()`, which the event route calls), claims each row (one UPDATE: exactly one worker wins) and sends
it to every socket of that sender it holds. Rows stay undelivered while no socket of the sender is open;
a socket that registers later gets the rows of the last `proactive_outbox_hours` (the widget skips the
replies whose `id` its history already shows). With several workers the message reaches whichever one
holds the socket; no broker is needed. With `redis_url` (several machines), `poke()` also publishes a
push notice (bot/coordination/push_notices.py) and every node's hub polls at once, so a message stored
through one node reaches the socket another node holds without waiting for that node's next poll.

Live agents (`server/console/live.py`) use the same path: an agent's message is an outbox row whose
reply carries `agent` {id, name} (and `handoff`: joined | message | left | returned); "the agent is
typing" is a row holding a signal (`{"signal": "agent_typing", "agent"}`, see `is_signal`), which a socket
shows instead of a message and which is dropped unsent when older than SIGNAL_FRESH_SECONDS.

`start_proactive(app, settings, assistant, stop)` (called by the lifespan) builds the outbox, the
scheduler and the service, wraps the tracker store so handlers' reminders are kept, and starts the
loops: the outbox poller, the reminder loop (`reminder_poll_seconds`) and the live-handoff sweep that
returns conversations of vanished agents to the queue (`console_agent_timeout_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bot.assistant import Assistant
from bot.config import Settings
from bot.coordination.push_notices import RedisPushNotices
from bot.coordination.wiring import make_push_notices
from bot.proactive.outbox import Outbox, OutboxItem, SqlOutbox
from bot.proactive.reminders import SqlScheduler
from bot.proactive.scheduling_store import SchedulingTrackerStore
from bot.proactive.service import ProactiveService
from bot.types import Button, Reply

log = logging.getLogger("supportbot.push")

Deliver = Callable[[list[dict[str, Any]]], Awaitable[None]]
SIGNAL_KEY = "signal"
SIGNAL_FRESH_SECONDS = 5.0
"""A signal ("the agent is typing") not delivered within this long is stale: dropped, never shown late."""


def is_signal(item: dict[str, Any]) -> bool:
    """Is this outbox entry a signal (e.g. `agent_typing`) rather than a message to show?"""
    return isinstance(item.get(SIGNAL_KEY), str)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class PushHub:
    """This worker's open sockets per sender, and the outbox poller that feeds them."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        worker: str | None = None,
        poll_seconds: float = 0.5,
        keep_seconds: float = 72 * 3600,
        clock: Callable[[], float] = time.time,
        notices: RedisPushNotices | None = None,
    ) -> None:
        self.outbox = outbox
        self.worker = worker or worker_name()
        self.poll_seconds = poll_seconds
        self.keep_seconds = keep_seconds
        self.clock = clock
        self.notices = notices
        self._sockets: dict[str, list[Deliver]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- registry -----------------------------------------------------------------------------------
    def register(self, sender: str, deliver: Deliver) -> None:
        """`deliver` receives `sender`'s proactive messages from now on (and the waiting ones at once)."""
        delivers = self._sockets.setdefault(sender, [])
        if deliver not in delivers:
            delivers.append(deliver)
        self.wake()

    def unregister(self, sender: str, deliver: Deliver) -> None:
        delivers = self._sockets.get(sender, [])
        if deliver in delivers:
            delivers.remove(deliver)
        if not delivers:
            self._sockets.pop(sender, None)

    def senders(self) -> list[str]:
        return list(self._sockets)

    def poke(self) -> None:
        """New rows were stored: poll now, here and (with push notices) on every other node. Callable from the
        event loop or from a worker thread."""
        self.wake()
        notices = self.notices
        if notices is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a worker thread: publishing may block it briefly
            notices.publish()
            return
        loop.run_in_executor(None, notices.publish)

    def wake(self) -> None:
        """Poll now, on this node only (a socket registered, or another node's notice)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._wake.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    # -- delivery -----------------------------------------------------------------------------------
    async def deliver_pending(self) -> int:
        """Claim and send the waiting messages of the registered senders; the number sent."""
        senders = self.senders()
        if not senders:
            return 0
        since = self.clock() - self.keep_seconds
        items = await run_in_threadpool(self.outbox.pending, senders, since)
        sent = 0
        for item in items:
            if not self._sockets.get(item.sender_id):
                continue  # the socket closed meanwhile: leave it for the next visit
            if await run_in_threadpool(self.outbox.claim, item.id, self.worker):
                sent += await self._send(item)
        return sent

    async def _send(self, item: OutboxItem) -> int:
        stale = item.created_at < self.clock() - SIGNAL_FRESH_SECONDS
        if stale and item.replies and all(is_signal(r) for r in item.replies):
            return 0  # claimed, so nobody shows it late
        sent = 0
        for deliver in list(self._sockets.get(item.sender_id, [])):
            try:
                await deliver(item.replies)
                sent += 1
            except Exception:  # a socket that just closed must not stop the others
                log.warning("a proactive message could not be sent to a socket of %s", item.sender_id, exc_info=True)
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`: every `poll_seconds`, or at once after `poke()`. Errors are logged, not fatal."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()
            try:
                await self.deliver_pending()
            except Exception:
                log.exception("delivering proactive messages failed; retrying at the next poll")


def replies_of(items: list[dict[str, Any]]) -> list[Reply]:
    """Outbox replies (`Reply.as_dict()`) as `Reply`s with their text, buttons and id (for socket.io)."""
    return [
        Reply(
            str(item.get("text") or ""),
            buttons=tuple(Button(str(b["title"]), str(b["payload"])) for b in item.get("buttons") or []),
            id=str(item.get("id") or ""),
            kind="proactive",
        )
        for item in items
    ]


async def run_reminders(service: ProactiveService, hub: PushHub, every: float, stop: asyncio.Event) -> None:
    """Fire the due reminders every `every` seconds until `stop` (each reminder once, across workers)."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            pass
        try:
            fired = await run_in_threadpool(service.fire_due, hub.worker)
            if fired:
                hub.poke()
        except Exception:
            log.exception("firing reminders failed; retrying at the next poll")


async def run_handoff_sweep(app: FastAPI, every: float, stop: asyncio.Event) -> None:
    """Every `every` seconds until `stop`, return to the queue the conversations whose agent's console is
    gone (`LiveHandoff.sweep`: each one by exactly one worker, which tells the customer)."""
    from server.console.live import live_of
    from server.turns import NotReady

    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            pass
        try:
            await run_in_threadpool(lambda: live_of(app).sweep())
        except NotReady:
            continue
        except Exception:
            log.exception("returning abandoned handoffs to the queue failed; retrying at the next sweep")


def start_proactive(
    app: FastAPI, settings: Settings, assistant: Assistant, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """Build the outbox, scheduler, service and hub onto `app.state`; start their loops (call from the lifespan)."""
    url = settings.resolved_database_url
    outbox = SqlOutbox.from_url(url)
    scheduler = SqlScheduler.from_url(
        url,
        lease_seconds=settings.reminder_lease_seconds,
        max_attempts=settings.reminder_max_attempts,
        retry_seconds=settings.reminder_retry_seconds,
    )
    if not isinstance(assistant.tracker_store, SchedulingTrackerStore):
        assistant.tracker_store = SchedulingTrackerStore(assistant.tracker_store, scheduler)
    service = ProactiveService(assistant, outbox, scheduler)
    notices = make_push_notices(settings)
    hub = PushHub(
        outbox,
        poll_seconds=settings.proactive_poll_seconds,
        keep_seconds=settings.proactive_outbox_hours * 3600,
        notices=notices,
    )
    app.state.proactive = service
    app.state.push = hub
    listening = [asyncio.create_task(notices.listen(hub.wake, stop))] if notices is not None else []
    return [
        *listening,
        asyncio.create_task(hub.run(stop)),
        asyncio.create_task(run_reminders(service, hub, settings.reminder_poll_seconds, stop)),
        asyncio.create_task(run_handoff_sweep(app, min(5.0, settings.console_agent_timeout_seconds / 4), stop)),
    ]


def push_of(app: Any) -> PushHub | None:
    """The app's hub (None until the lifespan has started it)."""
    hub: PushHub | None = getattr(app.state, "push", None)
    return hub


def proactive_of(app: Any) -> ProactiveService | None:
    service: ProactiveService | None = getattr(app.state, "proactive", None)
    return service
