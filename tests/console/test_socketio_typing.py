"""socket.io `user_typing` (server/routes/socketio.py) reaches the live agent: a real python-socketio client on a
loopback server, and an agent signed in to the console of the same app. The customer typing in their own
conversation shows as "typing…" in the agent's live view; an event naming another conversation is ignored."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio
from fastapi import FastAPI

from bot.config import Settings
from bot.dialogue.handoff import SqlHandoffStore
from bot.staff import StaffServices
from bot.testing.fakes import ScriptedAssistant
from server.testing import ServerThread
from tests.console.conftest import ConsoleClient, make_console_app

Clients = Callable[..., ConsoleClient]


@pytest.fixture
def console_app(console_settings: Settings, staff_services: StaffServices) -> FastAPI:
    app = make_console_app(console_settings, staff_services)
    app.state.assistant = ScriptedAssistant({})
    app.state.handoffs = SqlHandoffStore.from_url(console_settings.resolved_database_url)
    return app


@pytest.fixture
def served(console_app: FastAPI) -> Iterator[str]:
    with ServerThread(console_app, lifespan=False) as url:
        yield url


class Customer:
    """The widget's socket.io client: joins a session, then emits `user_typing`."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("session_confirm", "error"):
            self.client.on(name, lambda data=None, name=name: self.events.put((name, data)))
        self.client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)

    def join(self, session_id: str) -> None:
        self.client.emit("session_request", {"session_id": session_id})
        name, data = self.events.get(timeout=10)
        assert name == "session_confirm" and data["session_id"] == session_id

    def typing(self, data: Any) -> None:
        self.client.emit("user_typing", data)

    def close(self) -> None:
        self.client.eio.disconnect(abort=True)


def typing_seen(app: FastAPI, ticket_id: int) -> bool:
    ticket = app.state.handoffs.get(ticket_id)
    return ticket is not None and ticket.customer_typing_at is not None


def test_the_agent_sees_the_customer_typing_and_not_for_another_conversation(
    served: str, console_app: FastAPI, console_client: Clients
) -> None:
    handoffs: SqlHandoffStore = console_app.state.handoffs
    mine = handoffs.open("typing-own", "a person please", []).id
    other = handoffs.open("typing-other", "a person please", []).id
    agent = console_client("agent", name="Maria")
    assert agent.get(f"/console/api/handoffs/{mine}/events").json()["customer_typing"] is False
    customer = Customer(served)
    try:
        customer.join("typing-own")
        customer.typing({"session_id": "typing-other"})  # a conversation this socket did not join: ignored
        customer.typing({})  # no conversation named: ignored
        customer.typing("not an object")
        customer.typing({"session_id": "typing-own"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not typing_seen(console_app, mine):
            time.sleep(0.02)
    finally:
        customer.close()
    assert agent.get(f"/console/api/handoffs/{mine}/events").json()["customer_typing"] is True
    assert agent.get(f"/console/api/handoffs/{other}/events").json()["customer_typing"] is False
    assert not typing_seen(console_app, other)
