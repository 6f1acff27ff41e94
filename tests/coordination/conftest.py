"""Coordination tests run against the REAL Redis at 127.0.0.1:6379 (a service of development machines and CI).

Each test gets its own random key prefix and deletes only its own keys afterwards. Redis missing: the tests
skip with the reason, and FAIL when `CI` is set (CI must provide it, docs/deploy.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

REDIS_URL = os.environ.get("SUPPORTBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI must provide Redis 7 at {REDIS_URL} (docs/deploy.md)", pytrace=False)
    pytest.skip(what)


@dataclass(frozen=True)
class RedisTarget:
    url: str
    prefix: str
    client: redis.Redis


@pytest.fixture
def real_redis() -> Iterator[RedisTarget]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as e:
        client.close()
        _missing(f"Redis is not reachable at {REDIS_URL} ({e})")
    prefix = f"supportbot-test-{secrets.token_hex(6)}"
    try:
        yield RedisTarget(REDIS_URL, prefix, client)
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on a free loopback port, for tests that stop and restart Redis (never the shared one)."""

    def __init__(self) -> None:
        path = shutil.which("redis-server")
        if path is None:
            _missing("redis-server is not installed")
        assert path is not None
        self.path = path
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.path, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
