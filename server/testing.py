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

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

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
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
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
