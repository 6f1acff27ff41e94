"""Redis restarted under load (docs/deploy.md, "Redis: what it coordinates, what happens when it is down"):
while it is away, turns fail fast with 503 `store_unavailable` in the API's JSON error shape with `Retry-After`
(a conversation's lock cannot be taken; the shared rate limits fail open, so nothing else refuses them), and
they succeed again by themselves within 5 s of Redis being back, with no acknowledged turn lost, duplicated or
out of order.

The Redis is the `redis_cluster`'s own `redis-server` on a free port (tests/cluster/conftest.py): stopping
it disturbs nobody else. Like a Redis run without persistence, it comes back empty (no locks, no fencing
counter): the fencing tokens must still grow, or the store would refuse the writes that follow."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from server.testing import check_histories, outage_check, simulate_customers, user_messages
from tests.cluster.conftest import RedisCluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

CUSTOMERS = 8
SECONDS = 16.0
STOP_AFTER_SECONDS = 4.0
DOWN_SECONDS = 3.0
FAIL_FAST_SECONDS = 2.5
RECOVERY_SECONDS = 5.0
CODES = {"store_unavailable"}  # /readyz does not depend on Redis: the nodes stay in the pool and answer


def test_redis_restart_fails_fast_and_recovers(redis_cluster: RedisCluster) -> None:
    redis_cluster.ensure_all_up()
    prefix = f"redis-{uuid.uuid4().hex[:6]}"
    moments: dict[str, float] = {}

    def restart_redis() -> None:
        time.sleep(STOP_AFTER_SECONDS)
        moments["down"] = time.monotonic()
        redis_cluster.redis.stop()
        time.sleep(DOWN_SECONDS)
        redis_cluster.redis.start()  # returns once it answers PING
        moments["back"] = time.monotonic()

    restarter = threading.Thread(target=restart_redis)
    try:
        restarter.start()
        turns = simulate_customers(redis_cluster.url, customers=CUSTOMERS, seconds=SECONDS, prefix=prefix)
    finally:
        restarter.join()
        if not redis_cluster.redis.ping():
            redis_cluster.redis.start()
    assert {"down", "back"} <= set(moments), "Redis was not restarted"

    outage = outage_check(
        turns, down=moments["down"], back=moments["back"], codes=CODES, fail_fast_seconds=FAIL_FAST_SECONDS
    )
    print(
        f"Redis away {moments['back'] - moments['down']:.2f} s; {outage.turns} turns, {outage.errors} errors: "
        + json.dumps(sorted({f"{t.status} {t.error}" for t in turns if not t.acknowledged}))
        + f"; the last failure ended {outage.recovered_after} s after Redis was back"
    )
    assert outage.errors, "no request failed while Redis was away: the nodes did not use it"
    assert outage.before_outage == [], "requests failed before Redis went away"
    assert outage.wrong == [], "failures that are not a 503 store_unavailable in the JSON error shape"
    assert outage.slow == [], f"503s that took more than {FAIL_FAST_SECONDS} s"
    assert outage.recovered_after is not None and outage.recovered_after <= RECOVERY_SECONDS
    assert outage.answered_after > CUSTOMERS, "hardly anything was answered after Redis came back"

    check = check_histories(turns, user_messages(redis_cluster.database.url, prefix))
    assert check.ok, check
