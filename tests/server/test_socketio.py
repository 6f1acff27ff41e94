"""Rasa's socket.io channel over a real loopback server, driven by a real python-socketio client."""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from bot.types import Button, Message, Reply
from server.app import create_app
from server.testing import ServerThread

SCRIPT: dict[str, list[Reply]] = {
    "hi": [Reply("Hello!\n\nHow can I help?")],
    "buttons": [Reply("Sure.\n\nMore?", buttons=(Button("Yes", "/affirm"), Button("No", "/deny")))],
    "media": [Reply("It is 30 degrees", image="https://x/y.png", custom={"map": {"lat": 52.5}})],
}


class Customer:
    """A socket.io client that records what the server emits."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "error"):
            self.client.on(name, self._recorder(name))
        self.client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)

    def _recorder(self, name: str) -> Any:
        def record(data: Any = None) -> None:
            self.events.put((name, data))

        return record

    def next(self) -> tuple[str, Any]:
        return self.events.get(timeout=10)

    def session(self, session_id: str | None, token: str | None = None) -> str:
        """Ask for a session (with its token, to rejoin one in use); the confirmed id. Keeps its token."""
        self.client.emit("session_request", {"session_id": session_id, "token": token})
        name, data = self.next()
        assert name == "session_confirm"
        assert set(data) == {"session_id", "token"}  # rasa-webchat reads `session_id` of an object
        self.token: str = data["token"]
        confirmed: str = data["session_id"]
        return confirmed

    def say(self, text: str, session_id: str | None, **extra: Any) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": session_id, **extra})

    def replies(self, n: int) -> list[Any]:
        got = [self.next() for _ in range(n)]
        assert all(name == "bot_uttered" for name, _ in got), got
        return [data for _, data in got]

    def close(self) -> None:
        # Client.disconnect() waits for the pending long-poll (up to the ping interval); abort instead.
        self.client.eio.disconnect(abort=True)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, ScriptedAssistant]]:
    """The app on a loopback port (no lifespan: the test sets the assistant), and its scripted assistant."""
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state", rate_limit_per_minute=5))
    assistant = ScriptedAssistant(SCRIPT)
    app.state.assistant = assistant
    with ServerThread(app, lifespan=False) as url:
        yield url, assistant


@pytest.fixture
def customer(served: tuple[str, ScriptedAssistant]) -> Iterator[Customer]:
    c = Customer(served[0])
    yield c
    c.close()


def test_session_request_without_id_confirms_a_new_uuid(customer: Customer) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", customer.session(None))


def test_session_request_with_id_confirms_it(customer: Customer) -> None:
    assert customer.session("my-session") == "my-session"


def test_text_is_split_into_one_bot_uttered_per_part(customer: Customer) -> None:
    sid = customer.session(None)
    customer.say("hi", sid)
    assert customer.replies(2) == [{"text": "Hello!"}, {"text": "How can I help?"}]


def test_buttons_become_quick_replies_on_the_last_part(customer: Customer) -> None:
    sid = customer.session(None)
    customer.say("buttons", sid)
    assert customer.replies(2) == [
        {"text": "Sure.", "quick_replies": []},
        {
            "text": "More?",
            "quick_replies": [
                {"content_type": "text", "title": "Yes", "payload": "/affirm"},
                {"content_type": "text", "title": "No", "payload": "/deny"},
            ],
        },
    ]


def test_custom_and_image_follow_the_text(customer: Customer) -> None:
    sid = customer.session(None)
    customer.say("media", sid)
    assert customer.replies(3) == [
        {"text": "It is 30 degrees"},
        {"map": {"lat": 52.5}},
        {"attachment": {"type": "image", "payload": {"src": "https://x/y.png"}}},
    ]


def test_sender_is_the_session_id_and_custom_data_is_the_metadata(
    served: tuple[str, ScriptedAssistant], customer: Customer
) -> None:
    sid = customer.session("s-42")
    customer.say("hi", sid, customData={"language": "en"})
    customer.replies(2)
    customer.say("hi", sid, customData='{"page": "/shoes"}')  # metadata may arrive as a JSON string
    customer.replies(2)
    first, second = served[1].messages
    assert first == Message("s-42", "hi", {"language": "en"}, input_channel="socketio")
    assert second.metadata == {"page": "/shoes"}


def test_a_message_without_session_id_is_ignored(served: tuple[str, ScriptedAssistant], customer: Customer) -> None:
    sid = customer.session(None)
    customer.say("hi", None)
    customer.say("media", sid)
    assert customer.replies(1) == [{"text": "It is 30 degrees"}]  # the first answer is to the second message
    assert [m.text for m in served[1].messages] == ["media"]


def test_the_conversation_survives_a_reconnect_with_its_token(served: tuple[str, ScriptedAssistant]) -> None:
    first = Customer(served[0])
    sid = first.session(None)
    first.say("hi", sid)
    first.replies(2)
    first.close()
    again = Customer(served[0])
    assert again.session(sid, token=first.token) == sid
    again.say("hi", sid)
    assert again.replies(2)[0] == {"text": "Hello!"}
    assert again.session(sid) != sid  # without the token: a new session (docs/security.md)
    again.close()
    assert {m.sender_id for m in served[1].messages} == {sid}


def test_over_the_sender_limit_the_server_emits_an_error(
    served: tuple[str, ScriptedAssistant], customer: Customer
) -> None:
    sid = customer.session(None)
    for _ in range(5):
        customer.say("media", sid)
        customer.replies(3)
    customer.say("media", sid)
    name, data = customer.next()
    assert name == "error"
    assert data["error"]["code"] == "rate_limited"
    assert data["retry_after"] >= 1
    assert data["error"]["message"] == f"too many messages from this conversation; retry in {data['retry_after']} s"
    assert len(served[1].messages) == 5


def test_while_the_bot_starts_the_server_emits_not_ready(tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state"))  # no assistant yet
    with ServerThread(app, lifespan=False) as url:
        customer = Customer(url)
        try:
            customer.say("hi", customer.session(None))
            assert customer.next() == (
                "error",
                {"error": {"code": "not_ready", "message": "the bot is still starting; retry in a moment"}},
            )
        finally:
            customer.close()


def test_socketio_turns_are_counted(served: tuple[str, ScriptedAssistant], customer: Customer) -> None:
    import httpx

    sid = customer.session(None)
    customer.say("hi", sid)
    customer.replies(2)
    metrics = httpx.get(f"{served[0]}/metrics").text
    assert 'supportbot_messages_total{channel="socketio"} 1.0' in metrics


@pytest.mark.integration
def test_the_real_bot_greets_with_quick_replies(live_server: str) -> None:
    customer = Customer(live_server)
    try:
        sid = customer.session(None)
        customer.say("/greet", sid, customData={"language": "en"})
        name, data = customer.next()
        while "quick_replies" not in data or not data["quick_replies"]:
            assert set(data) <= {"text", "quick_replies"}
            name, data = customer.next()
        assert name == "bot_uttered"
        assert {"content_type": "text", "title": "Opening hours", "payload": "/ask_hours"} in data["quick_replies"]
    finally:
        customer.close()
