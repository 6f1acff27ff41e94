"""Cluster fixtures: several real bot nodes sharing PostgreSQL, behind Debian's HAProxy, on loopback.

* `postgres_database`: a fresh database `supportbot_cluster_<random>` on 127.0.0.1:5432, dropped at the end;
* `shared_dirs`: a copy of the repository's knowledge/ (the folder every node reads; tests edit it), the model
  store (trained models by content hash: `prepare_cluster` trains once and publishes there, every node fetches
  from it) and the state folders: with Redis each node has its own, as on separate machines (it rebuilds its
  FAISS index and fetches the model); without Redis they share one (its file locks are the per-conversation lock);
* `cluster`: 3 `supportbot serve` nodes with `SUPPORTBOT_DATABASE_URL=postgresql+psycopg://…`, HAProxy in front
  (round-robin, no stickiness, health checks on /readyz). `SUPPORTBOT_CLUSTER_REDIS_URL` (`.ci/run` sets it to
  the machine's Redis) or `SUPPORTBOT_REDIS_URL`, when set, is passed to every node: the nodes then coordinate
  through Redis (locks with fencing, reload broadcast, shared limits) as on several machines.

* `redis_cluster`: 2 more nodes (own database, same shared folders) coordinating through a PRIVATE
  `redis-server` on a free port (`RedisProcess`), which a test may stop and start again; the machine's Redis
  on 6379 is never restarted (other processes use it).

PostgreSQL, haproxy and redis-server are services or packages of the machine (`make cluster-deps` installs
haproxy). Missing, the tests skip locally and FAIL in CI (`CI` set), like the browser tests without chromium
(`missing_requirement`). Node logs go to `test-artifacts/cluster/`.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.testing import (
    ClusterNodes,
    HaproxyProcess,
    PostgresDatabase,
    RedisProcess,
    ServerNotReady,
    balancer_error_file,
    cluster_environment,
    free_port,
    haproxy_config,
    postgres_problem,
    prepare_cluster,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "cluster"
NODES = 3
READY_TIMEOUT_SECONDS = 300


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: several real nodes behind HAProxy, sharing PostgreSQL")
    config.addinivalue_line("markers", "restarts_postgres: restarts the machine's PostgreSQL (runs last)")


def missing_requirement(what: str) -> None:
    """Skip the test, or fail it when `CI` is set: CI must run the cluster tests, not skip them."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI must provide it for the cluster tests (docs/deploy.md)", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="session")
