"""The reload broadcast through the real Redis: every subscriber gets a notice within 2 s, a node that missed
notices catches up, a node whose Redis restarts subscribes again, and two knowledge services over one folder
stay in step — an edit reloaded on one node is served by the other within 2 s, announced once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.coordination.broadcast import RedisReloadBroadcast, Reloadable, ReloadNotice, ReloadRelay
from bot.coordination.wiring import AnnouncingModelBuilder, knowledge_hash
from bot.encoding import FakeEncoder
from bot.faq.index import NumpyIndex
from bot.faq.service import KnowledgeService
from bot.faq.unanswered import MemoryUnansweredStore

pytestmark = pytest.mark.integration  # the real Redis at 127.0.0.1:6379

DOWN_URL = "redis://127.0.0.1:1/0"
FAQ = "## How long do I have to return an item? {#return-window}\n\nYou have 30 days.\n"


def run(main: Callable[[], Awaitable[None]], timeout: float = 30) -> None:
    asyncio.run(asyncio.wait_for(main(), timeout))


async def until(check: Callable[[], bool], seconds: float) -> float:
    """Wait until `check()` holds; the seconds it took (fails after `seconds`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


class Inbox:
    def __init__(self) -> None:
        self.notices: list[ReloadNotice] = []

    async def __call__(self, notice: ReloadNotice) -> None:
        self.notices.append(notice)


def test_every_subscriber_gets_a_notice_within_2_s(real_redis: Any) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        nodes = [RedisReloadBroadcast(real_redis.url, prefix=real_redis.prefix, node=f"n{i}") for i in range(3)]
        inboxes = [Inbox(), Inbox()]
        tasks = [asyncio.create_task(nodes[i].listen(inboxes[i], stop)) for i in range(2)]
        await until(lambda: all(n.subscribed.is_set() for n in nodes[:2]), 5)
        notice = ReloadNotice("knowledge", "abc123", "n2", "console edit")
        nodes[2].publish(notice)
        took = await until(lambda: all(inbox.notices for inbox in inboxes), 2)
        assert took < 2
        assert [inbox.notices for inbox in inboxes] == [[notice], [notice]]
        nodes[0].publish(ReloadNotice("model", "fp", "n0"))  # a node never gets its own notice
        await until(lambda: len(inboxes[1].notices) == 2, 2)
        await asyncio.sleep(0.2)
        assert len(inboxes[0].notices) == 1
        stop.set()
        await asyncio.gather(*tasks)
        for node in nodes:
            node.close()

    run(main)


def test_a_late_subscriber_catches_up_on_the_kept_notices(real_redis: Any) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        early = RedisReloadBroadcast(real_redis.url, prefix=real_redis.prefix, node="early")
        early.publish(ReloadNotice("knowledge", "k1", "early"))
        early.publish(ReloadNotice("model", "m1", "early"))
        late = RedisReloadBroadcast(real_redis.url, prefix=real_redis.prefix, node="late")
        inbox = Inbox()
        task = asyncio.create_task(late.listen(inbox, stop))
        await until(lambda: len(inbox.notices) == 2, 2)
        assert {(n.kind, n.content_hash) for n in inbox.notices} == {("knowledge", "k1"), ("model", "m1")}
        stop.set()
        await task
        early.close()
        late.close()

    run(main)


def test_listening_survives_a_redis_restart(private_redis: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "supportbot.coordination")

    async def main() -> None:
        stop = asyncio.Event()
        listener = RedisReloadBroadcast(private_redis.url, node="a", backoff_seconds=0.05, max_backoff_seconds=0.2)
        inbox = Inbox()
        task = asyncio.create_task(listener.listen(inbox, stop))
        await until(listener.subscribed.is_set, 5)
        private_redis.stop()
        await until(lambda: not listener.subscribed.is_set(), 5)
        await asyncio.sleep(0.5)  # a few failed attempts
        assert not task.done()
        private_redis.start()
        await until(listener.subscribed.is_set, 5)
        sender = RedisReloadBroadcast(private_redis.url, node="b")
        sender.publish(ReloadNotice("knowledge", "after-restart", "b"))
        await until(lambda: bool(inbox.notices), 2)
        assert inbox.notices[-1].content_hash == "after-restart"
        stop.set()
        await task
        listener.close()
        sender.close()

    run(main)
    messages = [r.getMessage() for r in caplog.records]
    assert any("subscribing again" in m for m in messages)
    assert any("subscribed again" in m for m in messages)


def test_redis_down_neither_publish_nor_listen_raises() -> None:
    async def main() -> None:
        stop = asyncio.Event()
        node = RedisReloadBroadcast(DOWN_URL, node="a", backoff_seconds=0.05, max_backoff_seconds=0.1)
        node.publish(ReloadNotice("knowledge", "x", "a"))  # logged, not raised
        task = asyncio.create_task(node.listen(Inbox(), stop))
        await asyncio.sleep(0.5)
        assert not task.done() and not node.subscribed.is_set()
        stop.set()
        await task
        node.close()

    run(main)


def _service(folder: Path, state: Path) -> KnowledgeService:
    service = KnowledgeService(
        folder, FakeEncoder(), state_path=state, recorder=MemoryUnansweredStore(), index_factory=NumpyIndex
    )
    service.load()
    return service


def _relay(real_redis: Any, name: str, service: KnowledgeService) -> tuple[RedisReloadBroadcast, ReloadRelay]:
    broadcast = RedisReloadBroadcast(real_redis.url, prefix=real_redis.prefix, node=name)
    knowledge = Reloadable(lambda: knowledge_hash(service), lambda _reason: service.reload_outcome())
    relay = ReloadRelay(broadcast, name, {"knowledge": knowledge})
    service.add_reload_listener(lambda event: relay.changed("knowledge") if event.outcome == "ok" else None)
    return broadcast, relay


def test_an_edit_reloaded_on_one_node_is_served_by_the_other_within_2_s(real_redis: Any, tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"  # the shared folder: neither node watches it here
    folder.mkdir()
    (folder / "returns.md").write_text(FAQ, encoding="utf-8")
    node_a = _service(folder, tmp_path / "state-a")
    node_b = _service(folder, tmp_path / "state-b")

    async def main() -> None:
        stop = asyncio.Event()
        broadcast_a, relay_a = _relay(real_redis, "a", node_a)
        broadcast_b, relay_b = _relay(real_redis, "b", node_b)
        monitor = RedisReloadBroadcast(real_redis.url, prefix=real_redis.prefix, node="monitor")
        seen = Inbox()
        tasks = [
            asyncio.create_task(broadcast_a.listen(relay_a.apply, stop)),
            asyncio.create_task(broadcast_b.listen(relay_b.apply, stop)),
            asyncio.create_task(monitor.listen(seen, stop)),
        ]
        await until(lambda: all(b.subscribed.is_set() for b in (broadcast_a, broadcast_b, monitor)), 5)
        assert relay_b.applied == 0  # nothing kept yet, and both serve the same files
        (folder / "returns.md").write_text(FAQ + "\n## Do you ship to Canada? {#canada}\n\nNot yet.\n")
        assert await asyncio.to_thread(node_a.reload_outcome) == "ok"  # the console's reload, on node a
        took = await until(lambda: node_b.snapshot.entry("canada") is not None, 2)
        assert took < 2
        assert knowledge_hash(node_a) == knowledge_hash(node_b)
        await asyncio.sleep(0.3)
        assert [n.node for n in seen.notices] == ["a"]  # node b's reload is not announced again
        assert relay_b.applied == 1 and relay_a.applied == 0
        stop.set()
        await asyncio.gather(*tasks)
        for b in (broadcast_a, broadcast_b, monitor):
            b.close()

    run(main)


def test_an_unchanged_reload_is_not_announced(real_redis: Any, tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "returns.md").write_text(FAQ, encoding="utf-8")
    service = _service(folder, tmp_path / "state")
    published: list[ReloadNotice] = []

    class Recorder:
        def publish(self, notice: ReloadNotice) -> None:
            published.append(notice)

        async def listen(self, on_notice: Any, stop: asyncio.Event) -> None:  # pragma: no cover - not used
            return None

    relay = ReloadRelay(Recorder(), "a", {"knowledge": Reloadable(lambda: knowledge_hash(service), print)})
    service.add_reload_listener(lambda event: relay.changed("knowledge") if event.outcome == "ok" else None)
    assert published == []  # the start-up load (replayed to the listener) is not news
    service.reload_outcome()
    assert published == []
    (folder / "returns.md").write_text(FAQ.replace("30 days", "60 days"), encoding="utf-8")
    service.reload_outcome()
    assert [(n.kind, n.content_hash) for n in published] == [("knowledge", knowledge_hash(service))]


class FakeBuilder:
    def __init__(self) -> None:
        self.swaps: list[Any] = []

    def stale(self) -> bool:
        return True

    def train(self) -> Path:
        return Path("nlu-x")

    def load(self, path: Path) -> Any:
        return path

    def check(self, assistant: Any) -> None:
        return None

    def discard(self, path: Path) -> None:
        return None

    def swapped(self, assistant: Any) -> None:
        self.swaps.append(assistant)


def test_a_model_swap_is_announced_and_another_nodes_model_is_retrained_for() -> None:
    published: list[ReloadNotice] = []
    requests: list[str] = []
    serving = {"a": "fp-1", "b": "fp-1"}

    class Recorder:
        def publish(self, notice: ReloadNotice) -> None:
            published.append(notice)

        async def listen(self, on_notice: Any, stop: asyncio.Event) -> None:  # pragma: no cover - not used
            return None

    relay_a = ReloadRelay(Recorder(), "a", {"model": Reloadable(lambda: serving["a"], requests.append)})
    relay_b = ReloadRelay(Recorder(), "b", {"model": Reloadable(lambda: serving["b"], requests.append)})
    builder = AnnouncingModelBuilder(FakeBuilder(), relay_a)
    serving["a"] = "fp-2"  # node a's refresher swapped a new model in …
    builder.swapped("assistant")  # … and its builder is told
    assert [(n.kind, n.content_hash, n.node) for n in published] == [("model", "fp-2", "a")]
    asyncio.run(relay_b.apply(published[0]))
    assert len(requests) == 1 and "fp-2" in requests[0]  # node b asks its refresher to catch up
    serving["b"] = "fp-2"
    relay_b.changed("model")  # node b's swap of the model it was told about is not news
    assert len(published) == 1
    asyncio.run(relay_b.apply(published[0]))  # already served: nothing to do
    assert len(requests) == 1
