"""Issue 13, item 6: a sender id is no longer a bearer secret.

Reading a conversation's history, continuing it and voting in it take the conversation's token, which
the server issues with every answer (`server/conversation_tokens.py`); socket.io confirms a session
that is in use only to a client holding its token; Rasa's REST channel can be closed to all but servers
(`rest_channel_token`). The native channels are driven through Starlette's test client with the
scripted assistant; socket.io through a real python-socketio client against a server on loopback.
"""

from __future__ import annotations

import queue
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from bot.types import Reply, Source
from server.app import create_app
from server.conversation_tokens import TOKEN_HEADER, ConversationTokens, load_secret, state_secret, tokens_of
from server.testing import ServerThread

SECRET_ANSWER = "Your order AN-10001 ships to anna@example.com"
TOKEN_CODES = {"conversation_token_required", "conversation_token_invalid", "conversation_token_expired"}


def assistant() -> ScriptedAssistant:
    answer = Reply(SECRET_ANSWER, sources=(Source("orders", "Orders", "orders.md"),))
    return ScriptedAssistant({"where is my order": [answer]}, fallback=lambda text: [Reply(f"echo: {text}")])


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state"))
    app.state.assistant = assistant()
    return app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def start(client: TestClient, sender: str = "anna") -> str:
    """Anna's conversation with her order in it; her token."""
    response = client.post("/chat", json={"sender": sender, "message": "where is my order"})
    assert response.status_code == 200, response.text
    assert response.json()["replies"][0]["text"] == SECRET_ANSWER
    token: str = response.json()["token"]
    return token


def refused(response: Any, code: str) -> None:
    """A 403 in the JSON error shape with `code`, telling the fix, and nothing of the conversation."""
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert "new conversation" in body["error"]["message"]
    assert "AN-10001" not in response.text and "anna@example.com" not in response.text
    assert set(body) == {"error"}


def expired_token(app: FastAPI, sender: str) -> str:
    """A token for `sender` signed with the app's key that expired a minute ago."""
    settings: Settings = app.state.settings
    old = ConversationTokens(load_secret(settings), ttl_seconds=60, clock=lambda: time.time() - 120)
    return old.issue(sender)


def tampered(token: str) -> list[str]:
    version, expiry, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{version}.{expiry}.{flipped}",  # another signature
        f"{version}.{int(expiry) + 10**6}.{signature}",  # a later expiry, same signature
        f"v2.{expiry}.{signature}",  # another version
        token + "x",
        "",
    ]


# -- history, messages and votes need the token -----------------------------------------------------
def test_history_with_the_right_token_works_and_slides(client: TestClient) -> None:
    token = start(client)
    response = client.get("/conversations/anna/history", headers={TOKEN_HEADER: token})
    assert response.status_code == 200
    body = response.json()
    assert [m["text"] for m in body["messages"]] == ["where is my order", SECRET_ANSWER]
    assert body["token"] and body["token"].startswith("v1.")
    again = client.get("/conversations/anna/history", headers={TOKEN_HEADER: body["token"]})
    assert again.status_code == 200  # the fresh token works as well


def test_history_without_a_token_is_refused_whether_or_not_the_sender_exists(client: TestClient) -> None:
    start(client)
    known = client.get("/conversations/anna/history")
    unknown = client.get("/conversations/nobody/history")
    refused(known, "conversation_token_required")
    refused(unknown, "conversation_token_required")
    assert known.json()["error"]["message"] == unknown.json()["error"]["message"]  # nothing tells them apart


def test_history_with_a_wrong_another_senders_or_tampered_token_is_refused(client: TestClient) -> None:
    anna = start(client)
    mallory = start(client, "mallory")
    refused(client.get("/conversations/anna/history", headers={TOKEN_HEADER: mallory}), "conversation_token_invalid")
    refused(client.get("/conversations/anna/history", headers={TOKEN_HEADER: "guess"}), "conversation_token_invalid")
    for bad in tampered(anna):
        response = client.get("/conversations/anna/history", headers={TOKEN_HEADER: bad})
        refused(response, "conversation_token_invalid" if bad else "conversation_token_required")


def test_an_expired_token_is_refused_with_its_own_code(app: FastAPI, client: TestClient) -> None:
    start(client)
    response = client.get("/conversations/anna/history", headers={TOKEN_HEADER: expired_token(app, "anna")})
    refused(response, "conversation_token_expired")
    assert "expired" in response.json()["error"]["message"]


