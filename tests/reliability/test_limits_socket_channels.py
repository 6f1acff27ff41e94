"""Issue 13, item 5: the per-IP limit holds on every channel, however the client changes `sender`.

One socket changing `sender` on every frame used to get 150 answers in 1.8 s while HTTP from the same
address was already refused. Now every WebSocket frame (messages and history) and every socket.io event
(connection, session request, message) takes one request from the address's budget — the same budget its
HTTP requests take (`rate_limit_per_ip_per_minute`). The assistant is the scripted one.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from bot.types import Reply
from server.app import create_app
from server.conversation_tokens import tokens_of
from server.testing import ServerThread

PER_IP = 4


def make_app(tmp_path: Path) -> Any:
    app = create_app(
        Settings(
            project_dir=tmp_path, state_dir=tmp_path / "state", rate_limit_per_ip_per_minute=PER_IP,
            rate_limit_per_minute=100,
        )
    )  # fmt: skip
    app.state.assistant = ScriptedAssistant(fallback=lambda text: [Reply(f"echo: {text}")])
    return app


def answer(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """The frame answering `frame` (after `typing` for an accepted message)."""
    ws.send_json(frame)
    reply: dict[str, Any] = ws.receive_json()
    if reply == {"type": "typing"}:
        reply = ws.receive_json()
    return reply


def test_one_socket_changing_sender_every_frame_is_limited(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)).websocket_connect("/ws/chat") as ws:
        kinds = [answer(ws, {"type": "message", "sender": f"s{i}", "text": "hi"})["type"] for i in range(PER_IP + 2)]
        refused = answer(ws, {"type": "message", "sender": "fresh", "text": "hi"})
    assert kinds == ["replies"] * PER_IP + ["error"] * 2
    assert refused["error"]["code"] == "rate_limited"
    assert "retry in" in refused["error"]["message"]


def test_history_frames_are_limited(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    tokens = tokens_of(app)
    with TestClient(app).websocket_connect("/ws/chat") as ws:
        answers = [
            answer(ws, {"type": "history", "sender": f"s{i}", "token": tokens.issue(f"s{i}")})
            for i in range(PER_IP + 1)
        ]
    assert [a["type"] for a in answers] == ["history"] * PER_IP + ["error"]
    assert answers[-1]["error"]["code"] == "rate_limited"


def test_http_and_the_socket_share_the_address_budget(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = TestClient(app)
    token = {"X-Conversation-Token": tokens_of(app).issue("x")}
    for _ in range(PER_IP):
        assert client.get("/conversations/x/history", headers=token).status_code == 200
    with client.websocket_connect("/ws/chat") as ws:
        refused = answer(ws, {"type": "message", "sender": "s", "text": "hi"})
    assert refused["error"]["code"] == "rate_limited"


class Customer:
    def __init__(self, url: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "error"):
            self.client.on(name, lambda data=None, name=name: self.events.put((name, data)))
        self.client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)

    def next(self) -> tuple[str, Any]:
        return self.events.get(timeout=10)

    def close(self) -> None:
        self.client.eio.disconnect(abort=True)  # not waiting for the pending long-poll


@pytest.fixture
def sio_url(tmp_path: Path) -> Iterator[str]:
    with ServerThread(make_app(tmp_path), lifespan=False) as url:
        yield url


def test_socketio_session_requests_and_messages_share_the_address_budget(sio_url: str) -> None:
    customer = Customer(sio_url)  # the connection takes one request
    try:
        confirmed = []
        for i in range(PER_IP):  # a new session id every time
            customer.client.emit("session_request", {"session_id": f"session-{i}"})
            confirmed.append(customer.next())
        customer.client.emit("user_uttered", {"message": "hi", "session_id": "another"})
        refused = customer.next()
    finally:
        customer.close()
    assert [name for name, _ in confirmed] == ["session_confirm"] * (PER_IP - 1) + ["error"]
    assert refused[0] == "error"
    assert refused[1]["error"]["code"] == "rate_limited"
