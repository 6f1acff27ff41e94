"""Rate limits shared by every node through the real Redis, with the same `Retry-After` as one process's; and
failing open while Redis is down."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.coordination.connection import sync_client
from bot.coordination.rate_limits import RedisRateLimiter
from server.limits import Limits, RateLimited, RateLimiter, install_limits, make_limiter

pytestmark = pytest.mark.integration  # the real Redis at 127.0.0.1:6379

DOWN_URL = "redis://127.0.0.1:1/0"


def _limiter(real_redis: Any, per_minute: int, name: str = "sender") -> RedisRateLimiter:
    return RedisRateLimiter(sync_client(real_redis.url), per_minute, name=name, prefix=real_redis.prefix)


def test_two_nodes_share_one_budget_with_the_right_retry_after(real_redis: Any) -> None:
    node_a, node_b = _limiter(real_redis, 3), _limiter(real_redis, 3)
    assert [node_a.hit("alice"), node_b.hit("alice"), node_a.hit("alice")] == [None, None, None]
    wait = node_b.hit("alice")  # the 4th message, whichever node takes it
    assert wait is not None and 19.0 < wait <= 20.0  # 3 per minute: one token every 20 s
    local = RateLimiter(3)
    for _ in range(3):
        local.hit("alice")
    local_wait = local.hit("alice")
    assert (
        local_wait is not None
        and RateLimited("conversation", wait).seconds == RateLimited("conversation", local_wait).seconds == "20"
    )
    assert node_a.hit("bob") is None  # another key has its own bucket


def test_idle_buckets_vanish(real_redis: Any) -> None:
    limiter = _limiter(real_redis, 60)
    limiter.hit("carol")
    ttl = real_redis.client.pttl(limiter.key("carol"))
    assert 0 < ttl <= 2000  # one token taken of 60 per minute: full again after 1 s (+1 s margin)


def test_a_refill_allows_again(real_redis: Any) -> None:
    limiter = _limiter(real_redis, 60)  # one token a second
    for _ in range(60):
        limiter.hit("dave")
    wait = limiter.hit("dave")
    assert wait is not None and wait <= 1.0
    time.sleep(wait + 0.05)
    assert limiter.hit("dave") is None


def test_zero_disables(real_redis: Any) -> None:
    limiter = _limiter(real_redis, 0)
    assert all(limiter.hit("erin") is None for _ in range(5))
    assert real_redis.client.exists(limiter.key("erin")) == 0


def test_redis_down_fails_open_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(sync_client(DOWN_URL), 1, name="ip")
    caplog.set_level(logging.WARNING, "supportbot.coordination")
    started = time.monotonic()
    assert [limiter.hit("10.0.0.1") for _ in range(20)] == [None] * 20  # over the limit of 1, allowed anyway
    assert time.monotonic() - started < 1.0
    assert limiter.failed_open == 20
    warnings = [r for r in caplog.records if "rate limit is not applied" in r.getMessage()]
    assert len(warnings) == 1


def test_the_app_limits_live_in_redis_with_redis_url(real_redis: Any) -> None:
    settings = Settings(
        redis_url=real_redis.url,
        redis_key_prefix=real_redis.prefix,
        rate_limit_per_ip_per_minute=2,
        rate_limit_per_minute=5,
    )
    nodes = [_app(settings), _app(settings)]
    clients = [TestClient(app) for app in nodes]
    assert clients[0].get("/ping").status_code == 200
    assert clients[1].get("/ping").status_code == 200
    refused = clients[0].get("/ping")  # the same client address, on the other node
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.json()["error"]["code"] == "rate_limited"
    limits: Limits = nodes[1].state.limits
    assert isinstance(limits.per_sender, RedisRateLimiter)
    for _ in range(5):
        limits.take_message("frank")
    with pytest.raises(RateLimited) as over:
        nodes[0].state.limits.take_message("frank")
    assert over.value.headers == {"Retry-After": "12"}


def test_without_redis_each_process_keeps_its_own_limits() -> None:
    settings = Settings(rate_limit_per_minute=5)
    assert isinstance(make_limiter(settings, 5, "sender"), RateLimiter)
    assert isinstance(make_limiter(Settings(redis_url=DOWN_URL), 0, "sender"), RateLimiter)  # 0 = no limit at all


def _app(settings: Settings) -> FastAPI:
    app = FastAPI()
    install_limits(app, settings)

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    return app
