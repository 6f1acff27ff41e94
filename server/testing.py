"""Run a supportbot server for tests, benchmarks and scripts, and wait until `/readyz` says it is ready.

    with ServerProcess(serve_command(port := free_port()), port=port, env=env, log=path) as server:
        server.wait_ready(timeout=300)        # a subprocess: `supportbot serve` or uvicorn's factory
        httpx.post(f"{server.url}/chat", ...)

    with ServerThread(create_app(settings)) as url:   # uvicorn in a thread of this process
        ...

A server that exits or is not ready in time raises `ServerNotReady`, whose message ends with the tail of
the server's log when there is one. Everything listens on loopback only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, LiteralString

import httpx

HOST = "127.0.0.1"


class ServerNotReady(RuntimeError):
    """The server exited, or did not answer 200 on /readyz in time."""


def free_port() -> int:
    """A port nothing listens on right now (on loopback)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    url: str,
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    ready: Callable[[], bool] = lambda: True,
    log: Callable[[], str] = lambda: "",
) -> float:
    """Poll `GET {url}/readyz` until it answers 200 and `ready()` holds; return the seconds it took.
    Raises ServerNotReady as soon as `alive()` turns false, or after `timeout` seconds."""
    started = time.monotonic()
    while True:
        if not alive():
            raise ServerNotReady(f"the server at {url} exited before it was ready{_tail(log())}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200 and ready():
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        if time.monotonic() - started > timeout:
            raise ServerNotReady(f"the server at {url} was not ready after {timeout:.0f} s{_tail(log())}")
        time.sleep(0.2)


def _tail(log: str) -> str:
    return f"; its log ends with:\n{log[-3000:]}" if log.strip() else ""


def serve_command(port: int, *, workers: int | None = None) -> list[str]:
    """`supportbot serve` on `port` (its settings come from the environment)."""
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
    return [*command, "--workers", str(workers)] if workers is not None else command


def uvicorn_command(port: int) -> list[str]:
    """uvicorn running the app factory `server.app:create_app` on `port`, without access logs."""
    return [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory", "--host", HOST, "--port", str(port),
            "--no-access-log"]  # fmt: skip


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL when `process` has not exited after `timeout` seconds; returns once it is gone."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerProcess:
    """`command` in a subprocess serving on `port`; its stdout and stderr go to `log` (else nowhere)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log: Path | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log_path = log
        self._log: IO[str] | None = log.open("w") if log is not None else None
        output = self._log if self._log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env) if env is not None else None, stdout=output, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float, *, ready: Callable[[], bool] = lambda: True) -> float:
        """Seconds until /readyz answered 200 (and `ready()` held); ServerNotReady if it exits or times out."""
        return wait_ready(
            self.url, timeout=timeout, alive=lambda: self.process.poll() is None, ready=ready, log=self.log_text
        )

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path is not None else ""

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, then SIGKILL when the server has not exited after `timeout` seconds."""
        terminate(self.process, timeout)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class ServerThread:
    """uvicorn serving `app` in a thread of this process, on a free loopback port; `with` gives its URL.

    With the lifespan on, entering waits for /readyz (the real model loads); with it off (a test that
    sets `app.state.assistant` itself), for the socket to listen."""

    def __init__(self, app: Any, *, lifespan: bool = True, timeout: float = 180) -> None:
        import uvicorn

        self.timeout = timeout
        self.lifespan = lifespan
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.url = f"http://{HOST}:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app,
            lifespan="on" if lifespan else "off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        if self.lifespan:
            wait_ready(self.url, timeout=self.timeout, alive=self.thread.is_alive)
            return self.url
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServerNotReady(f"the test server at {self.url} did not start")
            time.sleep(0.005)
        return self.url

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


# -- several nodes behind a load balancer (tests/cluster, benchmarks/cluster.py, docs/deploy.md) ----------------
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class PostgresDatabase:
    """A fresh PostgreSQL database (`<prefix>_<random>`) created through `admin_url`, dropped on exit (the
    connections still open to it are ended first). `url` is its SQLAlchemy URL for `SUPPORTBOT_DATABASE_URL`.

        with PostgresDatabase() as database:
            env["SUPPORTBOT_DATABASE_URL"] = database.url
    """

    def __init__(self, *, admin_url: str = POSTGRES_ADMIN_URL, prefix: str = "supportbot_cluster") -> None:
        import secrets

        self.admin_url = admin_url
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        base, _, _ = admin_url.rpartition("/")
        self.dsn = f"{base}/{self.name}"
        self.url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{self.name}"

    def _admin(self, statement: LiteralString) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def create(self) -> PostgresDatabase:
        self._admin("CREATE DATABASE {}")
        return self

    def drop(self) -> None:
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")

    def __enter__(self) -> PostgresDatabase:
        return self.create()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.drop()


def postgres_problem(admin_url: str = POSTGRES_ADMIN_URL) -> str | None:
    """Why PostgreSQL cannot be used for a cluster run (psycopg missing, server unreachable), or None."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return f"PostgreSQL is not reachable at {admin_url}: {str(e).strip().splitlines()[0]}"
    return None


def postgres_service_problem() -> str | None:
    """Why the machine's PostgreSQL cannot be restarted here (it is not a local `pg_ctlcluster` service), or None."""
    import shutil

    if not Path("/etc/postgresql").is_dir() or shutil.which("pg_ctlcluster") is None:
        return "PostgreSQL is not a local pg_ctlcluster service here: it cannot be restarted"
    return None


def pg_ctlcluster(action: str) -> subprocess.CompletedProcess[str]:
    """`pg_ctlcluster <newest version> main <action>` (start, restart) on the machine's PostgreSQL: other
    processes of the machine use it too, so a restart is for the tests and benchmark that mean it."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def ensure_postgres_up(attempts: int = 30) -> None:
    """Start the machine's PostgreSQL until it answers (after a restart that went wrong); AssertionError if not."""
    for _ in range(attempts):
        if postgres_problem() is None:
            return
        pg_ctlcluster("start")
        time.sleep(1)
    raise AssertionError(f"PostgreSQL did not come back: {postgres_problem()}")


def haproxy_config(
    node_ports: Sequence[int], *, port: int, error_file: Path | None = None, check_interval_ms: int = 500
) -> str:
    """An HAProxy configuration: `port` on loopback balanced round-robin (no stickiness) over the nodes,
    each health-checked with `GET /readyz` every `check_interval_ms` (down after 2 failures, up after 1
    success). A request never sent to a node is redispatched to another (`retries`, `option redispatch`);
    one that reached a node that then died is NOT replayed (a turn is not idempotent): the client sees 502.
    `/socket.io/` is balanced by client address (engine.io long-polling needs every request of a connection on
    the node that opened it; deploy/haproxy.cfg does the same).
    Every answer names the node that gave it in `X-Supportbot-Node`. With `error_file` (`balancer_error_file`),
    HAProxy's own 503 (no node ready) is the API's JSON error shape."""
    servers = "\n".join(
        f"    server node{index} {HOST}:{node_port} check inter {check_interval_ms} fall 2 rise 1"
        for index, node_port in enumerate(node_ports)
    )
    errorfile = f"    errorfile 503 {error_file}\n" if error_file is not None else ""
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    retries 2
    option redispatch
    option http-server-close
{errorfile}
frontend supportbot
    bind {HOST}:{port}
    use_backend socketio if {{ path_beg /socket.io/ }}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    http-response set-header X-Supportbot-Node %s
{servers}

backend socketio
    balance source
    hash-type consistent
    option httpchk GET /readyz
    http-check expect status 200
    http-response set-header X-Supportbot-Node %s
{servers}
"""


BALANCER_UNAVAILABLE = {
    "error": {
        "code": "not_ready",
        "message": "No server can take the message now (all are starting or cannot reach the database): send it "
        "again after Retry-After seconds.",
    }
}


def balancer_error_file(path: Path) -> Path:
    """An HAProxy `errorfile` for its own 503: the API's JSON error shape with `Retry-After: 1`."""
    import json

    body = json.dumps(BALANCER_UNAVAILABLE)
    path.write_bytes(
        (
            "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nRetry-After: 1\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
    )
    return path


class HaproxyProcess:
    """HAProxy (`executable`, Debian's `haproxy`) in the foreground with `config` written to `config_path`;
    `url` is its frontend. Entering waits until the frontend accepts connections."""

    def __init__(self, executable: str, config: str, *, port: int, config_path: Path, log: Path | None = None) -> None:
        config_path.write_text(config)
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log_path = log
        self._log: IO[str] | None = log.open("w") if log is not None else None
        output = self._log if self._log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [executable, "-db", "-f", str(config_path)], stdout=output, stderr=subprocess.STDOUT
        )

    def wait_listening(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = self.log_path.read_text(errors="replace") if self.log_path is not None else ""
                raise ServerNotReady(f"haproxy exited with status {self.process.returncode}{_tail(log)}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerNotReady(f"haproxy does not listen on {self.url} after {timeout:.0f} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        terminate(self.process, 10)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> HaproxyProcess:
        self.wait_listening()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class RedisProcess:
    """A private `redis-server` (`executable`, Debian's) on loopback `port` (a free one by default), without
    persistence (`--save "" --appendonly no`): `url` is its `SUPPORTBOT_REDIS_URL`. `stop()` then `start()`
    restarts it on the same port, empty, as a Redis without persistence comes back. For tests that take Redis
    away: never the machine's Redis on 6379, which other processes use. Entering starts it and waits for PING.
    """

    def __init__(self, executable: str, *, port: int | None = None, log: Path | None = None) -> None:
        self.executable = executable
        self.port = port if port is not None else free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        """Start the server and wait until it answers PING (ServerNotReady if it exits or does not answer)."""
        log = str(self.log_path) if self.log_path is not None else ""
        command = [self.executable, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--logfile", log]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None:
                raise ServerNotReady(f"redis-server on port {self.port} exited with status {self.process.returncode}")
            if time.monotonic() > deadline:
                raise ServerNotReady(f"redis-server on port {self.port} did not answer PING after {timeout:.0f} s")
            time.sleep(0.05)

    def ping(self) -> bool:
        """Does the server answer PING now? (One try, no client-side retries.)"""
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM (Redis closes every client connection and exits), SIGKILL after 10 s."""
        if self.process is None:
            return
        terminate(self.process, 10)
        self.process = None

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class ClusterNodes:
    """`count` bot nodes (`supportbot serve`, each its own process on its own loopback port) sharing the
    settings in `env` (`cluster_environment`: the database URL, the knowledge folder, the state folder with the
    trained model, the secret key, the Redis URL when there is one). Logs go to `logs/node<i>.log`. A node can
    be killed and restarted on the same port, so the balancer's configuration stays valid.

    `start()` starts node 0 first and waits until it is ready (it creates the tables the nodes share), then
    the others at once.

    `own_state`: each node gets a state folder of its own (`own_state/node<i>`) instead of `env`'s, as on
    separate machines: it then shares only what `env` names (the database, Redis, the knowledge folder and
    the model store), and rebuilds its caches (the FAISS index) itself. Needs Redis for the per-conversation
    lock (without it the lock is a file in the shared state folder)."""

    def __init__(
        self,
        count: int,
        env: Mapping[str, str],
        *,
        logs: Path,
        cwd: Path | None = None,
        own_state: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.own_state = own_state
        self.logs = logs
        self.cwd = cwd
        self.ports = [free_port() for _ in range(count)]
        self.nodes: list[ServerProcess | None] = [None] * count
        self.starts = [0] * count

    def node(self, index: int) -> ServerProcess:
        node = self.nodes[index]
        if node is None:
            raise ServerNotReady(f"node {index} is not running")
        return node

    def launch(self, index: int) -> ServerProcess:
        self.starts[index] += 1
        log = self.logs / f"node{index}.{self.starts[index]}.log"
        env = dict(self.env)
        if self.own_state is not None:
            env["SUPPORTBOT_STATE_DIR"] = str(self.own_state / f"node{index}")
        node = ServerProcess(serve_command(self.ports[index]), port=self.ports[index], env=env, cwd=self.cwd, log=log)
        self.nodes[index] = node
        return node

    def start(self, timeout: float = 300) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.launch(0).wait_ready(timeout)
        for index in range(1, len(self.ports)):
            self.launch(index)
        for index in range(1, len(self.ports)):
            self.node(index).wait_ready(timeout)

    def kill(self, index: int) -> None:
        """SIGKILL: no drain, no goodbye (a machine that died)."""
        node = self.node(index)
        node.process.kill()
        node.process.wait()
        node.stop()  # closes the log
        self.nodes[index] = None

    def restart(self, index: int, timeout: float = 300) -> float:
        """Start a stopped node again on its port; the seconds until it was ready."""
        return self.launch(index).wait_ready(timeout)

    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes if node is not None]

    def stop(self) -> None:
        for node in self.nodes:
            if node is not None:
                node.process.terminate()
        for index, node in enumerate(self.nodes):
            if node is not None:
                node.stop()
                self.nodes[index] = None

    def __enter__(self) -> ClusterNodes:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def cluster_environment(
    base: Mapping[str, str],
    *,
    project_dir: Path,
    state_dir: Path,
    knowledge_dir: Path,
    database_url: str,
    secret_key: str,
    redis_url: str | None = None,
    **settings: str,
) -> dict[str, str]:
    """The environment every node of a cluster shares (docs/deploy.md, "Every setting a node needs"): `base`
    without its SUPPORTBOT_* variables, then the shared database, knowledge folder, state folder (see
    `ClusterNodes(own_state=…)`), secret key, the Redis URL when given, and `settings` (`rate_limit_per_minute`
    → SUPPORTBOT_RATE_LIMIT_PER_MINUTE; `model_store` → the folder of trained models shared by content hash)."""
    env = {key: value for key, value in base.items() if not key.startswith("SUPPORTBOT_")}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_WAIT_POLICY": "PASSIVE",
            "SUPPORTBOT_PROJECT_DIR": str(project_dir),
            "SUPPORTBOT_STATE_DIR": str(state_dir),
            "SUPPORTBOT_KNOWLEDGE_DIR": str(knowledge_dir),
            "SUPPORTBOT_DATABASE_URL": database_url,
            "SUPPORTBOT_SECRET_KEY": secret_key,
            "SUPPORTBOT_LOG_JSON": "false",
        }
    )
    if redis_url:
        env["SUPPORTBOT_REDIS_URL"] = redis_url
    env.update({f"SUPPORTBOT_{name.upper()}": value for name, value in settings.items()})
    return env


PREPARE_SCRIPT = "from bot.config import Settings; from server.workers import prepare; prepare(Settings())"


def prepare_cluster(
    env: Mapping[str, str], *, cwd: Path | None = None, log: Path | None = None, timeout: float = 900
) -> None:
    """What `serve` does before its workers start, once for the whole cluster: train the model into the shared
    state folder (skipped when the one for this data is there), build the knowledge index, create and seed the
    database. Raises ServerNotReady with the output's tail when it fails."""
    result = subprocess.run(
        [sys.executable, "-c", PREPARE_SCRIPT],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise ServerNotReady(
            f"preparing the cluster failed (status {result.returncode}){_tail(result.stdout + result.stderr)}"
        )


# -- simulated customers (tests/cluster, benchmarks/cluster.py) -------------------------------------------------
LOAD_MESSAGES = (
    "hi",
    "how long does delivery take to Germany",
    "can I return something I bought on sale",
    "what payment methods do you accept",
    "how do I wash a wool sweater",
    "do you ship to Canada",
    "what are your opening hours in Berlin",
    "thanks, that helps",
)
"""What a simulated customer says, in turn: knowledge questions and small talk (no handoff, which would
pause the conversation, and no verification, which would lock it after failures)."""


@dataclass(frozen=True)
class LoadTurn:
    """One message a simulated customer sent: when (monotonic seconds), what came back, from which node."""

    sender: str
    text: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all (connection refused or reset)
    node: str | None = None
    error: str | None = None  # the JSON error's code, or the transport error
    retry_after: str | None = None  # the `Retry-After` header of an error answer

    @property
    def acknowledged(self) -> bool:
        return self.status == 200

    def in_flight_during(self, start: float, end: float) -> bool:
        """Sent before `end` and answered (or failed) after `start`."""
        return self.started <= end and self.ended >= start


def simulate_customers(
    url: str,
    *,
    customers: int,
    seconds: float,
    prefix: str,
    messages: Sequence[str] = LOAD_MESSAGES,
    timeout: float = 30,
) -> list[LoadTurn]:
    """`customers` threads, each a customer `<prefix>-<i>` sending `POST {url}/chat` one message after the
    other (the next once the last is answered; every text unique: "<message> (turn <n>)") with the
    conversation token of its last acknowledged answer, for `seconds`. Every attempt is returned."""
    deadline = time.monotonic() + seconds
    results: list[list[LoadTurn]] = [[] for _ in range(customers)]

    def customer(index: int) -> None:
        sender = f"{prefix}-{index}"
        token: str | None = None
        turn = 0
        with httpx.Client(timeout=timeout) as client:
            while time.monotonic() < deadline:
                text = f"{messages[(index + turn) % len(messages)]} (turn {turn})"
                turn += 1
                headers = {"X-Conversation-Token": token} if token else {}
                started = time.monotonic()
                try:
                    answer = client.post(f"{url}/chat", json={"sender": sender, "message": text}, headers=headers)
                except httpx.TransportError as e:
                    results[index].append(
                        LoadTurn(sender, text, started, time.monotonic(), None, error=type(e).__name__)
                    )
                    time.sleep(0.05)
                    continue
                ended = time.monotonic()
                node = answer.headers.get("x-supportbot-node")
                if answer.status_code == 200:
                    token = answer.json()["token"]
                    results[index].append(LoadTurn(sender, text, started, ended, 200, node))
                    continue
                code = _error_code(answer)
                retry_after = answer.headers.get("retry-after")
                results[index].append(
                    LoadTurn(sender, text, started, ended, answer.status_code, node, code, retry_after)
                )
                time.sleep(0.05)

    threads = [threading.Thread(target=customer, args=(i,), daemon=True) for i in range(customers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 30)
    return [turn for turns in results for turn in turns]


def _error_code(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"not JSON: {answer.text[:80]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else f"not the error shape: {str(body)[:80]}"


@dataclass(frozen=True)
class OutageCheck:
    """What the customers saw while a service the nodes need (PostgreSQL, Redis) went away and came back."""

    turns: int
    errors: int  # turns not acknowledged
    before_outage: list[str]  # errors that ended before the service went away (there should be none)
    wrong: list[str]  # errors that are not a 503 with an expected code and a `Retry-After`
    slow: list[float]  # seconds taken by the errors slower than the fail-fast limit
    recovered_after: float | None  # when the last error ended, in seconds after the service was back
    answered_after: int  # turns sent after the service was back and acknowledged

    def ok(self, recovery_seconds: float) -> bool:
        recovered = self.recovered_after is None or self.recovered_after <= recovery_seconds
        return not (self.before_outage or self.wrong or self.slow) and recovered and self.answered_after > 0


def outage_check(
    turns: Sequence[LoadTurn], *, down: float, back: float, codes: set[str], fail_fast_seconds: float
) -> OutageCheck:
    """Sort the turns of a run in which a service went away at `down` and answered again at `back`
    (monotonic seconds): requests must fail fast (`fail_fast_seconds`) with a 503 in the JSON error shape
    (`codes`) and `Retry-After`, only from the outage on, and stop failing soon after `back`."""
    errors = [t for t in turns if not t.acknowledged]
    return OutageCheck(
        turns=len(turns),
        errors=len(errors),
        before_outage=[f"{t.status} {t.error} {t.text!r}" for t in errors if t.ended < down],
        wrong=sorted(
            {
                f"{t.status} {t.error} Retry-After={t.retry_after}"
                for t in errors
                if t.status != 503 or t.error not in codes or not t.retry_after
            }  # fmt: skip
        ),
        slow=[round(t.ended - t.started, 2) for t in errors if t.ended - t.started > fail_fast_seconds],
        recovered_after=round(max(t.ended for t in errors) - back, 2) if errors else None,
        answered_after=sum(1 for t in turns if t.acknowledged and t.started > back),
    )


@dataclass(frozen=True)
class HistoryCheck:
    """What the database's histories say about the turns the customers sent."""

    acknowledged: int  # turns answered 200
    lost: list[str]  # acknowledged, but not in the history
    duplicated: list[str]  # in the history more than once
    out_of_order: list[str]  # customers whose history is not in the order they sent
    unexpected: list[str]  # in the history, never sent

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.unexpected)


def check_histories(turns: Sequence[LoadTurn], histories: Mapping[str, Sequence[str]]) -> HistoryCheck:
    """Every acknowledged turn is in its conversation's history (`histories`: sender → the user messages
    stored, oldest first) exactly once, and each history keeps the order they were sent in. A turn that was
    not acknowledged (the node died under it) may be there or not, but once at most."""
    sent: dict[str, list[str]] = {}
    for turn in sorted(turns, key=lambda t: t.started):
        sent.setdefault(turn.sender, []).append(turn.text)
    lost, duplicated, out_of_order, unexpected = [], [], [], []
    for sender, texts in sent.items():
        stored = list(histories.get(sender, ()))
        position = {text: index for index, text in enumerate(texts)}
        duplicated += sorted({text for text in stored if stored.count(text) > 1})
        unexpected += [text for text in stored if text not in position]
        order = [position[text] for text in stored if text in position]
        if order != sorted(order):
            out_of_order.append(sender)
    stored_texts = {(sender, text) for sender, texts in histories.items() for text in texts}
    lost = [t.text for t in turns if t.acknowledged and (t.sender, t.text) not in stored_texts]
    return HistoryCheck(sum(t.acknowledged for t in turns), lost, duplicated, out_of_order, unexpected)


def user_messages(database_url: str, prefix: str) -> dict[str, list[str]]:
    """sender → the texts of its `user` events in the conversation history, oldest first, for every sender
    whose id starts with `prefix`."""
    import json

    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT sender_id, data FROM conversation_events WHERE event = 'user' AND sender_id LIKE :prefix "
                    "ORDER BY id"
                ),
                {"prefix": prefix.replace("%", r"\%").replace("_", r"\_") + "%"},
            ).all()
    finally:
        engine.dispose()
    found: dict[str, list[str]] = {}
    for sender, data in rows:
        found.setdefault(sender, []).append(json.loads(data)["text"])
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
