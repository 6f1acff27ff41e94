"""Building the coordination parts from `Settings` — all None without `redis_url` (one machine)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.coordination.broadcast import RedisReloadBroadcast, Reloadable, ReloadKind, ReloadRelay, content_hash
from bot.coordination.connection import shown, sync_client
from bot.coordination.locks import RedisSenderLocks
from bot.coordination.push_notices import RedisPushNotices
from bot.coordination.rate_limits import RedisRateLimiter

if TYPE_CHECKING:
    from bot.faq.service import KnowledgeService
    from bot.learning.retrain import ModelBuilder

log = logging.getLogger("supportbot.coordination")


def redis_url(settings: Settings) -> str | None:
    return settings.redis_url.get_secret_value() if settings.redis_url is not None else None


def make_sender_locks(settings: Settings) -> RedisSenderLocks | None:
    """The cluster's per-conversation locks; None without `redis_url`."""
    url = redis_url(settings)
    if url is None:
        return None
    return RedisSenderLocks(
        sync_client(url),
        prefix=settings.redis_key_prefix,
        lease_seconds=settings.redis_lock_lease_seconds,
        timeout_seconds=settings.redis_lock_timeout_seconds,
        where=shown(url),
    )


def make_rate_limiter(settings: Settings, per_minute: int, name: str) -> RedisRateLimiter | None:
    """A rate limiter shared by every node (`name`: "sender" or "ip"); None without `redis_url`."""
    url = redis_url(settings)
    if url is None:
        return None
    return RedisRateLimiter(sync_client(url, timeout=0.5), per_minute, name=name, prefix=settings.redis_key_prefix)


def make_push_notices(settings: Settings) -> RedisPushNotices | None:
    """The cluster's "new outbox rows" notices (bot/coordination/push_notices.py); None without `redis_url`."""
    url = redis_url(settings)
    if url is None:
        return None
    return RedisPushNotices(url, prefix=settings.redis_key_prefix)


SOCKETIO_CHANNEL = "socketio"


def socketio_channel(settings: Settings) -> str:
    """The Redis channel python-socketio's `AsyncRedisManager` relays emits on (one per key prefix)."""
    return f"{settings.redis_key_prefix}:{SOCKETIO_CHANNEL}"


def knowledge_hash(service: KnowledgeService) -> str | None:
    """The content the knowledge service serves now: its entries and rendered answers."""
    if not service.loaded:
        return None
    snapshot = service.snapshot
    return content_hash(snapshot.entries, sorted(snapshot.answers.items()))


def model_hash(assistant: Any) -> str | None:
    """The fingerprint of the NLU model `assistant` serves (None: no assistant yet)."""
    if assistant is None:
        return None
    fingerprint = assistant.nlu.meta.get("fingerprint")
    return str(fingerprint) if fingerprint else None


def make_reload_relay(
    settings: Settings,
    *,
    knowledge: KnowledgeService | None,
    assistant: Callable[[], Any],
    retrain: Callable[[str], None] | None,
) -> tuple[RedisReloadBroadcast, ReloadRelay] | None:
    """The broadcast and this node's relay over the knowledge service and the serving model; None without
    `redis_url`. Subscribes the relay to the knowledge service's reloads (`changed("knowledge")`)."""
    url = redis_url(settings)
    if url is None:
        return None
    broadcast = RedisReloadBroadcast(url, prefix=settings.redis_key_prefix)
    targets: dict[ReloadKind, Reloadable] = {
        "model": Reloadable(lambda: model_hash(assistant()), retrain or _cannot_retrain),
    }
    if knowledge is not None:
        targets["knowledge"] = Reloadable(lambda: knowledge_hash(knowledge), lambda _reason: knowledge.reload_outcome())
    relay = ReloadRelay(broadcast, broadcast.node, targets)
    if knowledge is not None:
        knowledge.add_reload_listener(
            lambda event: relay.changed("knowledge", "reload") if event.outcome == "ok" else None
        )
    log.info("reload broadcast on %s as node %s", shown(url), broadcast.node)
    return broadcast, relay


def _cannot_retrain(reason: str) -> None:
    log.warning(
        "another node serves a new model (%s), but learning_retrain is off here: restart this node to serve it", reason
    )


class AnnouncingModelBuilder:
    """A `ModelBuilder` that tells the relay after every swap, so the other nodes load the new model."""

    def __init__(self, inner: ModelBuilder, relay: ReloadRelay) -> None:
        self.inner = inner
        self.relay = relay

    def stale(self) -> bool:
        return self.inner.stale()

    def train(self) -> Path:
        return self.inner.train()

    def load(self, path: Path) -> Any:
        return self.inner.load(path)

    def check(self, assistant: Any) -> None:
        self.inner.check(assistant)

    def discard(self, path: Path) -> None:
        self.inner.discard(path)

    def swapped(self, assistant: Any) -> None:
        self.inner.swapped(assistant)
        self.relay.changed("model", "retrained")
