"""Simulated customers talk through HAProxy while one node is killed with SIGKILL and restarted: every turn a
customer saw acknowledged is in the conversation's history in PostgreSQL exactly once and in order, and the
only errors are the requests that were in flight when the node died (counted). The long run (64 customers,
60 s) is `benchmarks/cluster.py`; this one is short."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from server.testing import check_histories, simulate_customers, user_messages
from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

CUSTOMERS = 16
SECONDS = 20.0
KILL_AFTER_SECONDS = 6.0
VICTIM = 1


def test_no_acknowledged_turn_is_lost_when_a_node_is_killed(cluster: Cluster) -> None:
    cluster.ensure_all_up()
    prefix = f"kill-{uuid.uuid4().hex[:6]}"
    killed_at: list[float] = []

    def kill_then_restart() -> None:
        time.sleep(KILL_AFTER_SECONDS)
        killed_at.append(time.monotonic())
        cluster.nodes.kill(VICTIM)
        killed_at.append(time.monotonic())  # the process is gone (a big process takes ~0.1 s to die)
        cluster.nodes.launch(VICTIM)  # started again at once; the balancer sends it work once /readyz says so

    killer = threading.Thread(target=kill_then_restart)
    killer.start()
    turns = simulate_customers(cluster.url, customers=CUSTOMERS, seconds=SECONDS, prefix=prefix)
    killer.join()
    cluster.ensure_all_up()

    kill, dead = killed_at
    errors = [t for t in turns if not t.acknowledged]
    in_flight = [t for t in turns if t.in_flight_during(kill, dead)]
    served_by_victim = [t for t in turns if t.node == f"node{VICTIM}" and t.started > kill]
    print(
        f"{len(turns)} turns, {sum(t.acknowledged for t in turns)} acknowledged, {len(errors)} errors, "
        f"{len(in_flight)} in flight at the kill, {len(served_by_victim)} answered by the restarted node"
    )
    assert sum(t.acknowledged for t in turns) > CUSTOMERS * 3, "the load hardly ran"
    print("errors:", [(t.status, t.error, f"{t.started - kill:+.2f}..{t.ended - kill:+.2f} s") for t in errors])
    strays = [
        (t.text, t.status, t.error, f"{t.started - kill:+.2f}..{t.ended - kill:+.2f} s from the kill")
        for t in errors
        if not t.in_flight_during(kill, dead)
    ]
    assert strays == [], "errors outside the requests in flight on the killed node"
    assert len(errors) <= len(in_flight)

    check = check_histories(turns, user_messages(cluster.database.url, prefix))
    assert check.lost == [], "acknowledged turns missing from the history"
    assert check.duplicated == [], "turns applied twice"
    assert check.out_of_order == [], "turns applied out of order"
    assert check.unexpected == []
