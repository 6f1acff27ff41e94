"""The files of deploy/ that docs/deploy.md tells an operator to use: compose.yaml (PostgreSQL, Redis, the
prepare step, N nodes, HAProxy, and the env file it needs), haproxy.cfg (valid for haproxy, one server line
per node), and the systemd unit (runs `supportbot serve`, stops it gracefully; `systemd-analyze verify` when
the machine has it). No database, node or Docker needed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCS = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
DRAIN_SECONDS = float(Settings.model_fields["shutdown_timeout_seconds"].default)
EXIT_AFTER_DRAIN_SECONDS = 3.0  # docs/deploy.md: a node exits within about shutdown_timeout_seconds + 3 s


# -- compose.yaml -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # `<<:` merges the node template
    assert isinstance(data, dict)
    return data


def nodes_of(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bot nodes: the services built from deploy/Dockerfile that serve (all but the one-shot `prepare`)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile" and name != "prepare"
    }


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value for key, value in pairs}


def test_compose_has_postgres_redis_the_prepare_step_nodes_and_the_balancer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "prepare", "haproxy"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["haproxy"]["image"].startswith("haproxy:")
    nodes = nodes_of(compose)
    assert len(nodes) >= 2, sorted(services)
    assert sorted(nodes) == [f"bot{i}" for i in range(1, len(nodes) + 1)]
    assert sorted(services["haproxy"]["depends_on"]) == sorted(nodes)
    assert services["prepare"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for service in nodes.values():
        assert service["depends_on"] == {"prepare": {"condition": "service_completed_successfully"}}


def test_every_node_gets_the_shared_database_and_redis(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]["environment"]
    for name, service in nodes_of(compose).items():
        env = service["environment"]
        database = make_url(env["SUPPORTBOT_DATABASE_URL"].replace("${POSTGRES_PASSWORD}", "secret"))
        assert (database.drivername, database.host, database.port) == ("postgresql+psycopg", "postgres", 5432), name
        assert (database.username, database.database) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]), name
        redis = urlparse(env["SUPPORTBOT_REDIS_URL"])
        assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379), name
        assert service["env_file"] == ".env", name
        assert service["healthcheck"]["test"][-1].count("/readyz") == 1, name


def test_the_env_file_compose_needs_is_documented_and_complete(compose: dict[str, Any]) -> None:
    """deploy/.env is made from deploy/env.example as docs/deploy.md says, and holds every variable compose.yaml
    substitutes; every key in it is documented and, for SUPPORTBOT_*, a real setting."""
    assert "cp deploy/env.example deploy/.env" in DOCS
    example = env_example()
    substituted = set(re.findall(r"\$\{(\w+)", (DEPLOY / "compose.yaml").read_text(encoding="utf-8")))
    assert substituted and substituted <= set(example), sorted(substituted - set(example))
    assert "SUPPORTBOT_SECRET_KEY" in example  # a token one node issued must be accepted by the next
    assert [key for key in example if key not in DOCS] == []
    node_keys = {key for service in nodes_of(compose).values() for key in service["environment"]}
    settings = {f"SUPPORTBOT_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(key for key in node_keys | set(example) if key.startswith("SUPPORTBOT_") and key not in settings)
    assert unknown == [], "not a setting of bot/config.py"


def test_compose_gives_the_nodes_time_to_drain(compose: dict[str, Any]) -> None:
    for name, service in nodes_of(compose).items():
        grace = service["stop_grace_period"]
        assert grace.endswith("s"), grace
        assert float(grace[:-1]) > DRAIN_SECONDS + EXIT_AFTER_DRAIN_SECONDS, name
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "STOPSIGNAL SIGTERM" in dockerfile
    assert 'CMD ["supportbot", "serve"' in dockerfile


def test_the_balancer_has_one_server_line_per_node(compose: dict[str, Any]) -> None:
    config = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    nodes = sorted(nodes_of(compose))
    for backend in re.split(r"\nbackend ", config)[1:]:
        assert sorted(re.findall(r"^\s+server \S+ (\w+):8000 ", backend, re.MULTILINE)) == nodes
        assert "option httpchk GET /readyz" in backend
    mounted = [volume.split(":")[0] for volume in compose["services"]["haproxy"]["volumes"]]
    assert all((DEPLOY / path).is_file() for path in mounted), mounted


def test_the_deploy_folder_haproxy_configuration_is_valid(tmp_path: Path) -> None:
    """deploy/haproxy.cfg with the compose host names replaced by loopback (they resolve only in compose)."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (make cluster-deps)")
    text = (DEPLOY / "haproxy.cfg").read_text()
    text = text.replace("/usr/local/etc/haproxy/503.json.http", str(DEPLOY / "503.json.http"))
    for node in ("bot1", "bot2", "bot3"):
        text = text.replace(f"{node}:8000", "127.0.0.1:8000")
    (tmp_path / "haproxy.cfg").write_text(text)
    checked = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- supportbot.service -------------------------------------------------------------------------------------------
UNIT = DEPLOY / "supportbot.service"


def unit_keys() -> dict[str, dict[str, list[str]]]:
    """section → key → its values (systemd allows a key more than once, e.g. `Environment=`)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_unit_runs_supportbot_serve() -> None:
    service = unit_keys()["Service"]
    [exec_start] = service["ExecStart"]
    command = shlex.split(exec_start)
    assert Path(command[0]).is_absolute() and Path(command[0]).name == "supportbot"
    assert command[1] == "serve"
    assert service["Type"] == ["exec"]
    [environment_file] = service["EnvironmentFile"]
    assert environment_file.lstrip("-") in DOCS  # the operator is told where the settings go
    assert unit_keys()["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_unit_stops_the_node_gracefully() -> None:
    """SIGTERM starts the drain; systemd's SIGKILL comes only after TimeoutStopSec, which must outlast it."""
    service = unit_keys()["Service"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["KillMode"][0] in {"mixed", "control-group"}  # the main process gets SIGTERM, not SIGKILL
    [timeout] = service["TimeoutStopSec"]
    assert re.fullmatch(r"\d+s?", timeout), timeout
    assert int(timeout.rstrip("s")) > DRAIN_SECONDS + EXIT_AFTER_DRAIN_SECONDS
    assert f"TimeoutStopSec={timeout}" in DOCS


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify`, with ExecStart pointed at this checkout's `supportbot` (the unit's path exists
    only on an installed node): no error and no warning (an unknown key is only a warning)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit's keys are checked above")
    installed = Path(sys.executable).parent / "supportbot"
    if not installed.is_file():
        pytest.skip(f"no supportbot script at {installed} (pip install -e .)")
    [exec_start] = unit_keys()["Service"]["ExecStart"]
    unit = tmp_path / "supportbot.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(shlex.split(exec_start)[0], str(installed)))
    checked = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), checked.stdout + checked.stderr
