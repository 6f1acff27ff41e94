"""Redis clients for coordination. They time out fast and never retry behind the caller's back: a turn that
cannot take its lock is refused at once (503, sent again by the client), and a rate limit fails open, rather
than a request hanging while Redis is down."""

from __future__ import annotations

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

CONNECT_TIMEOUT_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 2.0

RedisError = redis.RedisError


def sync_client(url: str, *, timeout: float = COMMAND_TIMEOUT_SECONDS) -> redis.Redis:
    """A thread-safe client (a connection pool) for `url` (`redis://host:port/db`, `rediss://…`)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=min(CONNECT_TIMEOUT_SECONDS, timeout),
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def async_client(url: str) -> redis.asyncio.Redis:
    """An asyncio client for `url`; its pub/sub waits for messages without a read timeout."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        retry=AsyncRetry(NoBackoff(), 0),
        health_check_interval=30,
    )


def shown(url: str) -> str:
    """`url` without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':***@' if user else '***@'}{host}"
