"""Issue 13, item 4: `python -m rasa_sdk --actions bot.actions` stops on SIGTERM, whenever it comes.

Sanic's worker manager (rasa-sdk's server) busy-loops for ever when SIGTERM arrives while its worker
process is still starting; `bot/actions/action_server.py` lets it stop. The real command runs in its own
process group; each test sends SIGTERM to the main process only (as `docker stop` and systemd's main-PID
stop do), then checks the whole group is gone within 10 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 10.0


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, IndexError, ValueError):
            continue
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies of the group (already exited, not yet reaped by a parent that is gone) do not count
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


@pytest.fixture
def action_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {**os.environ, "SUPPORTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "-p", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=(tmp_path / "actions.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process, port
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def stop_and_time(process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the action server ignored SIGTERM for {EXIT_WITHIN:.0f} s")
    while group_alive(process.pid) and time.monotonic() - started < EXIT_WITHIN:
        time.sleep(0.05)
    assert not group_alive(process.pid), "a worker process of the action server outlived it"
    return time.monotonic() - started


def test_sigterm_while_the_worker_starts_stops_the_action_server(
    action_server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, _ = action_server
    deadline = time.monotonic() + 60
    while not any("--multiprocessing-fork" in cmd and "pipe_handle" in cmd for _, cmd in children(process.pid)):
        assert process.poll() is None, "the action server exited before starting its worker"
        assert time.monotonic() < deadline, "the action server started no worker process in 60 s"
        time.sleep(0.01)
    time.sleep(0.3)  # the worker is importing bot.actions: it has not told the manager it is up yet
    stop_and_time(process)
    assert process.returncode in (0, -signal.SIGTERM)


def test_sigterm_while_serving_stops_the_action_server(
    action_server: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    process, port = action_server
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=10) as client:  # a kept-alive connection, as Rasa's is
        while True:
            try:
                if client.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.1)
        tasks = (ROOT / "intents" / "domain" / "tasks.yml").read_text()
        assert "button_titles" in tasks
        body = {
            "next_action": "action_store_hours",
            "sender_id": "s1",
            "tracker": {"sender_id": "s1", "slots": {}, "latest_message": {"text": "hours?"}, "events": []},
            "domain": {},
        }
        answer = client.post(f"{url}/webhook", content=json.dumps(body), headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text  # an empty domain (none cached yet) is no reason to fail
        assert answer.json()["responses"], "the hours handler answered nothing"
        assert stop_and_time(process) < EXIT_WITHIN
    log = (tmp_path / "actions.log").read_text(errors="replace")
    assert process.returncode == 0, f"exit status {process.returncode}; the server's log ends:\n{log[-3000:]}"
    assert "Traceback" not in log, log[-3000:]