def test_a_token_signed_by_another_key_is_invalid(app: FastAPI, client: TestClient) -> None:
    start(client)
    foreign = ConversationTokens(b"another server's key, 32 bytes long....", ttl_seconds=3600).issue("anna")
    refused(client.get("/conversations/anna/history", headers={TOKEN_HEADER: foreign}), "conversation_token_invalid")


def test_continuing_a_conversation_needs_its_token_starting_one_does_not(client: TestClient, app: FastAPI) -> None:
    token = start(client)
    refused(client.post("/chat", json={"sender": "anna", "message": "hi"}), "conversation_token_required")
    wrong = client.post("/chat", json={"sender": "anna", "message": "hi"}, headers={TOKEN_HEADER: "v1.1.x"})
    refused(wrong, "conversation_token_invalid")
    expired = {TOKEN_HEADER: expired_token(app, "anna")}
    refused(
        client.post("/chat", json={"sender": "anna", "message": "hi"}, headers=expired), "conversation_token_expired"
    )
    assert [m.text for m in app.state.assistant.messages] == ["where is my order"]  # none of them was taken

    ok = client.post("/chat", json={"sender": "anna", "message": "hi"}, headers={TOKEN_HEADER: token})
    assert ok.status_code == 200 and ok.json()["replies"][0]["text"] == "echo: hi"
    assert tokens_of(app).valid("anna", ok.json()["token"])


def test_a_vote_needs_the_conversations_token(client: TestClient) -> None:
    token = start(client)
    history = client.get("/conversations/anna/history", headers={TOKEN_HEADER: token}).json()
    reply_id = history["messages"][-1]["id"]
    vote = {"sender": "anna", "reply_id": reply_id, "value": "down"}
    refused(client.post("/feedback", json=vote), "conversation_token_required")
    refused(
        client.post("/feedback", json=vote, headers={TOKEN_HEADER: start(client, "eve")}), "conversation_token_invalid"
    )
    ok = client.post("/feedback", json=vote, headers={TOKEN_HEADER: history["token"]})
    assert ok.status_code == 201 and ok.json()["value"] == "down" and ok.json()["token"]


def test_websocket_frames_carry_the_token(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "sender": "anna", "text": "where is my order", "id": "m1"})
        assert ws.receive_json() == {"type": "typing"}
        first = ws.receive_json()
        assert first["type"] == "replies" and first["token"]
        # another socket (or the same one) without the token gets neither the history nor the conversation
        ws.send_json({"type": "history", "sender": "anna"})
        error = ws.receive_json()
        assert error["type"] == "error" and error["error"]["code"] == "conversation_token_required"
        assert "AN-10001" not in str(error)
        ws.send_json({"type": "message", "sender": "anna", "text": "more", "id": "m2", "token": "v1.9.nope"})
        error = ws.receive_json()
        assert error == {"type": "error", "error": error["error"], "in_reply_to": "m2"}
        assert error["error"]["code"] == "conversation_token_invalid"
        # with it, both work, and each answer carries a fresh one
        ws.send_json({"type": "history", "sender": "anna", "token": first["token"]})
        history = ws.receive_json()
        assert history["type"] == "history" and history["messages"][-1]["text"] == SECRET_ANSWER
        ws.send_json({"type": "message", "sender": "anna", "text": "more", "id": "m3", "token": history["token"]})
        assert ws.receive_json() == {"type": "typing"}
        assert ws.receive_json()["replies"][0]["text"] == "echo: more"


