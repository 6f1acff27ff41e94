"""Push notices: "new messages wait in the outbox" from the node that stored them to every node, at once.

Each node's `PushHub` (server/push.py) delivers the outbox rows of the customers whose sockets it holds,
polling every `proactive_poll_seconds`. An event (`trigger_intent`), a reminder or a live agent's message
stored through node B for a customer whose socket is on node A would wait for A's next poll; with Redis, B
PUBLISHes a notice on `<prefix>:push` and every node polls its outbox at once. The notice carries only the
publishing node's name (the rows themselves stay in the database, claimed by exactly one node), so a lost
notice delays a message by one poll and loses nothing. Listening survives Redis going away (logged, retried
with a backoff); publishing never raises. Without `redis_url` none of this runs: polling alone delivers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from bot.coordination.broadcast import node_name
from bot.coordination.connection import RedisError, async_client, shown, sync_client

log = logging.getLogger("supportbot.coordination")

PUBLISH_TIMEOUT_SECONDS = 0.5


class RedisPushNotices:
    """Redis pub/sub on `<prefix>:push`: `publish()` wakes every other node's hub (`listen`)."""

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
        self.channel = f"{prefix}:push"
        self.node = node or node_name()
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.subscribed = asyncio.Event()  # set while subscribed (for tests)
        self._client = sync_client(url, timeout=PUBLISH_TIMEOUT_SECONDS)
        self._failed_publishes = 0

    def publish(self) -> None:
        """Tell the other nodes that the outbox has new rows (blocking, at most ~0.5 s; never raises)."""
        try:
            self._client.publish(self.channel, self.node)
            self._failed_publishes = 0
        except RedisError as e:
            self._failed_publishes += 1
            level = logging.WARNING if self._failed_publishes % 60 == 1 else logging.DEBUG
            log.log(
                level,
                "push notice: could not reach %s (%s: %s); the node holding the socket delivers at its next poll",
                shown(self.url),
                type(e).__name__,
                e,
            )

    async def listen(self, on_notice: Callable[[], None], stop: asyncio.Event) -> None:
        """Call `on_notice()` for every other node's notice until `stop`; reconnects after Redis failures."""
        failures = 0
        while not stop.is_set():
            client = async_client(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if failures:
                    log.info("push notices: subscribed again to %s on %s", self.channel, shown(self.url))
                failures = 0
                self.subscribed.set()
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=0.5)
                    if message is not None and message.get("type") == "message" and _text(message) != self.node:
                        on_notice()
            except (RedisError, OSError) as e:
                self.subscribed.clear()
                failures += 1
                delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (failures - 1))
                level = logging.WARNING if failures == 1 or failures % 12 == 0 else logging.DEBUG  # ~1/min
                log.log(
                    level,
                    "push notices: lost %s (%s: %s, %d time(s) in a row); subscribing again in %.1f s (messages "
                    "are still delivered at each poll)",
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
                with suppress(RedisError, OSError):
                    await pubsub.aclose()
                with suppress(RedisError, OSError):
                    await client.aclose()

    def close(self) -> None:
        self._client.close()


def _text(message: dict[str, object]) -> str:
    data = message.get("data")
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
