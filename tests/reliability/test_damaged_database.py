"""Issue 13, item 8 (the part that cannot be rebuilt): a damaged database stops the start-up with one line.

A garbage, truncated or empty-header SQLite file used to surface as a `BackendError` (or SQLAlchemy's
`DatabaseError`) buried in a uvicorn traceback, with no fix. Now every SQL store that opens it — the shop
backend, the tracker store — raises a `ConfigError` naming the file, the cause and the fix, and
`supportbot serve` logs that one line and exits 1, without a traceback.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.actions.backend.sql import SqlShopBackend
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.errors import ConfigError
from server.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
FIX = "restore it from a backup, or move it away and run `supportbot seed`"


def garbage(file: Path) -> None:
    file.write_bytes(os.urandom(8192))


def truncated(file: Path) -> None:
    with sqlite3.connect(file) as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    data = file.read_bytes()
    file.write_bytes(data[:100] + os.urandom(4096) + data[4196:])  # a valid header, damaged pages


DAMAGE: dict[str, Callable[[Path], None]] = {"garbage": garbage, "damaged pages": truncated}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_the_shop_backend_names_the_damaged_file_and_the_fix(tmp_path: Path, damage: str) -> None:
    file = tmp_path / "supportbot.db"
    DAMAGE[damage](file)
    backend = SqlShopBackend(f"sqlite:///{file}")
    with pytest.raises(ConfigError) as error:
        backend.create_schema()
        backend.is_empty()
    message = str(error.value)
    assert str(file) in message
    assert FIX in message
    assert "is damaged (" in message
    backend.dispose()


def test_the_tracker_store_names_the_damaged_file_and_the_fix(tmp_path: Path) -> None:
    file = tmp_path / "supportbot.db"
    garbage(file)
    with pytest.raises(ConfigError) as error:
        SqlTrackerStore.from_url(f"sqlite:///{file}")
    assert str(file) in str(error.value)
    assert FIX in str(error.value)


def test_a_healthy_database_is_not_reported_damaged(tmp_path: Path) -> None:
    backend = SqlShopBackend(f"sqlite:///{tmp_path / 'fine.db'}")
    backend.create_schema()
    assert backend.is_empty()
    backend.dispose()


@pytest.mark.integration
def test_serve_logs_one_line_and_exits_1(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    garbage(state / "supportbot.db")
    env = {
        **os.environ,
        "SUPPORTBOT_STATE_DIR": str(state),
        "SUPPORTBOT_LOG_JSON": "false",
        "SUPPORTBOT_WATCH_KNOWLEDGE": "false",
    }
    env.pop("SUPPORTBOT_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if "is damaged" in line]
    assert len(lines) == 1, output
    assert str(state / "supportbot.db") in lines[0]
    assert FIX in lines[0]
