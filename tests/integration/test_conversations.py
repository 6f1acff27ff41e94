"""Multi-turn conversations through `bot.Assistant` with the real model, the real rasa-sdk actions and a
real SQLite shop database: happy paths, digressions, wrong email, expired window, restart mid-form, and the
same conversation with the handlers served by a separate `python -m rasa_sdk` action server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.assistant import Assistant
from bot.dialogue.action_runner import RemoteActionRunner
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.tracker_store import InMemoryTrackerStore, SqlTrackerStore
from bot.types import Message

pytestmark = pytest.mark.integration

RETURN_FLOW = ["I want to return my jacket", "AN-10002", "anna@example.com", "cashmere sweater", "too small", "yes"]


def talk(assistant: Assistant, sender: str, lines: list[str]) -> list[list[str]]:
    return [[r.text for r in assistant.handle(Message(sender, line))] for line in lines]


def with_engine(serving: Any, *, engine: DialogueEngine | None = None, store: Any = None) -> Assistant:
    """Another Assistant over the same loaded model (a restart keeps only what the store keeps)."""
    base: Assistant = serving.assistant
    return Assistant(
        encoder=base.encoder,
        nlu=base.nlu,
        engine=engine or base.engine,
        renderer=base.renderer,
        tracker_store=store or InMemoryTrackerStore(),
        options=base.options,
    )


def test_return_form_runs_to_an_rma(real_serving: Any) -> None:
    turns = talk(real_serving.assistant, "conv-return", RETURN_FLOW)
    assert "order number" in turns[0][-1].lower()
    assert "RMA-" in turns[-1][-1]
    state = real_serving.assistant.tracker_store.load("conv-return")
    assert state.active_loop is None


def test_knowledge_question_mid_form_then_resume(real_serving: Any) -> None:
    turns = talk(
        real_serving.assistant, "conv-digress", ["I want to return something", "how long does delivery to Germany take"]
    )
    second = turns[1]
    assert "2–4 business days" in second[0]
    assert "order number" in second[-1].lower()  # the form asks its question again
    assert real_serving.assistant.tracker_store.load("conv-digress").active_loop == "return_form"


def test_wrong_email_reveals_nothing_and_matches_unknown_number(real_serving: Any) -> None:
    wrong_email = talk(
        real_serving.assistant, "conv-wrong-email", ["where is my order?", "AN-10001", "nobody@example.com"]
    )
    wrong_number = talk(
        real_serving.assistant, "conv-wrong-number", ["where is my order?", "AN-99999", "anna@example.com"]
    )
    assert wrong_email[-1][0] == wrong_number[-1][0]
    assert "DHL" not in " ".join(wrong_email[-1]) and "Wool coat" not in " ".join(wrong_email[-1])


def test_order_status_with_matching_email(real_serving: Any) -> None:
    turns = talk(real_serving.assistant, "conv-status", ["where is my parcel", "AN-10001", "anna@example.com"])
    assert "DHL" in turns[-1][0]


def test_expired_return_window_is_refused_with_the_reason(real_serving: Any) -> None:
    turns = talk(real_serving.assistant, "conv-expired", ["I'd like to return an item", "AN-10003", "ben@example.com"])
    assert "30-day" in turns[-1][0] or "window" in turns[-1][0]
    assert "RMA-" not in " ".join(turns[-1])


def test_stop_leaves_the_form(real_serving: Any) -> None:
    turns = talk(real_serving.assistant, "conv-stop", ["cancel my order", "AN-10004", "stop"])
    assert turns[-1] and real_serving.assistant.tracker_store.load("conv-stop").active_loop is None


def test_hours_follow_up_reuses_the_question(real_serving: Any) -> None:
    turns = talk(real_serving.assistant, "conv-hours", ["is the Berlin store open now?", "and in London?"])
    assert "Berlin" in turns[0][0]
    assert "London" in turns[1][0]


def test_conversation_survives_a_restart_mid_form(real_serving: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    flow = ["I'd like to send back my coat", "AN-10019", "chloe@example.com", "wool coat", "too large", "yes"]
    before = with_engine(real_serving, store=SqlTrackerStore.from_url(url))
    talk(before, "conv-restart", flow[:3])
    del before
    after = with_engine(real_serving, store=SqlTrackerStore.from_url(url))  # a new process would do the same
    turns = talk(after, "conv-restart", flow[3:])
    assert "RMA-" in turns[-1][-1]


def test_slash_restart_starts_over(real_serving: Any) -> None:
    talk(real_serving.assistant, "conv-slash", ["I want to return my jacket"])
    talk(real_serving.assistant, "conv-slash", ["/restart"])
    state = real_serving.assistant.tracker_store.load("conv-slash")
    assert state.active_loop is None and state.slots.get("order_number") is None


def test_session_expiry_starts_a_new_session(real_serving: Any) -> None:
    clock = [1_000_000.0]
    assistant = with_engine(real_serving)
    assistant.clock = lambda: clock[0]
    talk(assistant, "conv-expiry", ["I want to return my jacket", "AN-10002"])
    clock[0] += 61 * 60
    talk(assistant, "conv-expiry", ["hello"])
    state = assistant.tracker_store.load("conv-expiry")
    assert state.session_id == 2 and state.active_loop is None and state.slots.get("order_number") is None


def test_handoff_pauses_the_bot(real_serving: Any) -> None:
    turns = talk(real_serving.assistant, "conv-handoff", ["I want to talk to a human", "hello?"])
    assert "ticket" in turns[0][0].lower()
    assert real_serving.assistant.tracker_store.load("conv-handoff").paused


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("action-server")
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "SUPPORTBOT_DATABASE_URL": f"sqlite:///{folder / 'shop.db'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # sanic forks a worker: stop the whole group
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError("the action server did not start")
    yield f"{base}/webhook"
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(20)


def test_same_conversations_with_a_remote_action_server(real_serving: Any, action_server: str) -> None:
    base: DialogueEngine = real_serving.assistant.engine
    remote = DialogueEngine(
        base.domain,
        base.renderer,
        RemoteActionRunner(action_server),
        intents=base.intents,
        entities=base.entities,
        knowledge=base.knowledge,
    )
    assistant = with_engine(real_serving, engine=remote)
    turns = talk(assistant, "remote-return", RETURN_FLOW)
    assert "RMA-" in turns[-1][-1]
    wrong = talk(assistant, "remote-wrong", ["where is my order?", "AN-10001", "nobody@example.com"])
    assert "DHL" not in " ".join(wrong[-1])
    hours = talk(assistant, "remote-hours", ["is the Berlin store open now?"])
    assert "Berlin" in hours[0][0]


def test_remote_action_server_down_is_polite_and_keeps_the_conversation(real_serving: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here
    base: DialogueEngine = real_serving.assistant.engine
    dead = RemoteActionRunner(f"http://127.0.0.1:{port}/webhook", timeout=1)
    engine = DialogueEngine(base.domain, base.renderer, dead, intents=base.intents, entities=base.entities)
    assistant = with_engine(real_serving, engine=engine)
    (replies,) = talk(assistant, "remote-down", ["is the Berlin store open now?"])
    assert replies == [t["text"] for t in base.renderer.responses["utter_internal_error"] if t["text"] in replies]
    assert replies
    state = assistant.tracker_store.load("remote-down")
    assert state is not None and [e["text"] for e in state.events if e["event"] == "user"] == [
        "is the Berlin store open now?"
    ]
