"""The cluster harness itself (server/testing.py): the history check finds every kind of damage, and the
generated HAProxy configuration is one haproxy accepts. No database or node needed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from server.testing import LoadTurn, balancer_error_file, check_histories, haproxy_config


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


def test_the_deploy_folder_configuration_is_valid(tmp_path: Path) -> None:
    """deploy/haproxy.cfg with the compose host names replaced by loopback (they resolve only in compose)."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (make cluster-deps)")
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    text = (deploy / "haproxy.cfg").read_text()
    text = text.replace("/usr/local/etc/haproxy/503.json.http", str(deploy / "503.json.http"))
    for node in ("bot1", "bot2", "bot3"):
        text = text.replace(f"{node}:8000", "127.0.0.1:8000")
    (tmp_path / "haproxy.cfg").write_text(text)
    checked = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
