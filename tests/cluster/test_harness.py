"""The cluster harness itself (server/testing.py): the history check finds every kind of damage, and the
generated HAProxy configuration is one haproxy accepts. No database or node needed. deploy/'s files:
test_deploy_files.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from server.testing import (
    LoadTurn,
    RedisProcess,
    balancer_error_file,
    check_histories,
    haproxy_config,
    outage_check,
)


def turn(sender: str, text: str, at: float, status: int | None = 200) -> LoadTurn:
    return LoadTurn(sender, text, at, at + 0.1, status)


SENT = [turn("a", "a0", 0), turn("a", "a1", 1), turn("a", "a2", 2, status=None), turn("b", "b0", 0.5)]


def test_a_clean_history_passes_and_an_unacknowledged_turn_may_be_missing() -> None:
    check = check_histories(SENT, {"a": ["a0", "a1"], "b": ["b0"]})
    assert check.ok and check.acknowledged == 3
    assert check_histories(SENT, {"a": ["a0", "a1", "a2"], "b": ["b0"]}).ok  # saved, then the node died


@pytest.mark.parametrize(
    ("histories", "problem", "expected"),
    [
        ({"a": ["a0"], "b": ["b0"]}, "lost", ["a1"]),
        ({"a": ["a0", "a1", "a1"], "b": ["b0"]}, "duplicated", ["a1"]),
        ({"a": ["a1", "a0"], "b": ["b0"]}, "out_of_order", ["a"]),
        ({"a": ["a0", "a1", "zz"], "b": ["b0"]}, "unexpected", ["zz"]),
        ({"a": ["a0", "a1", "a2", "a2"], "b": ["b0"]}, "duplicated", ["a2"]),
    ],
)
def test_each_kind_of_damage_is_found(histories: dict[str, list[str]], problem: str, expected: list[str]) -> None:
    check = check_histories(SENT, histories)
    assert not check.ok
    assert getattr(check, problem) == expected


def test_a_turn_in_flight_is_one_that_overlaps_the_death() -> None:
    assert turn("a", "x", 1.0).in_flight_during(1.05, 1.2)
    assert not turn("a", "x", 1.0).in_flight_during(1.2, 1.3)
    assert not turn("a", "x", 1.5).in_flight_during(1.2, 1.3)


def test_haproxy_accepts_the_generated_configuration(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (make cluster-deps)")
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config([8001, 8002], port=8000, error_file=balancer_error_file(tmp_path / "503.http")))
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = config.read_text()
    assert "balance roundrobin" in text and "httpchk GET /readyz" in text and "cookie" not in text


def failed(
    at: float, took: float = 0.01, status: int = 503, code: str = "store_unavailable", retry: str = "1"
) -> LoadTurn:
    return LoadTurn("c", f"t{at}", at, at + took, status, "node0", code, retry)


def test_an_outage_that_failed_fast_in_the_error_shape_and_recovered_passes() -> None:
    turns = [turn("c", "t0", 0), failed(10.0), failed(10.5), turn("c", "t12", 12.2)]
    check = outage_check(turns, down=9.9, back=12.0, codes={"store_unavailable"}, fail_fast_seconds=2.5)
    assert check.ok(recovery_seconds=5.0) and check.errors == 2 and check.answered_after == 1
    assert check.recovered_after == -1.49


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (failed(5.0), "before_outage"),
        (failed(10.0, status=500, code="internal_error"), "wrong"),
        (failed(10.0, code="not_ready", retry=""), "wrong"),
        (failed(10.0, took=3.0), "slow"),
        (failed(17.5), "recovered_after"),
    ],
)
def test_each_way_an_outage_can_go_wrong_is_found(bad: LoadTurn, problem: str) -> None:
    turns = [turn("c", "t0", 0), failed(10.0), bad, turn("c", "t19", 19.0)]
    check = outage_check(turns, down=9.9, back=12.0, codes={"store_unavailable"}, fail_fast_seconds=2.5)
    assert not check.ok(recovery_seconds=5.0)
    assert getattr(check, problem)


def test_a_private_redis_restarts_empty_on_the_same_port(tmp_path: Path) -> None:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    import redis

    with RedisProcess(server, log=tmp_path / "redis.log") as private:
        assert private.port != 6379 and private.url == f"redis://127.0.0.1:{private.port}/0"
        client = redis.Redis.from_url(private.url)
        client.set("kept", "1")
        private.stop()
        assert not private.ping()
        private.start()
        assert private.ping() and client.get("kept") is None
        client.close()
    assert not private.ping()
