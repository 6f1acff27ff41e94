"""`SenderLocks`: the messages of one conversation are processed one at a time, in order.

    StoreSenderLocks(store)     the tracker store's own lock (threads, and the processes sharing a state
                                folder through its lock file): the single-machine default
    RedisSenderLocks(client)    one holder across every node sharing a Redis:
        acquire    `SET lock:<sender> <random> NX PX <lease>` and a fencing token in one script; retried with
                   a small backoff until `timeout_seconds`, then `SenderLockError` (503, sent again)
        hold       a watchdog thread renews the lease (every third of it) while the turn runs; a node that
                   dies stops renewing, and its lock expires after the lease
        release    deletes the key only while it still holds this holder's value (compare-and-delete), so a
                   holder whose lease ran out never frees the next holder's lock
        fence      the token (larger than every earlier one, bot/coordination/fencing.py) is the current fence
                   of the turn; the store refuses a write from a holder that lost the lock to a newer one

Threads of one node queue on a local lock first, so only one of them at a time polls Redis for a key.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import redis

from bot.coordination.connection import RedisError
from bot.coordination.fencing import Fence, fenced
from bot.dialogue.tracker_store import StripedLocks, TrackerStore, TrackerStoreError

log = logging.getLogger("supportbot.coordination")

# KEYS: lock, fence counter. ARGV: value, lease ms. The fence is at least the server's clock in µs, so it
# keeps growing across a restart of a Redis that kept no data (a store never sees an older token again).
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if fence < floor then
    redis.call('SET', KEYS[2], string.format('%.0f', floor))
    return string.format('%.0f', floor)
  end
  return string.format('%.0f', fence)
end
return false
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SenderLocks(Protocol):
    def hold(self, sender_id: str) -> AbstractContextManager[Fence | None]:
        """Hold `sender_id`'s lock for the block; the fencing token of this hold, when the locks have one."""
        ...


class StoreSenderLocks:
    """The tracker store's own lock, without a fencing token: the default of a single machine."""

    def __init__(self, store: TrackerStore) -> None:
        self.store = store

    @contextmanager
    def hold(self, sender_id: str) -> Iterator[Fence | None]:
        with self.store.lock(sender_id):
            yield None


class SenderLockError(TrackerStoreError):
    """A conversation's lock could not be taken: Redis is unreachable, or another node held it for longer than
    `redis_lock_timeout_seconds`. The turn is refused (503 `store_unavailable`) and the client sends it again."""


class RedisSenderLocks:
    """Per-sender locks in Redis with a lease and fencing (see the module docstring). Thread-safe."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "supportbot",
        lease_seconds: float = 5.0,
        timeout_seconds: float = 15.0,
        where: str = "redis",
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be greater than 0. Currently, lease_seconds is {lease_seconds}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be greater than 0. Currently, timeout_seconds is {timeout_seconds}")
        self.client = client
        self.prefix = prefix
        self.lease_ms = max(1, round(lease_seconds * 1000))
        self.timeout_seconds = timeout_seconds
        self.where = where
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._local = StripedLocks()
        self._renewer = _Renewer(self._renew_one, lease_seconds / 3)

    def key(self, sender_id: str) -> str:
        return f"{self.prefix}:lock:{sender_id}"

    @property
    def fence_key(self) -> str:
        return f"{self.prefix}:fence"

    @contextmanager
    def hold(self, sender_id: str) -> Iterator[Fence]:
        with self._local.hold(sender_id):
            key = self.key(sender_id)
            value = secrets.token_hex(16)
            fence = Fence(sender_id, self._take(key, value, sender_id))
            self._renewer.add(key, value)
            try:
                with fenced(fence):
                    yield fence
            finally:
                lost = self._renewer.remove(key, value)
                self._give_back(key, value, sender_id, lost)

    def _take(self, key: str, value: str, sender_id: str) -> int:
        deadline = time.monotonic() + self.timeout_seconds
        pause = 0.002
        while True:
            try:
                token = self._acquire(keys=[key, self.fence_key], args=[value, self.lease_ms])
            except RedisError as e:
                raise SenderLockError(
                    f"cannot take the lock of conversation {sender_id!r} in {self.where}: {type(e).__name__}: {e} — "
                    "check that Redis is running and reachable at redis_url; turns are refused with 503 meanwhile",
                    "Redis is unreachable",
                ) from e
            if token is not None:
                return int(token)
            left = deadline - time.monotonic()
            if left <= 0:
                raise SenderLockError(
                    f"conversation {sender_id!r} stayed locked by another turn for {self.timeout_seconds:g} s "
                    f"({self.where}) — a turn that slow is stuck (see the other nodes' logs), or raise "
                    "redis_lock_timeout_seconds; this turn is refused with 503",
                    "a conversation's lock was not free in time",
                )
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, 0.05)

    def _renew_one(self, key: str, value: str) -> bool:
        return bool(self._renew(keys=[key], args=[value, self.lease_ms]))

    def _give_back(self, key: str, value: str, sender_id: str, lost: bool) -> None:
        if lost:
            log.warning("the lock of conversation %r expired while its turn ran (lease lost)", sender_id)
        try:
            self._release(keys=[key], args=[value])
        except RedisError as e:  # the lease frees it
            log.warning("could not release the lock of %r (%s); it expires after the lease", sender_id, e)

    def close(self) -> None:
        """Stop the watchdog thread (held locks then expire after their lease)."""
        self._renewer.close()


class _Renewer:
    """One daemon thread per `RedisSenderLocks`, renewing every held lease every `every` seconds."""

    def __init__(self, renew: Callable[[str, str], bool], every: float) -> None:
        self._renew = renew
        self._every = every
        self._held: dict[tuple[str, str], bool] = {}  # (key, value) → lost
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, key: str, value: str) -> None:
        with self._cond:
            self._held[(key, value)] = False
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="supportbot-lock-renewer", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def remove(self, key: str, value: str) -> bool:
        """Stop renewing; True when a renewal found the lease lost meanwhile."""
        with self._cond:
            return self._held.pop((key, value), False)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        due = time.monotonic() + self._every
        while True:
            with self._cond:
                while not self._held and not self._closed:
                    self._cond.wait()
                    due = time.monotonic() + self._every  # a lease taken now is full for a while
                if self._closed:
                    return
                left = due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                due = time.monotonic() + self._every
                held = [item for item, lost in self._held.items() if not lost]
            for key, value in held:
                self._renew_held(key, value)

    def _renew_held(self, key: str, value: str) -> None:
        try:
            kept = self._renew(key, value)
        except RedisError as e:  # retried at the next pass; the fence guards the store meanwhile
            log.warning("could not renew the lease of %s: %s", key, e)
            return
        except Exception:  # the watchdog must never die
            log.exception("renewing the lease of %s failed", key)
            return
        if not kept:
            with self._cond:
                if (key, value) in self._held:
                    self._held[(key, value)] = True
