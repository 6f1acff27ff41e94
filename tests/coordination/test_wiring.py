"""Wiring: with `redis_url` the assistant's turns take the cluster lock (and the store refuses nothing it should
keep); without it nothing Redis is built; the server's reload broadcast starts only with Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from bot import bootstrap
from bot.config import Settings
from bot.coordination.connection import sync_client
from bot.coordination.locks import RedisSenderLocks, SenderLockError, StoreSenderLocks
from bot.coordination.store import CoordinatedTrackerStore
from bot.coordination.wiring import knowledge_hash, make_reload_relay, make_sender_locks
from bot.encoding import FakeEncoder
from bot.faq.index import NumpyIndex
from bot.faq.service import KnowledgeService
from bot.faq.unanswered import MemoryUnansweredStore
from bot.types import Message
from server.app import _start_reload_broadcast

pytestmark = pytest.mark.integration  # the real Redis at 127.0.0.1:6379

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state folder for the module: the model trained (on the fake encoder) once, reused by content hash."""
    return tmp_path_factory.mktemp("coordination-state")


def _settings(tmp_path: Path, state: Path | None = None, **changes: Any) -> Settings:
    return Settings(
        project_dir=ROOT,
        state_dir=state or tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'shop.db'}",
        watch_knowledge=False,
        learning_retrain=False,
        **changes,
    )


def test_with_redis_a_turn_takes_the_cluster_lock(real_redis: Any, tmp_path: Path, models: Path) -> None:
    settings = _settings(
        tmp_path, models, redis_url=real_redis.url, redis_key_prefix=real_redis.prefix, redis_lock_timeout_seconds=0.3
    )
    bootstrap.prepare_actions(settings)
    assistant = bootstrap.load_assistant(settings, encoder=FakeEncoder())
    assert isinstance(assistant.sender_locks, RedisSenderLocks)
    assert isinstance(assistant.tracker_store, CoordinatedTrackerStore)
    assert assistant.handle(Message("alice", "hello"))  # a turn, under the Redis lock
    other_node = RedisSenderLocks(sync_client(real_redis.url), prefix=real_redis.prefix)
    with other_node.hold("alice"):
        started = time.monotonic()
        with pytest.raises(SenderLockError):
            assistant.handle(Message("alice", "hello again"))
        assert time.monotonic() - started < 2
    assert assistant.handle(Message("alice", "hello again"))
    history = [e for e in assistant.history("alice") if e.get("event") == "user"]
    assert [e["text"] for e in history] == ["hello", "hello again"]  # the refused turn was not saved
    other_node.close()


def test_without_redis_the_store_keeps_its_own_lock(tmp_path: Path, models: Path) -> None:
    settings = _settings(tmp_path, models)
    assert make_sender_locks(settings) is None
    store = bootstrap.make_tracker_store(settings)
    assert not isinstance(store, CoordinatedTrackerStore)
    assert isinstance(bootstrap.load_assistant(settings, encoder=FakeEncoder()).sender_locks, StoreSenderLocks)


def _knowledge(tmp_path: Path) -> KnowledgeService:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "faq.md").write_text("## Do you ship to Canada? {#canada}\n\nNot yet.\n", encoding="utf-8")
    service = KnowledgeService(
        folder, FakeEncoder(), state_path=tmp_path / "state", recorder=MemoryUnansweredStore(), index_factory=NumpyIndex
    )
    service.load()
    return service


def test_the_server_starts_the_broadcast_only_with_redis(real_redis: Any, tmp_path: Path) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        app = FastAPI()
        app.state.knowledge = _knowledge(tmp_path)
        app.state.assistant = None
        assert _start_reload_broadcast(app, _settings(tmp_path), stop) is None
        settings = _settings(tmp_path, redis_url=real_redis.url, redis_key_prefix=real_redis.prefix)
        task = _start_reload_broadcast(app, settings, stop)
        assert task is not None and app.state.reload_relay is not None
        other = make_reload_relay(settings, knowledge=None, assistant=lambda: None, retrain=None)
        assert other is not None
        broadcast, _relay = other
        (app.state.knowledge.knowledge_path / "faq.md").write_text(
            "## Do you ship to Canada? {#canada}\n\nYes, since May.\n", encoding="utf-8"
        )
        from bot.coordination.broadcast import ReloadNotice

        await asyncio.sleep(0.3)  # subscribed
        broadcast.publish(ReloadNotice("knowledge", "another-nodes-hash", broadcast.node, "test"))
        started = time.monotonic()
        before = app.state.knowledge.snapshot
        while app.state.knowledge.snapshot is before:
            assert time.monotonic() - started < 2
            await asyncio.sleep(0.01)
        assert knowledge_hash(app.state.knowledge) != "another-nodes-hash"
        stop.set()
        await task
        broadcast.close()

    asyncio.run(asyncio.wait_for(main(), 30))
