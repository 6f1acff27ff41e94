"""Issue 13, item 9: malformed input never becomes a server error, and errors keep the one JSON shape.

Each case used to end in a 500, an `internal_error`, a silently dropped message or a dropped connection:
a ticket id of 2^63 or more, WebSocket frames and socket.io `customData` nested 1,000 deep or holding a
5,000-digit number, a binary WebSocket frame, a lone surrogate in a message; plain-text or bare-string
errors from the CORS preflight and engine.io; votes for replies that never existed; 400/404 answers the
OpenAPI schema did not mention. The assistant is the scripted one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from websockets.sync.client import ClientConnection, connect

from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from bot.types import Message, Reply
from server.app import create_app
from server.conversation_tokens import tokens_of
from server.testing import ServerThread

DEEP = '{"a":' * 1000 + "1" + "}" * 1000
BIG = "1" * 5000
TOKEN = "test-admin-token"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(
        project_dir=tmp_path, state_dir=tmp_path / "state", admin_token=TOKEN, cors_origins=["https://shop.example"]
    )
    app = create_app(settings)
    app.state.assistant = ScriptedAssistant(fallback=lambda text: [Reply(f"echo: {text}")])
    return app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def assert_error_shape(body: Any, code: str) -> str:
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return message


# -- HTTP --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ticket", [str(2**63), str(2**64 + 5), "0", "-1"])
def test_a_ticket_id_out_of_range_is_a_422(client: TestClient, ticket: str) -> None:
    response = client.post(f"/admin/handoffs/{ticket}/resume", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 422
    assert_error_shape(response.json(), "invalid_request")


def test_a_lone_surrogate_in_a_chat_message_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/chat", content='{"sender": "s1", "message": "hi \\ud800"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert_error_shape(body, "invalid_request")
    assert body["error"]["details"][0]["field"] == "message"
    assert "surrogate" in body["error"]["details"][0]["message"]


def test_a_refused_cors_preflight_answers_in_the_error_shape(client: TestClient) -> None:
    response = client.options(
        "/chat", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "cors_origins" in assert_error_shape(response.json(), "cors_refused")


def test_engineio_errors_answer_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/socket.io/", params={"EIO": "4", "transport": "polling", "sid": "no-such-session"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "socket.io" in assert_error_shape(response.json(), "bad_request")


def test_feedback_for_a_reply_that_never_existed_is_a_404(client: TestClient, app: FastAPI) -> None:
    app.state.assistant.handle(Message("f1", "hello"))
    token = {"X-Conversation-Token": tokens_of(app).issue("f1")}
    assert (
        client.post("/feedback", json={"sender": "f1", "reply_id": "r1", "value": "up"}, headers=token).status_code
        == 201
    )
    for sender, reply_id in (("f1", "never-sent"), ("someone-else", "r1")):
        token = {"X-Conversation-Token": tokens_of(app).issue(sender)}
        response = client.post(
            "/feedback", json={"sender": sender, "reply_id": reply_id, "value": "down"}, headers=token
        )
        assert response.status_code == 404
        assert_error_shape(response.json(), "not_found")


def test_the_openapi_schema_documents_the_400_and_404_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    feedback = paths["/feedback"]["post"]["responses"]
    resume = paths["/admin/handoffs/{ticket_id}/resume"]["post"]["responses"]
    assert {"400", "404", "422"} <= set(feedback)
    assert {"404", "422"} <= set(resume)
    assert feedback["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    parameters = paths["/admin/handoffs/{ticket_id}/resume"]["post"]["parameters"]
    ticket = next(p for p in parameters if p["name"] == "ticket_id")
    assert ticket["schema"]["maximum"] == 2**63 - 1


# -- the widget's WebSocket ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        ('{"type": "message", "sender": "s", "text": "x", "metadata": ' + DEEP + "}", "bad_request", "deep"),
        ('{"type": "message", "sender": "s", "text": "x", "metadata": {"n": ' + BIG + "}}", "bad_request", "digits"),
        ('{"type": "message", "sender": "s", "text": "x", "metadata": ' + '{"a":' * 40 + "1" + "}" * 41,
         "invalid_request", "16 levels"),
        ('{"type": "message", "sender": "s", "text": "x", "metadata": {"n": ' + "9" * 30 + "}}", "invalid_request",
         "2^63"),
        ('{"type": "message", "sender": "s", "text": "hi \\udc00"}', "invalid_request", "text"),
        ('{"type": "message", "sender": "s", "text": "x", "metadata": {"display": "\\ud83d"}}', "invalid_request",
         "surrogate"),
    ],
)  # fmt: skip
def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays(
    client: TestClient, raw: str, code: str, says: str
) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_text(raw)
        error = ws.receive_json()
        assert error["type"] == "error"
        assert says in assert_error_shape({"error": error["error"]}, code)
        ws.send_json({"type": "message", "sender": "s", "text": "still there?"})
        assert ws.receive_json() == {"type": "typing"}
        assert ws.receive_json()["replies"][0]["text"] == "echo: still there?"


def test_a_binary_frame_gets_an_error_frame_not_a_dropped_connection(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_bytes(b"\x00\x01binary")
        error = ws.receive_json()
        assert "binary" in assert_error_shape({"error": error["error"]}, "bad_request")
        ws.send_json({"type": "message", "sender": "s", "text": "still there?"})
        assert ws.receive_json() == {"type": "typing"}


# -- socket.io -----------------------------------------------------------------------------------------------
@pytest.fixture
def sio(app: FastAPI) -> Iterator[ClientConnection]:
    """A socket.io client spoken by hand over WebSocket, joined to the default namespace."""
    with ServerThread(app, lifespan=False) as url:
        address = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        with connect(address, open_timeout=10, max_size=None) as ws:
            assert str(ws.recv(timeout=10)).startswith("0{")
            ws.send("40")
            assert str(ws.recv(timeout=10)).startswith("40{")
            yield ws


def next_event(ws: ClientConnection) -> tuple[str, Any]:
    while True:
        packet = str(ws.recv(timeout=10))
        if packet == "2":  # engine.io ping
            ws.send("3")
            continue
        assert packet.startswith("42"), packet
        name, *data = json.loads(packet[2:])
        return name, data[0] if data else None


def utter(ws: ClientConnection, custom_data: str) -> None:
    ws.send('42["user_uttered",{"message":"hi","session_id":"s1","customData":' + custom_data + "}]")


@pytest.mark.parametrize(
    ("custom_data", "code"),
    [
        (DEEP, "bad_request"),  # the packet itself cannot be read
        ('{"n":' + BIG + "}", "bad_request"),
        (json.dumps(DEEP), "invalid_request"),  # customData as a JSON string, as rasa-webchat sends it
        (json.dumps('{"n":' + BIG + "}"), "invalid_request"),
        ('{"a":' * 40 + "1" + "}" * 40, "invalid_request"),
    ],
)
def test_bad_socketio_custom_data_gets_an_error_event(sio: ClientConnection, custom_data: str, code: str) -> None:
    utter(sio, custom_data)
    name, data = next_event(sio)
    assert name == "error"
    assert_error_shape(data, code)
    utter(sio, '{"fine": true}')  # the connection is still served
    assert next_event(sio) == ("bot_uttered", {"text": "echo: hi"})


def test_a_lone_surrogate_in_a_socketio_message_gets_an_error_event(sio: ClientConnection) -> None:
    sio.send('42["user_uttered",{"message":"hi \\ud800","session_id":"s1"}]')
    name, data = next_event(sio)
    assert name == "error"
    assert "surrogate" in assert_error_shape(data, "invalid_request")


def test_http_client_sees_no_5xx_for_any_of_it(app: FastAPI) -> None:
    """The same inputs over a real socket: nothing answers 5xx or drops the connection."""
    json_body = {"content-type": "application/json"}
    with ServerThread(app, lifespan=False) as url, httpx.Client(base_url=url, timeout=10) as client:
        statuses = [
            client.post(f"/admin/handoffs/{2**63}/resume", headers={"Authorization": f"Bearer {TOKEN}"}).status_code,
            client.post("/chat", content='{"sender":"s","message":"\\ud800"}', headers=json_body).status_code,
            client.post(
                "/chat", content='{"sender":"s","message":"x","metadata":' + DEEP + "}", headers=json_body
            ).status_code,
        ]
    assert all(400 <= s < 500 for s in statuses), statuses
