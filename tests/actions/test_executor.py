"""The executor path (as the engine calls handlers) and a real `python -m rasa_sdk` action server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor

from bot.actions.backend import reset_backend_cache
from bot.config import get_settings

from .conftest import ROOT

EXPECTED_ACTIONS = {
    "action_store_hours",
    "action_order_status",
    "action_submit_return",
    "action_submit_cancel_order",
    "action_submit_appointment",
    "action_submit_reschedule_appointment",
    "action_submit_cancel_appointment",
    "action_human_handoff",
    "validate_order_status_form",
    "validate_return_form",
    "validate_appointment_form",
}


def body(name: str, text: str, intent: str, domain: dict[str, Any], **tracker: Any) -> dict[str, Any]:
    parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [], "intent_ranking": []}
    return {
        "next_action": name,
        "sender_id": "u1",
        "version": "3.6.20",
        "tracker": {
            "sender_id": "u1",
            "slots": tracker.get("slots", {}),
            "latest_message": parse,
            "events": [{"event": "user", "text": text, "parse_data": parse}] + tracker.get("events", []),
            "paused": False,
            "followup_action": None,
            "active_loop": tracker.get("active_loop", {}),
            "latest_action_name": "action_listen",
        },
        "domain": domain,
    }


@pytest.fixture
def env_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Settings pointing at a tmp database and the fixture stores file, for handlers built with no arguments."""
    env = {
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "SUPPORTBOT_KNOWLEDGE_DIR": str(ROOT / "tests" / "data"),
        "SUPPORTBOT_PROJECT_DIR": str(ROOT),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    reset_backend_cache()
    yield env
    reset_backend_cache()
    get_settings.cache_clear()


def test_executor_registers_and_runs_the_actions(env_backend: dict[str, str], domain: dict[str, Any]) -> None:
    executor = ActionExecutor()
    executor.register_package("bot.actions")
    assert set(executor.actions) >= EXPECTED_ACTIONS

    hours = asyncio.run(executor.run(body("action_store_hours", "opening hours?", "ask_hours", domain)))
    assert hours is not None
    reply = hours.model_dump()
    assert reply["responses"][0]["response"] == "utter_hours_week_all"
    assert any(e["event"] == "slot" and e["name"] == "hours_query" for e in reply["events"])

    validation = body(
        "validate_order_status_form",
        "anna@example.com",
        "inform",
        domain,
        slots={"order_number": "AN-10002", "order_email": "anna@example.com"},
        events=[{"event": "slot", "name": "order_email", "value": "anna@example.com"}],
        active_loop={"name": "order_status_form"},
    )
    checked = asyncio.run(executor.run(validation))
    assert checked is not None
    assert checked.model_dump()["responses"] == []  # the seeded demo order matched: nothing to correct


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.integration
def test_real_action_server(env_backend: dict[str, str], domain: dict[str, Any], tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, **env_backend, "SANIC_HOST": "127.0.0.1"}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # sanic forks a worker: stop the whole group
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert _get(f"{base}/health") == {"status": "ok"}
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"action server did not start:\n{(tmp_path / 'server.log').read_text()}")
                time.sleep(0.3)
        names = {a["name"] for a in _get(f"{base}/actions")}
        assert names >= EXPECTED_ACTIONS
        request = urllib.request.Request(
            f"{base}/webhook",
            data=json.dumps(body("action_store_hours", "are you open now?", "ask_hours", domain)).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
        assert reply["responses"][0]["response"] == "utter_hours_now_all"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        log.close()
