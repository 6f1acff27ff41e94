"""PostgreSQL restarted under load: while it is away, messages fail fast with 503 in the API's JSON error shape
(from the node: `store_unavailable`; from HAProxy once every node's /readyz says so: `not_ready`), and the
cluster recovers by itself within 5 s of the database being back, with no acknowledged turn lost.

This test restarts the machine's PostgreSQL service: it is marked `restarts_postgres`, which
tests/cluster/conftest.py runs after every other test, and it starts PostgreSQL again whatever happens. Where
PostgreSQL is not a local `pg_ctlcluster` service it skips, and fails in CI (`CI` set), which must run it."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest

from server.testing import (
    check_histories,
    ensure_postgres_up,
    outage_check,
    pg_ctlcluster,
    postgres_service_problem,
    simulate_customers,
    user_messages,
)
from tests.cluster.conftest import Cluster, missing_requirement

pytestmark = [pytest.mark.cluster, pytest.mark.integration, pytest.mark.restarts_postgres]

CUSTOMERS = 8
SECONDS = 16.0
RESTART_AFTER_SECONDS = 4.0
FAIL_FAST_SECONDS = 2.5
RECOVERY_SECONDS = 5.0
CODES = {"store_unavailable", "not_ready"}


@pytest.fixture
def postgres_restartable() -> None:
    problem = postgres_service_problem()
    if problem is not None:
        missing_requirement(problem)


def test_postgres_restart_fails_fast_and_recovers(cluster: Cluster, postgres_restartable: None) -> None:
    cluster.ensure_all_up()
    prefix = f"pg-{uuid.uuid4().hex[:6]}"
    moments: dict[str, float] = {}
    restart: list[subprocess.CompletedProcess[str]] = []

    def restart_postgres() -> None:
        time.sleep(RESTART_AFTER_SECONDS)
        moments["restart"] = time.monotonic()
        try:
            restart.append(pg_ctlcluster("restart"))
        finally:
            moments["back"] = time.monotonic()

    restarter = threading.Thread(target=restart_postgres)
    try:
        restarter.start()
        turns = simulate_customers(cluster.url, customers=CUSTOMERS, seconds=SECONDS, prefix=prefix)
        restarter.join()
    finally:
        restarter.join()
        ensure_postgres_up()
    assert restart and restart[0].returncode == 0, restart[0].stderr if restart else "not restarted"

    back = moments["back"]
    outage = outage_check(turns, down=moments["restart"], back=back, codes=CODES, fail_fast_seconds=FAIL_FAST_SECONDS)
    print(
        f"PostgreSQL restart took {back - moments['restart']:.2f} s; {outage.turns} turns, {outage.errors} errors: "
        + json.dumps(sorted({f"{t.status} {t.error}" for t in turns if not t.acknowledged}))
        + f"; the last failure ended {outage.recovered_after} s after PostgreSQL was back"
    )
    assert outage.errors, "no request failed: PostgreSQL was not away long enough to test anything"
    assert outage.before_outage == [], "requests failed before PostgreSQL went away"
    assert outage.wrong == [], "failures that are not a 503 in the JSON error shape with Retry-After"
    assert outage.slow == [], f"503s that took more than {FAIL_FAST_SECONDS} s"
    assert outage.recovered_after is not None and outage.recovered_after <= RECOVERY_SECONDS
    assert outage.answered_after > 0, "nothing was answered after the restart"

    check = check_histories(turns, user_messages(cluster.database.url, prefix))
    assert check.ok, check