def haproxy_path() -> str:
    path = shutil.which("haproxy")
    if path is None:
        missing_requirement("haproxy is not installed (run `make cluster-deps`)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    problem = postgres_problem()
    if problem is not None:
        missing_requirement(problem)
    with PostgresDatabase() as database:
        yield database


@dataclass(frozen=True)
class SharedDirs:
    knowledge: Path
    state: Path
    """the prepare step's state folder; the nodes' own (`nodes/node<i>`) when they coordinate through Redis"""
    models: Path
    """the model store every node fetches the trained model from, by content hash"""
    nodes: Path


@pytest.fixture(scope="session")
def shared_dirs(tmp_path_factory: pytest.TempPathFactory) -> SharedDirs:
    base = tmp_path_factory.mktemp("cluster")
    knowledge = base / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    state = base / "state"
    state.mkdir()
    models = base / "model-store"
    store = Path(os.environ.get("SUPPORTBOT_MODEL_STORE", ROOT / ".supportbot" / "model-store"))
    if store.is_dir():  # models are keyed by the hash of their data: one trained for the same data is reused
        shutil.copytree(store, models)
    models.mkdir(exist_ok=True)
    return SharedDirs(knowledge, state, models, base / "nodes")


@dataclass
class Cluster:
    """The balancer's URL, the nodes (to kill and restart) and the database they share."""

    url: str
    nodes: ClusterNodes
    database: PostgresDatabase
    dirs: SharedDirs

    def node_url(self, index: int) -> str:
        return self.nodes.node(index).url

    def ensure_all_up(self) -> None:
        """Restart any node a test left stopped, and wait until the balancer sees every node ready."""
        for index, node in enumerate(self.nodes.nodes):
            if node is None or node.process.poll() is not None:
                self.nodes.nodes[index] = None
                self.nodes.restart(index, READY_TIMEOUT_SECONDS)
        for index in range(len(self.nodes.ports)):
            self.nodes.node(index).wait_ready(READY_TIMEOUT_SECONDS)


def node_environment(
    database: PostgresDatabase, dirs: SharedDirs, redis_url: str | None, **settings: str
) -> dict[str, str]:
    """What every node of a test cluster gets (`cluster_environment`), plus `settings`."""
    defaults = {
        "rate_limit_per_minute": "0",
        "rate_limit_per_ip_per_minute": "0",
        "learning_retrain": "false",
        "encoder_threads": "1",
        "turn_threads": "4",
    }
    return cluster_environment(
        os.environ,
        project_dir=ROOT,
        state_dir=dirs.state,
        knowledge_dir=dirs.knowledge,
        database_url=database.url,
        secret_key=secrets.token_urlsafe(32),
        redis_url=redis_url,
        embedding_cache=str(ROOT / ".supportbot" / "cache" / "embeddings.sqlite"),
        model_store=str(dirs.models),
        **(defaults | settings),
    )


@contextmanager
def running_cluster(
    haproxy_path: str, env: Mapping[str, str], count: int, logs: Path, own_state: Path | None = None
) -> Iterator[tuple[str, ClusterNodes]]:
    """Prepare once, start `count` nodes with `env` and HAProxy in front; the balancer's URL and the nodes.
    A failure to start fails the test with the first line of the cause and where the logs are."""
    logs.mkdir(parents=True, exist_ok=True)
    try:
        prepare_cluster(env, cwd=ROOT, log=logs / "prepare.log")
    except ServerNotReady as e:
        pytest.fail(str(e), pytrace=False)
    nodes = ClusterNodes(count, env, logs=logs, cwd=ROOT, own_state=own_state)
    port = free_port()
    config = haproxy_config(nodes.ports, port=port, error_file=balancer_error_file(logs / "503.http"))
    try:
        with nodes, HaproxyProcess(haproxy_path, config, port=port, config_path=logs / "haproxy.cfg") as proxy:
            _wait_balanced(proxy.url, count)
            yield proxy.url, nodes
    except ServerNotReady as e:
        pytest.fail(f"{str(e).splitlines()[0]}; see {logs}", pytrace=False)


@pytest.fixture(scope="session")
def cluster(haproxy_path: str, postgres_database: PostgresDatabase, shared_dirs: SharedDirs) -> Iterator[Cluster]:
    redis_url = os.environ.get("SUPPORTBOT_CLUSTER_REDIS_URL") or os.environ.get("SUPPORTBOT_REDIS_URL")
    env = node_environment(postgres_database, shared_dirs, redis_url)
    # with Redis the nodes are as on separate machines: each its own state folder, sharing only the database,
    # Redis, the knowledge folder and the model store; without it they share the state folder's file locks
    own = shared_dirs.nodes if redis_url else None
    with running_cluster(haproxy_path, env, NODES, ARTIFACTS, own) as (url, nodes):
        yield Cluster(url, nodes, postgres_database, shared_dirs)


@dataclass
class RedisCluster(Cluster):
    """A cluster whose nodes coordinate through a Redis of its own, which a test may stop and start again."""

    redis: RedisProcess


REDIS_CLUSTER_NODES = 2


@pytest.fixture(scope="module")
def redis_cluster(haproxy_path: str, shared_dirs: SharedDirs) -> Iterator[RedisCluster]:
    """2 nodes and HAProxy, with their own database and a private `redis-server` on a free port. Rate limits
    are on (high enough never to refuse this load) so that their fail-open path runs while Redis is away."""
    server = shutil.which("redis-server")
    if server is None:
        missing_requirement("redis-server is not installed (apt-get install redis-server)")
    assert server is not None
    problem = postgres_problem()
    if problem is not None:
        missing_requirement(problem)
    logs = ARTIFACTS / "redis-restart"
    logs.mkdir(parents=True, exist_ok=True)
    with PostgresDatabase() as database, RedisProcess(server, log=logs / "redis.log") as redis:
        env = node_environment(
            database,
            shared_dirs,
            redis.url,
            rate_limit_per_minute="100000",
            rate_limit_per_ip_per_minute="100000",
        )
        with running_cluster(haproxy_path, env, REDIS_CLUSTER_NODES, logs, shared_dirs.nodes / "redis") as (
            url,
            nodes,
        ):
            yield RedisCluster(url, nodes, database, shared_dirs, redis)


def _wait_balanced(url: str, count: int, timeout: float = 30) -> None:
    """Until HAProxy has seen every node healthy: `count` successive /readyz answers from `count` nodes."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        seen = {httpx.get(f"{url}/readyz", timeout=5).headers.get("x-supportbot-node") for _ in range(count)}
        if len(seen - {None}) == count:
            return
        if time.monotonic() > deadline:
            raise ServerNotReady(f"HAProxy at {url} sent /readyz to {sorted(seen - {None})}, not {count} nodes")
        time.sleep(0.2)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test that restarts PostgreSQL runs after every other one (other tests may use the database)."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_postgres") is not None)
