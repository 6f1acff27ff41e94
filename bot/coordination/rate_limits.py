"""`RedisRateLimiter`: token buckets shared by every node, the same buckets as `server.limits.RateLimiter`.

One Lua script per hit refills and takes a token atomically on Redis's clock (the nodes' clocks never
disagree about a bucket), and sets the key to expire once the bucket would be full again, so idle keys vanish.
It answers like the in-process limiter: None when allowed, else the seconds until a token is free.

When Redis is down the limiter fails OPEN: the hit is allowed and a warning logged (at most one per
`WARN_EVERY_SECONDS`); after a failure it does not ask Redis again for `RETRY_AFTER_FAILURE_SECONDS`, so a
dead Redis costs no request a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from bot.coordination.connection import RedisError

log = logging.getLogger("supportbot.coordination")

WARN_EVERY_SECONDS = 60.0
RETRY_AFTER_FAILURE_SECONDS = 1.0

# KEYS: bucket. ARGV: capacity (tokens), rate (tokens per second). Returns the wait in seconds ("0": allowed).
_HIT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""


class RedisRateLimiter:
    """`per_minute` tokens per key, refilled continuously, bursts up to `per_minute`, in Redis under
    `<prefix>:rate:<name>:<key>`; `per_minute=0` disables it. Thread-safe."""

    def __init__(
        self,
        client: redis.Redis,
        per_minute: int,
        *,
        name: str,
        prefix: str = "supportbot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 0:
            raise ValueError(f"per_minute must be 0 or more. Currently, per_minute is {per_minute}")
        self.client = client
        self.per_minute = per_minute
        self.name = name
        self.prefix = prefix
        self._rate = per_minute / 60.0
        self._hit = client.register_script(_HIT)
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = float("-inf")
        self._warned_at = float("-inf")
        self.failed_open = 0  # hits allowed because Redis did not answer

    def key(self, key: str) -> str:
        return f"{self.prefix}:rate:{self.name}:{key}"

    def hit(self, key: str) -> float | None:
        """Take one token for `key`. None when allowed (or Redis is down), else the seconds until one is free."""
        if self.per_minute == 0:
            return None
        if self._clock() < self._down_until:
            self._fail_open(None)
            return None
        try:
            wait = float(self._hit(keys=[self.key(key)], args=[self.per_minute, repr(self._rate)]))
        except RedisError as e:
            self._fail_open(e)
            return None
        return wait if wait > 0 else None

    def _fail_open(self, error: Exception | None) -> None:
        now = self._clock()
        with self._lock:
            self.failed_open += 1
            if error is not None:
                self._down_until = now + RETRY_AFTER_FAILURE_SECONDS
            warn = error is not None and now - self._warned_at >= WARN_EVERY_SECONDS
            if warn:
                self._warned_at = now
        if warn:
            log.warning(
                "the %s rate limit is not applied: Redis did not answer (%s: %s) — requests are allowed until it "
                "answers again; check redis_url",
                self.name,
                type(error).__name__,
                error,
            )
