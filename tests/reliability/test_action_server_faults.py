"""Issue 13, item 2: a slow or dead action server never stalls the bot.

Against a real HTTP action server that accepts calls and never answers (or answers, or refuses, when
told): a call costs at most its time budget; consecutive failures open the circuit breaker, which then
fails fast until one probe call closes it; turns blocked on actions never hold the threads other turns
need; the customer gets a polite reply (handing off tells them how to reach a person) and the conversation
carries on; `/readyz` says actions are degraded and `/metrics` shows the breaker and the failures.
The bot is the reference bot on the fake encoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.assistant import Assistant, HandleResult
from bot.config import Settings
from bot.dialogue.action_runner import (
    ActionTimeout,
    ActionUnavailable,
    CircuitBreaker,
    RemoteActionRunner,
)
from bot.dialogue.tracker_store import InMemoryTrackerStore, SqlTrackerStore, TrackerStore
from bot.testing.fixtures import IsolatedDatabase, make_fake_assistant
from bot.types import Message
from server.app import create_app
from server.turns import TurnMetrics, install_turn_limiter, run_turn

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 0.4  # seconds: every timeout in this module is short


# -- a real action server that can hang ---------------------------------------------------------------
class ActionServer:
    """A Rasa action server on loopback. `mode`: "hang" (reads the call, never answers), "answer" (no
    events, one text response), "fail" (500). `calls` counts the webhook calls it received."""

    def __init__(self) -> None:
        self.mode = "hang"
        self.calls = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.calls += 1
                if server.mode == "hang":
                    server.release.wait(30)
                    return
                status, body = (200, {"events": [], "responses": [{"text": "done"}]})
                if server.mode == "fail":
                    status, body = 500, {"error": "boom"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ActionServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def action_server() -> Iterator[ActionServer]:
    with ActionServer() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def runner_for(url: str, *, failures: int = 3, cooldown: float = 60.0, clock: Clock | None = None, **kw: Any) -> Any:
    breaker = CircuitBreaker(failures, cooldown, clock=clock or time.monotonic)
    return RemoteActionRunner(url, timeout=BUDGET, connect_timeout=0.2, breaker=breaker, **kw)


def call(runner: RemoteActionRunner, name: str = "action_order_status") -> Any:
    return runner.run(name, "s1", {"sender_id": "s1", "slots": {}, "events": []}, {})


def timed(runner: RemoteActionRunner) -> tuple[type[BaseException] | None, float]:
    started = time.monotonic()
    try:
        call(runner)
    except Exception as e:
        return type(e), time.monotonic() - started
    return None, time.monotonic() - started


# -- the runner: budget and breaker -------------------------------------------------------------------
def test_a_hanging_action_server_costs_one_budget_per_call_then_the_breaker_fails_fast(
    action_server: ActionServer,
) -> None:
    runner = runner_for(action_server.url, failures=3)
    outcomes = [timed(runner) for _ in range(3)]
    assert [kind for kind, _ in outcomes] == [ActionTimeout] * 3
    assert all(BUDGET - 0.05 <= seconds < BUDGET + 0.3 for _, seconds in outcomes), outcomes
    assert runner.status().state == "open" and runner.status().consecutive_failures == 3

    kind, seconds = timed(runner)  # open: not even sent
    assert kind is ActionUnavailable and seconds < 0.05
    assert action_server.calls == 3
    runner.close()


def test_a_connection_that_never_completes_fails_within_the_connect_budget() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # never accepted: once the backlog is full, new connections hang
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        runner = RemoteActionRunner(f"http://127.0.0.1:{port}/webhook", timeout=3.0, connect_timeout=0.3)
        kind, seconds = timed(runner)
        for filler in fillers:
            filler.close()
    assert kind is ActionTimeout and seconds < 1.0, (kind, seconds)
    runner.close()


def test_after_the_cooldown_one_probe_goes_out_and_its_success_closes_the_breaker(
    action_server: ActionServer,
) -> None:
    clock = Clock()
    runner = runner_for(action_server.url, failures=2, cooldown=30.0, clock=clock)
    action_server.mode = "fail"
    for _ in range(2):
        assert timed(runner)[0] is not None
    assert runner.status().state == "open" and runner.status().retry_in_seconds == 30.0
    clock.now += 29
    assert timed(runner)[0] is ActionUnavailable and action_server.calls == 2

    clock.now += 2  # cool-down over: the next call probes; a failed probe opens it again at once
    assert runner.status().state == "half_open"
    assert timed(runner)[0] is not ActionUnavailable and action_server.calls == 3
    assert runner.status().state == "open"

    clock.now += 31
    action_server.mode = "hang"  # a probe in flight: every other call still fails fast
    probe = threading.Thread(target=timed, args=(runner,))
    probe.start()
    deadline = time.monotonic() + 5
    while action_server.calls < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert timed(runner)[0] is ActionUnavailable
    probe.join()
    assert runner.status().state == "open"

    clock.now += 31
    action_server.mode = "answer"
    assert call(runner).responses == [{"text": "done"}]
    assert runner.status().state == "closed" and runner.status().consecutive_failures == 0
    runner.close()


def test_too_many_calls_waiting_fail_fast_instead_of_queueing(action_server: ActionServer) -> None:
    runner = runner_for(action_server.url, failures=100, concurrency=1)  # 1 running + 1 waiting
    assert runner.max_callers == 2
    results: list[tuple[type[BaseException] | None, float]] = []
    threads = [threading.Thread(target=lambda: results.append(timed(runner))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fast = [r for r in results if r[0] is ActionUnavailable]
    assert len(fast) == 3 and all(seconds < 0.1 for _, seconds in fast), results
    assert [r[0] for r in results].count(ActionTimeout) == 2
    assert runner.status().state == "closed"  # refusing a call is not the server failing
    runner.close()


# -- the conversation ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    folder = tmp_path_factory.getbasetemp() / "reliability-fake-bot"  # shared with the database tests
    folder.mkdir(exist_ok=True)
    database = IsolatedDatabase(tmp_path_factory.mktemp("shop"))
    database.open()
    try:
        bot = make_fake_assistant(ROOT, folder / "state", knowledge=False)
        original = bot.engine.runner
        yield bot
        bot.engine.runner = original
    finally:
        database.close()


def responses(assistant: Assistant, name: str) -> list[str]:
    return [str(v["text"]) for v in assistant.renderer.responses[name]]


def say(assistant: Assistant, sender: str, text: str) -> list[str]:
    return [r.text for r in assistant.handle(Message(sender, text))]


def test_a_failing_handoff_tells_how_to_reach_a_person_and_the_conversation_carries_on(
    assistant: Assistant, action_server: ActionServer
) -> None:
    runner = runner_for(action_server.url, failures=1)
    assistant.engine.runner = runner
    unavailable = responses(assistant, "utter_human_handoff_unavailable")
    assert any("+33 1 00 00 00 00" in text and "help@ateliernord.example" in text for text in unavailable)

    started = time.monotonic()
    (reply,) = say(assistant, "handoff", "/human_handoff")  # the action server hangs: one budget
    assert reply in unavailable and time.monotonic() - started < BUDGET + 1.0
    started = time.monotonic()
    (reply,) = say(assistant, "handoff", "/human_handoff")  # the breaker is open: the same reply, at once
    assert reply in unavailable and time.monotonic() - started < 0.3
    (hours,) = say(assistant, "handoff", "/ask_hours")  # another action: the general apology
    assert hours in responses(assistant, "utter_internal_error")
    greeting = say(assistant, "handoff", "/greet")  # and the conversation goes on
    assert greeting and greeting[0] in responses(assistant, "utter_greet")
    state = assistant.tracker_store.load("handoff")
    assert state is not None and not state.paused
    said = [e.get("text") for e in state.events if e["event"] == "user"]
    assert said == ["/human_handoff", "/human_handoff", "/ask_hours", "/greet"]
    assert action_server.calls == 1
    runner.close()


def test_knowledge_and_small_talk_never_wait_behind_hanging_actions(
    assistant: Assistant, action_server: ActionServer
) -> None:
    """Two turn threads, and six customers whose actions hang: a greeting still answers at once."""
    runner = runner_for(action_server.url, failures=100, concurrency=1)
    assistant.engine.runner = runner
    app = FastAPI()
    app.state.settings = Settings(project_dir=ROOT, action_endpoint=action_server.url, action_concurrency=1)

    async def scenario() -> tuple[float, list[HandleResult]]:
        install_turn_limiter(app, 2)
        actions = [
            asyncio.create_task(run_turn(app, assistant, Message(f"waiting-{n}", "/ask_hours"))) for n in range(6)
        ]
        await asyncio.sleep(0.1)  # the action turns have taken their threads
        started = time.monotonic()
        await run_turn(app, assistant, Message("just-saying-hi", "/greet"))
        waited = time.monotonic() - started
        return waited, list(await asyncio.gather(*actions))

    waited, results = asyncio.run(scenario())
    assert waited < BUDGET / 2, f"a greeting waited {waited:.2f} s behind hanging actions"
    apologies = set(responses(assistant, "utter_internal_error"))
    assert all(r.replies and r.replies[0].text in apologies for r in results)
    runner.close()


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_a_customer_never_waits_for_another_customers_hanging_action_on_a_shared_lock(
    kind: str, tmp_path: Path
) -> None:
    """The per-sender lock is held for the whole turn, action call included. Senders used to share one of
    1,024 lock stripes now and then, and then one waited for the other's hanging action."""
    first = "customer-0"
    stripe = zlib.crc32(first.encode()) % 1024
    second = next(f"customer-{n}" for n in range(1, 100_000) if zlib.crc32(f"customer-{n}".encode()) % 1024 == stripe)
    lock_file = tmp_path / "locks" / "conversations.lock"
    store: TrackerStore = (
        SqlTrackerStore.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}", lock_file=lock_file)
        if kind == "sql"
        else InMemoryTrackerStore()
    )
    got = threading.Event()

    def second_turn() -> None:
        with store.lock(second):
            got.set()

    with store.lock(first):  # the first customer's turn hangs on the action server
        other = threading.Thread(target=second_turn)
        other.start()
        assert got.wait(2), f"{second!r} waited for {first!r}"
    other.join(5)


