"""`RedisSenderLocks` against the real Redis: mutual exclusion across nodes, order, lease expiry of a dead
holder, release of only one's own lock, fencing of a stale holder, and a fast, clear failure when Redis is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.coordination.connection import sync_client
from bot.coordination.fencing import Fence, StaleFenceError, current_fence, fence_allows
from bot.coordination.locks import RedisSenderLocks, SenderLockError, StoreSenderLocks
from bot.coordination.store import CoordinatedTrackerStore
from bot.dialogue.state import ConversationState
from bot.dialogue.tracker_store import InMemoryTrackerStore, TrackerStoreError

pytestmark = pytest.mark.integration  # the real Redis at 127.0.0.1:6379

ROOT = Path(__file__).resolve().parents[2]
DOWN_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def node(real_redis: Any) -> Iterator[Any]:
    """Makes "nodes": each its own client, local locks and renewer, sharing the test's Redis prefix."""
    made: list[RedisSenderLocks] = []

    def make(**options: Any) -> RedisSenderLocks:
        options.setdefault("lease_seconds", 2.0)
        options.setdefault("timeout_seconds", 10.0)
        locks = RedisSenderLocks(sync_client(real_redis.url), prefix=real_redis.prefix, **options)
        made.append(locks)
        return locks

    yield make
    for locks in made:
        locks.close()
        locks.client.close()


class FencedMemoryStore(InMemoryTrackerStore):
    """The fake store with the fence check a real store makes in `save` (the largest token kept per sender)."""

    def __init__(self) -> None:
        super().__init__()
        self.fences: dict[str, int] = {}

    def save(self, state: ConversationState) -> None:
        token = current_fence(state.sender_id)
        stored = self.fences.get(state.sender_id)
        if not fence_allows(stored, token):
            assert token is not None and stored is not None
            raise StaleFenceError(state.sender_id, token, stored)
        if token is not None:
            self.fences[state.sender_id] = token
        super().save(state)


def test_two_nodes_never_hold_one_senders_lock_at_once(node: Any) -> None:
    nodes = [node(), node()]
    inside = 0
    overlaps = 0
    entries: list[int] = []
    guard = threading.Lock()

    def turns(locks: RedisSenderLocks) -> None:
        nonlocal inside, overlaps
        for _ in range(15):
            with locks.hold("alice") as fence:
                with guard:
                    inside += 1
                    overlaps += inside > 1
                    entries.append(fence.token)
                time.sleep(0.002)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=turns, args=(n,)) for n in nodes for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert overlaps == 0
    assert len(entries) == 60
    assert entries == sorted(entries) and len(set(entries)) == 60  # tokens grow in the order of the holds


def test_a_waiter_runs_after_the_holder_releases_with_a_newer_token(node: Any) -> None:
    first, second = node(), node()
    order: list[str] = []
    got: dict[str, Fence] = {}
    with first.hold("bob") as fence:
        got["first"] = fence
        waiter = threading.Thread(target=lambda: _hold_and_note(second, "bob", order, got))
        waiter.start()
        time.sleep(0.3)
        assert order == []  # blocked while the first node holds the lock
        order.append("first released")
    waiter.join(timeout=10)
    assert order == ["first released", "second held"]
    assert got["second"].token > got["first"].token


def _hold_and_note(locks: RedisSenderLocks, sender: str, order: list[str], got: dict[str, Fence]) -> None:
    with locks.hold(sender) as fence:
        order.append("second held")
        got["second"] = fence


def test_other_senders_are_not_blocked(node: Any) -> None:
    first, second = node(), node(timeout_seconds=0.5)
    with first.hold("carol"), second.hold("dave") as fence:
        assert fence.sender_id == "dave"


def test_the_lease_is_renewed_while_a_long_turn_runs(node: Any, real_redis: Any) -> None:
    holder, other = node(lease_seconds=0.6), node(timeout_seconds=0.3)
    with holder.hold("erin"):
        time.sleep(1.5)  # more than twice the lease
        with pytest.raises(SenderLockError, match="stayed locked"), other.hold("erin"):
            pass
    assert real_redis.client.exists(holder.key("erin")) == 0  # released at the end


def test_a_dead_nodes_lock_expires_after_the_lease(node: Any, real_redis: Any) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from bot.coordination.locks import RedisSenderLocks
        from bot.coordination.connection import sync_client
        locks = RedisSenderLocks(sync_client({real_redis.url!r}), prefix={real_redis.prefix!r}, lease_seconds=1.0)
        with locks.hold("frank"):
            print("held", flush=True)
            time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"held"
        time.sleep(1.5)  # the dead-to-be node renewed its lease meanwhile
        assert real_redis.client.exists(f"{real_redis.prefix}:lock:frank") == 1
        os.kill(process.pid, signal.SIGKILL)
        killed = time.monotonic()
        with node().hold("frank"):
            waited = time.monotonic() - killed
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert waited < 1.0 + 0.5  # free once the 1 s lease ran out, not at the 10 s timeout


