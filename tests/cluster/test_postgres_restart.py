"""PostgreSQL restarted under load: while it is away, messages fail fast with 503 in the API's JSON error shape
(from the node: `store_unavailable`; from HAProxy once every node's /readyz says so: `not_ready`), and the
cluster recovers by itself within 5 s of the database being back, with no acknowledged turn lost.

This test restarts the machine's PostgreSQL service: it is marked `restarts_postgres`, which
tests/cluster/conftest.py runs after every other test, and it starts PostgreSQL again whatever happens."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from server.testing import check_histories, postgres_problem, simulate_customers, user_messages
from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration, pytest.mark.restarts_postgres]

CUSTOMERS = 8
SECONDS = 16.0
RESTART_AFTER_SECONDS = 4.0
FAIL_FAST_SECONDS = 2.5
RECOVERY_SECONDS = 5.0
CODES = {"store_unavailable", "not_ready"}


def _pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def postgres_restartable() -> None:
    if not Path("/etc/postgresql").is_dir() or subprocess.run(["which", "pg_ctlcluster"], check=False).returncode:
        pytest.skip("PostgreSQL is not a local pg_ctlcluster service here: it cannot be restarted by the test")


def _ensure_postgres_up() -> None:
    for _ in range(30):
        if postgres_problem() is None:
            return
        _pg_ctl("start")
        time.sleep(1)
    raise AssertionError(f"PostgreSQL did not come back: {postgres_problem()}")


def test_postgres_restart_fails_fast_and_recovers(cluster: Cluster, postgres_restartable: None) -> None:
    cluster.ensure_all_up()
    prefix = f"pg-{uuid.uuid4().hex[:6]}"
    moments: dict[str, float] = {}
    restart: list[subprocess.CompletedProcess[str]] = []

    def restart_postgres() -> None:
        time.sleep(RESTART_AFTER_SECONDS)
        moments["restart"] = time.monotonic()
        try:
            restart.append(_pg_ctl("restart"))
        finally:
            moments["back"] = time.monotonic()

    restarter = threading.Thread(target=restart_postgres)
    try:
        restarter.start()
        turns = simulate_customers(cluster.url, customers=CUSTOMERS, seconds=SECONDS, prefix=prefix)
        restarter.join()
    finally:
        restarter.join()
        _ensure_postgres_up()
    assert restart and restart[0].returncode == 0, restart[0].stderr if restart else "not restarted"

    back = moments["back"]
    errors = [t for t in turns if not t.acknowledged]
    print(
        f"PostgreSQL restart took {back - moments['restart']:.2f} s; {len(turns)} turns, {len(errors)} errors: "
        + json.dumps(sorted({f"{t.status} {t.error}" for t in errors}))
    )
    assert errors, "no request failed: PostgreSQL was not away long enough to test anything"
    wrong = [(t.status, t.error) for t in errors if t.status != 503 or t.error not in CODES]
    assert wrong == [], "failures that are not a 503 in the JSON error shape"
    slow = [round(t.ended - t.started, 2) for t in errors if t.ended - t.started > FAIL_FAST_SECONDS]
    assert slow == [], f"503s that took more than {FAIL_FAST_SECONDS} s"
    recovered_after = max(t.ended for t in errors) - back
    print(f"the last failure ended {recovered_after:+.2f} s after PostgreSQL was back")
    assert recovered_after <= RECOVERY_SECONDS
    assert any(t.acknowledged and t.started > back for t in turns), "nothing was answered after the restart"

    check = check_histories(turns, user_messages(cluster.database.url, prefix))
    assert check.ok, check