def test_readyz_and_metrics_show_the_open_breaker_while_chat_goes_on(
    assistant: Assistant, action_server: ActionServer, tmp_path: Path
) -> None:
    runner = runner_for(action_server.url, failures=2)
    assistant.engine.runner = runner
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state", action_endpoint=action_server.url))
    app.state.assistant = assistant
    app.state.turn_metrics = TurnMetrics(app.state.metrics.registry)  # what the lifespan installs
    client = TestClient(app)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["checks"]["actions"] == {"status": "ok", "runner": "remote", "breaker": "closed"}

    token: dict[str, str] = {}
    for _ in range(3):
        reply = client.post("/chat", json={"sender": "ready-1", "message": "/human_handoff"}, headers=token)
        assert reply.status_code == 200
        token = {"X-Conversation-Token": reply.json()["token"]}
        assert reply.json()["replies"][0]["text"] in responses(assistant, "utter_human_handoff_unavailable")
    ready = client.get("/readyz")
    assert ready.status_code == 200, "a broken action server must not take the knowledge base out of service"
    body = ready.json()
    assert body["status"] == "degraded"
    actions = body["checks"]["actions"]
    assert actions["status"] == "degraded" and actions["breaker"] == "open" and 0 < actions["retry_in_seconds"] <= 60
    assert "task actions" in actions["message"]
    metrics = client.get("/metrics").text
    assert "supportbot_action_breaker_state 2.0" in metrics
    assert 'supportbot_action_calls_total{outcome="timeout"} 2.0' in metrics
    assert 'supportbot_action_calls_total{outcome="open"} 1.0' in metrics
    greeting = client.post("/chat", json={"sender": "ready-2", "message": "/greet"})
    assert greeting.status_code == 200 and greeting.json()["replies"][0]["text"] in responses(assistant, "utter_greet")
    runner.close()