@contextmanager
def _stalled_holder(locks: RedisSenderLocks, sender: str) -> Iterator[Fence]:
    """A holder whose node stalls: its watchdog no longer renews (closed before the hold)."""
    locks.close()
    with locks.hold(sender) as fence:
        yield fence


def test_release_never_deletes_the_next_holders_lock(node: Any, real_redis: Any) -> None:
    slow, fast = node(lease_seconds=0.3), node()
    with _stalled_holder(slow, "grace"):
        time.sleep(0.5)  # the lease ran out
        taken = threading.Event()
        done = threading.Event()

        def next_holder() -> None:
            with fast.hold("grace"):
                taken.set()
                done.wait(10)

        thread = threading.Thread(target=next_holder)
        thread.start()
        assert taken.wait(5)
    # the stalled holder left its block and released: the next holder's lock must still be there
    value = real_redis.client.get(fast.key("grace"))
    assert value is not None
    done.set()
    thread.join(timeout=10)
    assert real_redis.client.exists(fast.key("grace")) == 0


def test_the_store_refuses_a_write_from_a_holder_that_lost_the_lock(node: Any) -> None:
    store = FencedMemoryStore()
    slow, fast = node(lease_seconds=0.3), node()
    with _stalled_holder(slow, "heidi") as old:
        state = ConversationState("heidi")
        store.save(state)  # still the newest holder: allowed
        time.sleep(0.5)
        with fast.hold("heidi") as new:
            assert new.token > old.token
            store.save(ConversationState("heidi"))
        with pytest.raises(StaleFenceError, match="lock was taken over") as refused:
            store.save(ConversationState("heidi"))
    assert isinstance(refused.value, TrackerStoreError)  # the server answers 503 store_unavailable
    assert store.fences["heidi"] == new.token


def test_the_fence_check() -> None:
    assert fence_allows(None, 5) and fence_allows(5, 5) and fence_allows(5, 6)
    assert not fence_allows(6, 5)
    assert fence_allows(6, None)  # a write without a token (one machine, a tool) is never refused
    assert current_fence("ivan") is None  # outside any hold


def test_the_token_is_the_current_fence_of_the_holding_thread_only(node: Any) -> None:
    locks = node()
    seen: list[int | None] = []
    with locks.hold("judy") as fence:
        assert current_fence("judy") == fence.token
        assert current_fence("someone else") is None
        other = threading.Thread(target=lambda: seen.append(current_fence("judy")))
        other.start()
        other.join()
    assert seen == [None]
    assert current_fence("judy") is None


def test_tokens_grow_past_a_restart_of_a_redis_that_kept_nothing(node: Any, real_redis: Any) -> None:
    locks = node()
    with locks.hold("ken") as before:
        pass
    real_redis.client.delete(locks.fence_key)  # what a restart without persistence does to the counter
    with locks.hold("ken") as after:
        pass
    assert after.token > before.token


def test_a_lock_held_too_long_elsewhere_fails_with_a_clear_error(node: Any) -> None:
    holder, waiter = node(), node(timeout_seconds=0.3)
    with holder.hold("leo"):
        started = time.monotonic()
        refused = "stayed locked by another turn for 0.3 s"
        with pytest.raises(SenderLockError, match=refused) as error, waiter.hold("leo"):
            pass
        assert time.monotonic() - started < 1.0
    assert error.value.reason == "a conversation's lock was not free in time"


def test_redis_down_fails_fast_with_a_clear_error() -> None:
    locks = RedisSenderLocks(sync_client(DOWN_URL), timeout_seconds=10, where="redis://127.0.0.1:1/0")
    started = time.monotonic()
    with pytest.raises(SenderLockError, match="check that Redis is running") as error, locks.hold("mallory"):
        pass
    assert time.monotonic() - started < 1.5
    assert isinstance(error.value, TrackerStoreError) and error.value.reason == "Redis is unreachable"
    locks.close()


def test_the_coordinated_store_locks_with_the_cluster_locks(node: Any) -> None:
    store = CoordinatedTrackerStore(FencedMemoryStore(), node())
    other = node(timeout_seconds=0.2)
    with store.lock("nina"):
        assert current_fence("nina") is not None
        store.save(ConversationState("nina"))
        with pytest.raises(SenderLockError), other.hold("nina"):
            pass
    loaded = store.load("nina")
    assert loaded is not None and loaded.sender_id == "nina"


def test_the_default_sender_locks_are_the_stores_lock() -> None:
    store = InMemoryTrackerStore()
    locks = StoreSenderLocks(store)
    entered = threading.Event()
    with locks.hold("oscar") as fence:
        assert fence is None
        thread = threading.Thread(target=lambda: _enter(store, "oscar", entered))
        thread.start()
        assert not entered.wait(0.2)  # the store's own lock is the one held
    assert entered.wait(5)
    thread.join()


def _enter(store: InMemoryTrackerStore, sender: str, entered: threading.Event) -> None:
    with store.lock(sender):
        entered.set()
