"""The reload broadcast: every node reloads its knowledge (and model) within moments of an edit on any node.

A node whose knowledge base reloaded with new content (a file change its watcher saw, a console edit, an
accepted learning suggestion) or that swapped in a new NLU model PUBLISHes a `ReloadNotice` on
`<prefix>:reload` — what changed (`knowledge` | `model`) and the content hash it now serves — and keeps it
under `<prefix>:reload:<kind>`. Every node SUBSCRIBEs (`RedisReloadBroadcast.listen`, one asyncio task of the
server's lifespan) and, for a hash it does not serve, reloads (`ReloadRelay`): the knowledge service's
reload, or a retrain request that finds the model already trained in the shared state folder.

Subscribing (again, after Redis came back) first reads the kept notices, so a node that missed messages
catches up. Listening survives anything: a lost connection is logged and retried with a backoff; a notice
that fails to apply is logged. Reloads a node makes because of a notice are not published again.
Without `redis_url` none of this runs: each process watches its files, as on one machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from bot.coordination.connection import RedisError, async_client, shown, sync_client

log = logging.getLogger("supportbot.coordination")

ReloadKind = Literal["knowledge", "model"]
KINDS: tuple[ReloadKind, ...] = ("knowledge", "model")


def node_name() -> str:
    """This process's name in notices: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ReloadNotice:
    """`node` now serves `kind` with content `content_hash`, because of `reason`."""

    kind: ReloadKind
    content_hash: str
    node: str
    reason: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> ReloadNotice | None:
        """The notice in `raw`; None (logged) when it is not one."""
        try:
            data = json.loads(raw)
            kind = data["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            return cls(kind, str(data["content_hash"]), str(data["node"]), str(data.get("reason", "")))
        except (ValueError, KeyError, TypeError) as e:
            log.warning("ignored a reload notice that is not one (%s): %.200r", e, raw)
            return None


NoticeHandler = Callable[[ReloadNotice], Awaitable[None]]


class ReloadBroadcast(Protocol):
    def publish(self, notice: ReloadNotice) -> None:
        """Tell every node; never raises (a failure is logged)."""
        ...

    async def listen(self, on_notice: NoticeHandler, stop: asyncio.Event) -> None:
        """Call `on_notice` with every other node's notice (and the kept ones on (re)subscribing) until `stop`."""
        ...


class RedisReloadBroadcast:
    """Redis pub/sub on `<prefix>:reload`, each kind's last notice kept under `<prefix>:reload:<kind>`."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "supportbot",
        node: str | None = None,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = f"{prefix}:reload"
        self.node = node or node_name()
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.subscribed = asyncio.Event()  # set while subscribed (for readiness and tests)
        self._client = sync_client(url)

    def publish(self, notice: ReloadNotice) -> None:
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.set(f"{self.channel}:{notice.kind}", notice.to_json())
                pipe.publish(self.channel, notice.to_json())
                pipe.execute()
        except RedisError as e:
            log.warning(
                "could not tell the other nodes that %s changed (%s: %s); they reload when their watcher sees "
                "the files, or when Redis is back",
                notice.kind,
                type(e).__name__,
                e,
            )

    async def listen(self, on_notice: NoticeHandler, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            client = async_client(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                kept = [await client.get(f"{self.channel}:{kind}") for kind in KINDS]
                if failures:
                    log.info("reload broadcast: subscribed again to %s on %s", self.channel, shown(self.url))
                failures = 0
                self.subscribed.set()
                for raw in kept:
                    await self._deliver(raw, on_notice)
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=0.5)
                    if message is not None and message.get("type") == "message":
                        await self._deliver(message["data"], on_notice)
            except (RedisError, OSError) as e:
                self.subscribed.clear()
                failures += 1
                delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (failures - 1))
                level = logging.WARNING if failures == 1 or failures % 12 == 0 else logging.DEBUG  # ~1/min
                log.log(
                    level,
                    "reload broadcast: lost %s (%s: %s, %d time(s) in a row); subscribing again in %.1f s (this node "
                    "still reloads on its own file changes)",
                    shown(self.url),
                    type(e).__name__,
                    e,
                    failures,
                    delay,
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            finally:
                self.subscribed.clear()
                await _quietly(pubsub.aclose())
                await _quietly(client.aclose())

    async def _deliver(self, raw: Any, on_notice: NoticeHandler) -> None:
        if raw is None:
            return
        notice = ReloadNotice.from_json(raw)
        if notice is None or notice.node == self.node:
            return
        try:
            await on_notice(notice)
        except Exception:  # a notice that fails to apply must never end the listener
            log.exception("reload broadcast: applying %s failed", notice)

    def close(self) -> None:
        self._client.close()


async def _quietly(closing: Awaitable[Any]) -> None:
    try:
        await closing
    except (RedisError, OSError) as e:
        log.debug("reload broadcast: closing: %s", e)


def content_hash(*parts: object) -> str:
    """A stable hash of `parts` (frozen dataclasses, tuples, strings …) by their repr."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


@dataclass
class Reloadable:
    """One thing a node reloads: `current()` is the hash it serves (None: nothing loaded), `reload(reason)`
    brings it up to date with the shared files (in a worker thread; may return before it is done)."""

    current: Callable[[], str | None]
    reload: Callable[[str], object]


class ReloadRelay:
    """A node's side of the broadcast: `changed(kind)` publishes this node's own new content (not the reloads
    a notice caused); `apply(notice)` reloads what another node announced, unless this node serves it already."""

    def __init__(self, broadcast: ReloadBroadcast, node: str, targets: dict[ReloadKind, Reloadable]) -> None:
        self.broadcast = broadcast
        self.node = node
        self.targets = targets
        self._announced: dict[ReloadKind, str | None] = {k: t.current() for k, t in targets.items()}
        self._expected: dict[ReloadKind, str] = {}  # what the last notice of each kind asked for
        self._applying = threading.local()
        self.applied = 0  # notices that made this node reload

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        self._applying.active = True
        try:
            yield
        finally:
            self._applying.active = False

    def changed(self, kind: ReloadKind, reason: str = "") -> None:
        """This node now serves new `kind` content: tell the others (called in the thread that reloaded)."""
        target = self.targets.get(kind)
        if target is None or getattr(self._applying, "active", False):
            return
        current = target.current()
        if current is None or current == self._announced.get(kind):
            return
        if current == self._expected.get(kind):  # a retrain a notice requested, finished: nothing new
            self._announced[kind] = current
            return
        self._announced[kind] = current
        self.broadcast.publish(ReloadNotice(kind, current, self.node, reason))

    async def apply(self, notice: ReloadNotice) -> None:
        await asyncio.to_thread(self._apply, notice)

    def _apply(self, notice: ReloadNotice) -> None:
        target = self.targets.get(notice.kind)
        if target is None or target.current() == notice.content_hash:
            return
        log.info("reloading %s: node %s serves %s (%s)", notice.kind, notice.node, notice.content_hash, notice.reason)
        self._expected[notice.kind] = notice.content_hash
        with self._quiet():
            target.reload(f"node {notice.node} serves {notice.kind} {notice.content_hash}")
        self.applied += 1
        now = target.current()
        self._announced[notice.kind] = now
        if notice.kind == "knowledge" and now != notice.content_hash:
            log.warning(
                "knowledge reloaded after node %s's change, but its files here differ (%s, not %s) — do all nodes "
                "read the same knowledge folder (docs/deploy.md)?",
                notice.node,
                now,
                notice.content_hash,
            )
