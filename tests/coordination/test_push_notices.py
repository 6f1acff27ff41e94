"""Push notices through the real Redis: a message stored through one node reaches the socket another node's
hub holds at once, not at that hub's next poll; a node whose Redis is gone still delivers by polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.coordination.push_notices import RedisPushNotices
from bot.proactive.outbox import SqlOutbox
from server.push import PushHub

pytestmark = pytest.mark.integration  # the real Redis at 127.0.0.1:6379

DOWN_URL = "redis://127.0.0.1:1/0"
SLOW_POLL_SECONDS = 30.0  # far beyond the test's wait: only a notice can make the hub deliver in time


def run(main: Callable[[], Awaitable[None]], timeout: float = 30) -> None:
    asyncio.run(asyncio.wait_for(main(), timeout))


async def until(check: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def test_a_poke_on_one_node_makes_the_node_holding_the_socket_deliver_at_once(real_redis: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"

    async def main() -> None:
        stop = asyncio.Event()
        notices = [RedisPushNotices(real_redis.url, prefix=real_redis.prefix, node=f"n{i}") for i in range(2)]
        holder = PushHub(SqlOutbox.from_url(url), worker="a", poll_seconds=SLOW_POLL_SECONDS, notices=notices[0])
        other = PushHub(SqlOutbox.from_url(url), worker="b", poll_seconds=SLOW_POLL_SECONDS, notices=notices[1])
        got: list[list[dict[str, Any]]] = []

        async def deliver(replies: list[dict[str, Any]]) -> None:
            got.append(replies)

        tasks = [asyncio.create_task(holder.run(stop)), asyncio.create_task(notices[0].listen(holder.wake, stop))]
        await until(notices[0].subscribed.is_set, 5)
        holder.register("anna", deliver)
        await asyncio.sleep(0.2)  # the registration's own poll found nothing
        assert got == []
        other.outbox.put("anna", [{"text": "your coat shipped", "id": "r1"}])
        other.poke()  # as the trigger_intent route of node b does
        took = await until(lambda: bool(got), 2)
        assert got == [[{"text": "your coat shipped", "id": "r1"}]]
        assert took < 2
        stop.set()
        holder.wake()  # the hub sees `stop` when it wakes
        await asyncio.gather(*tasks)
        for n in notices:
            n.close()

    run(main)


def test_a_node_ignores_its_own_notice(real_redis: Any) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        mine = RedisPushNotices(real_redis.url, prefix=real_redis.prefix, node="me")
        theirs = RedisPushNotices(real_redis.url, prefix=real_redis.prefix, node="them")
        woken: list[str] = []
        task = asyncio.create_task(mine.listen(lambda: woken.append("x"), stop))
        await until(mine.subscribed.is_set, 5)
        mine.publish()
        await asyncio.sleep(0.3)
        assert woken == []
        theirs.publish()
        await until(lambda: woken == ["x"], 2)
        stop.set()
        await task
        mine.close()
        theirs.close()

    run(main)


def test_without_redis_publishing_never_raises_and_polling_still_delivers(tmp_path: Path) -> None:
    async def main() -> None:
        notices = RedisPushNotices(DOWN_URL, prefix="supportbot-test-down", node="n0")
        hub = PushHub(SqlOutbox.from_url(f"sqlite:///{tmp_path / 'bot.db'}"), poll_seconds=0.05, notices=notices)
        got: list[list[dict[str, Any]]] = []

        async def deliver(replies: list[dict[str, Any]]) -> None:
            got.append(replies)

        stop = asyncio.Event()
        task = asyncio.create_task(hub.run(stop))
        hub.register("anna", deliver)
        hub.outbox.put("anna", [{"text": "return received"}])
        hub.poke()  # the publish fails (refused), logged; the local poll still runs
        await until(lambda: bool(got), 2)
        stop.set()
        await task
        notices.close()

    run(main)