# -- the key --------------------------------------------------------------------------------------------
def test_the_generated_key_is_private_and_shared_by_every_process(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret_key"
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        keys.append(state_secret(path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no draft left behind
    assert state_secret(path) == keys[0]  # a restart reads the same key: tokens survive it


def test_tokens_survive_a_restart_and_a_configured_key_is_used(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, state_dir=tmp_path / "state")
    token = ConversationTokens.from_settings(settings).issue("anna")
    assert ConversationTokens.from_settings(settings).valid("anna", token)
    configured = settings.with_overrides(secret_key="k" * 32)
    assert not ConversationTokens.from_settings(configured).valid("anna", token)
    assert ConversationTokens.from_settings(configured).valid("anna", ConversationTokens(b"k" * 32, 60).issue("anna"))


def test_a_short_secret_key_is_refused_with_the_fix() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(secret_key="too short")


# -- Rasa REST: open as in Rasa, or for servers holding rest_channel_token ------------------------------
def test_rest_channel_token_closes_the_webhook_to_everyone_else(tmp_path: Path) -> None:
    message = {"sender": "anna", "message": "where is my order"}
    open_app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "a"))
    open_app.state.assistant = assistant()
    assert TestClient(open_app).post("/webhooks/rest/webhook", json=message).status_code == 200

    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "b", rest_channel_token="s3rver-to-s3rver"))
    app.state.assistant = assistant()
    client = TestClient(app)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3rver-to-s3rver"}):
        response = client.post("/webhooks/rest/webhook", json=message, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert "rest_channel_token" in response.json()["error"]["message"]
    assert app.state.assistant.messages == []
    ok = client.post("/webhooks/rest/webhook", json=message, headers={"Authorization": "Bearer s3rver-to-s3rver"})
    assert ok.status_code == 200 and ok.json()[0]["text"] == SECRET_ANSWER


# -- socket.io: a session in use is confirmed only with its token ---------------------------------------
class Customer:
    """A python-socketio client recording what the server emits."""

    def __init__(self, url: str, auth: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "error"):
            self.client.on(name, self._recorder(name))
        self.client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10, auth=auth)

    def _recorder(self, name: str) -> Any:
        return lambda data=None: self.events.put((name, data))

    def next(self) -> tuple[str, Any]:
        return self.events.get(timeout=10)

    def session(self, session_id: str | None, token: str | None = None) -> dict[str, str]:
        request = {"session_id": session_id} | ({"token": token} if token else {})
        self.client.emit("session_request", request)
        name, data = self.next()
        assert name == "session_confirm", (name, data)
        assert set(data) == {"session_id", "token"}
        return dict(data)

    def say(self, text: str, session_id: str) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": session_id})

    def quiet(self) -> bool:
        """Nothing was emitted to this client (after what the caller waited for elsewhere has arrived)."""
        try:
            event = self.events.get(timeout=0.5)
        except queue.Empty:
            return True
        raise AssertionError(f"this client received {event}")

    def close(self) -> None:
        self.client.eio.disconnect(abort=True)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state"))
    app.state.assistant = assistant()
    with ServerThread(app, lifespan=False) as base:
        yield base


def test_a_second_socketio_client_never_gets_another_conversations_replies(url: str) -> None:
    anna, mallory = Customer(url), Customer(url)
    try:
        session = anna.session(None)
        anna.say("where is my order", session["session_id"])
        assert anna.next() == ("bot_uttered", {"text": SECRET_ANSWER})

        # Mallory learnt the session id (not the token): she gets a session of her own
        hers = mallory.session(session["session_id"])
        assert hers["session_id"] != session["session_id"]
        anna.say("and my refund?", session["session_id"])
        assert anna.next() == ("bot_uttered", {"text": "echo: and my refund?"})
        assert mallory.quiet()

        # naming Anna's session in a message does not let her in either
        mallory.say("where is my order", session["session_id"])
        name, error = mallory.next()
        assert name == "error" and error["error"]["code"] == "conversation_token_required"
        assert anna.quiet() and mallory.quiet()
        # a wrong token is no better
        assert mallory.session(session["session_id"], token="v1.1.forged")["session_id"] != session["session_id"]
    finally:
        anna.close()
        mallory.close()


def test_a_socketio_session_in_use_is_confirmed_with_its_token(url: str) -> None:
    anna = Customer(url)
    try:
        session = anna.session("anna-session")  # a session id nobody uses is confirmed as asked, as in Rasa
        assert session["session_id"] == "anna-session"
        anna.say("where is my order", "anna-session")
        assert anna.next()[0] == "bot_uttered"
    finally:
        anna.close()
    # a page load later: the same session, with its token in session_request or in the connection's auth
    for auth, token in ((None, session["token"]), ({"token": session["token"]}, None)):
        again = Customer(url, auth=auth)
        try:
            confirmed = again.session("anna-session", token=token)
            assert confirmed["session_id"] == "anna-session" and confirmed["token"]
            again.say("thanks", "anna-session")
            assert again.next() == ("bot_uttered", {"text": "echo: thanks"})
        finally:
            again.close()
