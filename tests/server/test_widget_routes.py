"""The widget's endpoints (WebSocket, history, feedback), the demo page and the feedback stores.

The app is built without running its lifespan (which loads the real model); the scripted assistant of
`bot.testing.fakes`, which records Rasa-style events, stands in for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.config import Settings
from bot.feedback import Feedback, InMemoryFeedbackStore, SqlFeedbackStore
from bot.testing.fakes import ScriptedAssistant
from bot.types import Button, Message, Reply, Source
from server.app import create_app
from server.conversation_tokens import tokens_of
from server.routes.widget import display_history, origin_allowed

ROOT = Path(__file__).resolve().parents[2]


RETURNS = Reply(
    "You have **30 days**.",
    sources=(Source("returns", "Returns", "returns-and-refunds.md", "https://ateliernord.example/help/returns"),),
    kind="knowledge",
)


def widget_assistant() -> ScriptedAssistant:
    """Greets with a button, answers anything about returns from the knowledge base, echoes the rest."""
    return ScriptedAssistant(
        {"/greet": [Reply("Hi!", buttons=(Button("Opening hours", "/ask_hours"),))]},
        fallback=lambda text: [RETURNS] if "return" in text else [Reply(f"echo: {text}")],
    )


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(project_dir=ROOT, state_dir=tmp_path / "state")
    app = create_app(settings)
    app.state.assistant = widget_assistant()
    return app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)  # not entered: the lifespan (real model) does not run


def say(ws: Any, tokens: dict[str, str], sender: str, text: str, **extra: Any) -> dict[str, Any]:
    """One message on the widget socket with its conversation's token (kept in `tokens` from each answer);
    the frame after `typing`."""
    ws.send_json({"type": "message", "sender": sender, "text": text, **extra} | token_field(tokens, sender))
    assert ws.receive_json() == {"type": "typing"}
    frame: dict[str, Any] = ws.receive_json()
    if "token" in frame:
        tokens[sender] = frame["token"]
    return frame


def token_field(tokens: dict[str, str], sender: str) -> dict[str, str]:
    return {"token": tokens[sender]} if sender in tokens else {}


# -- WebSocket -----------------------------------------------------------------------------------------
def test_socket_sends_typing_then_replies_in_chat_shape(client: TestClient, app: FastAPI) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "sender": "s1", "text": "how do returns work", "id": "m1"})
        assert ws.receive_json() == {"type": "typing"}
        frame = ws.receive_json()
    assert frame["type"] == "replies"
    assert frame["in_reply_to"] == "m1"
    assert frame["sender"] == "s1"
    [reply] = frame["replies"]
    assert reply["id"] == "r1"
    assert reply["buttons"] == []
    assert reply["sources"] == [
        {
            "id": "returns",
            "title": "Returns",
            "file": "returns-and-refunds.md",
            "url": "https://ateliernord.example/help/returns",
        }
    ]
    assert app.state.assistant.messages[0].input_channel == "webchat"


def test_socket_passes_metadata_and_answers_history(client: TestClient) -> None:
    tokens: dict[str, str] = {}
    with client.websocket_connect("/ws/chat") as ws:
        say(ws, tokens, "s2", "/greet", metadata={"silent": True})
        say(ws, tokens, "s2", "/ask_hours", metadata={"display": "Opening hours"})
        ws.send_json({"type": "history", "sender": "s2", "token": tokens["s2"]})
        frame = ws.receive_json()
    assert frame["type"] == "history"
    assert frame["token"]
    messages = frame["messages"]
    assert [(m["role"], m["text"]) for m in messages] == [
        ("bot", "Hi!"),
        ("user", "Opening hours"),
        ("bot", "echo: /ask_hours"),
    ]
    assert messages[0]["buttons"] == [{"title": "Opening hours", "payload": "/ask_hours"}]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_request"),
        ('{"type": "shout", "sender": "s"}', "invalid_request"),
        ('{"type": "message", "text": "hi"}', "invalid_request"),
        ('{"type": "message", "sender": "", "text": "hi"}', "invalid_request"),
        ('{"type": "message", "sender": "s", "text": "hi", "extra": 1}', "invalid_request"),
    ],
)
def test_socket_bad_frames_get_an_error_and_keep_the_connection(client: TestClient, frame: str, code: str) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_text(frame)
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["error"]["code"] == code
        assert error["error"]["message"]
        ws.send_json({"type": "message", "sender": "s", "text": "still there?"})
        assert ws.receive_json()["type"] == "typing"
        assert ws.receive_json()["replies"][0]["text"] == "echo: still there?"


def test_socket_refuses_oversized_frames(client: TestClient, app: FastAPI) -> None:
    big = "x" * (app.state.settings.max_request_bytes + 1)
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "sender": "s", "text": big[:100], "metadata": {"pad": big}})
        assert ws.receive_json()["error"]["code"] == "payload_too_large"


def test_socket_reports_not_ready_with_the_message_id(client: TestClient, app: FastAPI) -> None:
    app.state.assistant = None
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "sender": "s", "text": "hi", "id": "m9"})
        frame = ws.receive_json()
    assert frame == {
        "type": "error",
        "error": {"code": "not_ready", "message": "the bot is still starting; retry in a moment"},
        "in_reply_to": "m9",
    }


def test_socket_over_the_sender_limit_answers_an_error_frame(tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=ROOT, state_dir=tmp_path / "state", rate_limit_per_minute=1))
    app.state.assistant = widget_assistant()
    with TestClient(app).websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "sender": "s", "text": "hi"})
        assert ws.receive_json()["type"] == "typing"
        answer = ws.receive_json()
        assert answer["type"] == "replies"
        ws.send_json({"type": "message", "sender": "s", "text": "again", "id": "m2", "token": answer["token"]})
        frame = ws.receive_json()
    assert frame == {
        "type": "error",
        "error": {"code": "rate_limited", "message": "too many messages; retry in 60 s"},
        "in_reply_to": "m2",
    }
    assert [m.text for m in app.state.assistant.messages] == ["hi"]


def test_socket_refuses_other_origins(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as e,
        client.websocket_connect("/ws/chat", headers={"origin": "https://evil.example"}) as ws,
    ):
        ws.receive_json()
    assert e.value.code == 1008


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "shop.example", [], True),
        ("https://shop.example", "shop.example", [], True),
        ("https://evil.example", "shop.example", [], False),
        ("https://www.shop.example", "api.shop.example", ["https://www.shop.example"], True),
        ("https://anyone.example", "api.shop.example", ["*"], True),
    ],
)
def test_origin_allowed(origin: str | None, host: str, allowed: list[str], ok: bool) -> None:
    assert origin_allowed(origin, host, allowed) is ok


# -- history -------------------------------------------------------------------------------------------
def test_history_endpoint_restores_the_conversation_with_separators(client: TestClient) -> None:
    tokens: dict[str, str] = {}
    with client.websocket_connect("/ws/chat") as ws:
        for text in ("how do I return this", "/restart", "hello again"):
            say(ws, tokens, "h1", text)
    response = client.get("/conversations/h1/history", headers={"X-Conversation-Token": tokens["h1"]})
    assert response.status_code == 200
    body = response.json()
    assert body["sender"] == "h1"
    assert body["token"]
    assert [(m["role"], m.get("kind"), m["text"]) for m in body["messages"]] == [
        ("user", None, "how do I return this"),
        ("bot", None, "You have **30 days**."),
        ("separator", "restart", ""),
        ("bot", None, "Let's start again."),
        ("user", None, "hello again"),
        ("bot", None, "echo: hello again"),
    ]
    assert body["messages"][1]["sources"][0]["url"] == "https://ateliernord.example/help/returns"
    assert all(isinstance(m["time"], float) for m in body["messages"])


def test_history_of_an_unknown_sender_is_empty_with_its_token_and_refused_without(
    client: TestClient, app: FastAPI
) -> None:
    token = tokens_of(app).issue("nobody")
    body = client.get("/conversations/nobody/history", headers={"X-Conversation-Token": token}).json()
    assert body["sender"] == "nobody" and body["messages"] == [] and body["token"]
    response = client.get("/conversations/nobody/history")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "conversation_token_required"


def test_history_while_starting_is_503_in_the_error_shape(client: TestClient, app: FastAPI) -> None:
    app.state.assistant = None
    response = client.get("/conversations/x/history")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def test_display_history_drops_silent_messages_and_edge_separators() -> None:
    events = [
        {"event": "session_started", "timestamp": 1},
        {"event": "user", "text": "/greet", "metadata": {"silent": True}, "timestamp": 2},
        {"event": "bot", "text": "Hi", "data": {"id": "b1"}, "timestamp": 3},
        {"event": "pause", "timestamp": 4},
        {"event": "session_started", "timestamp": 5},
    ]
    messages = display_history(events, {"b1": "down"})
    assert [(m.role, m.text, m.feedback) for m in messages] == [("bot", "Hi", "down")]


# -- feedback ------------------------------------------------------------------------------------------
def test_feedback_is_an_idempotent_upsert_shown_in_history(client: TestClient, app: FastAPI) -> None:
    client.app.state.assistant.handle(Message("f1", "returns?"))  # type: ignore[attr-defined]
    client.headers["X-Conversation-Token"] = tokens_of(app).issue("f1")
    first = client.post("/feedback", json={"sender": "f1", "reply_id": "r1", "value": "up"})
    again = client.post("/feedback", json={"sender": "f1", "reply_id": "r1", "value": "up"})
    changed = client.post("/feedback", json={"sender": "f1", "reply_id": "r1", "value": "down", "comment": "vague"})
    assert [r.status_code for r in (first, again, changed)] == [201, 201, 201]
    assert changed.json() == {
        "sender": "f1",
        "token": changed.json()["token"],
        "reply_id": "r1",
        "value": "down",
        "comment": "vague",
        "replies": [],  # this fake assistant scripts no answer to a thumbs down
    }
    assert tokens_of(app).valid("f1", changed.json()["token"])
    store = app.state.feedback
    assert isinstance(store, SqlFeedbackStore)
    assert [(f.reply_id, f.value) for f in store.list("f1")] == [("r1", "down")]
    history = client.get("/conversations/f1/history").json()["messages"]
    assert history[-1]["feedback"] == "down"


def test_feedback_for_a_reply_the_bot_never_sent_is_refused(client: TestClient, app: FastAPI) -> None:
    token = {"X-Conversation-Token": tokens_of(app).issue("f2")}
    response = client.post("/feedback", json={"sender": "f2", "reply_id": "never-seen", "value": "up"}, headers=token)
    assert response.status_code == 404
    assert "never-seen" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sender": "s", "reply_id": "r", "value": "meh"}, "value"),
        ({"sender": "", "reply_id": "r", "value": "up"}, "sender"),
        ({"sender": "s", "value": "up"}, "reply_id"),
        ({"sender": "s", "reply_id": "r", "value": "up", "comment": "x" * 2001}, "comment"),
        ({"sender": "s", "reply_id": "r", "value": "up", "stars": 5}, "stars"),
    ],
)
def test_feedback_validation_uses_the_error_shape(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/feedback", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [d["field"] for d in error["details"]]


@pytest.mark.parametrize("make_store", [InMemoryFeedbackStore, lambda: SqlFeedbackStore.from_url("sqlite://")])
def test_feedback_stores_upsert_per_sender_and_reply(make_store: Any) -> None:
    store = make_store()
    first = store.record(Feedback("a", "r1", "up"))
    store.record(Feedback("b", "r1", "down"))
    second = store.record(Feedback("a", "r1", "down", comment="changed my mind"))
    assert second.value == "down"
    assert second.comment == "changed my mind"
    assert second.created_at == first.created_at
    assert store.get("a", "r1") == second
    assert store.get("a", "nope") is None
    assert {(f.sender_id, f.value) for f in store.list()} == {("a", "down"), ("b", "down")}
    assert [f.sender_id for f in store.list("b")] == ["b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a", "r", "sideways"), "feedback value must be one of"),
        (("", "r", "up"), "needs a sender and a reply id"),
    ],
)
def test_feedback_rejects_bad_values(args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Feedback(*args)  # type: ignore[arg-type]


# -- pages ---------------------------------------------------------------------------------------------
def test_demo_page_embeds_the_widget_with_one_script_tag(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert html.count("<script") == 1
    assert 'src="/static/widget.js"' in html
    for address in (
        "12 rue du Faubourg, 75010 Paris",
        "Torstraße 88, 10119 Berlin",
        "41 Redchurch Street, London E2 7DJ",
    ):
        assert address in html


def test_demo_page_gives_the_widget_the_servers_message_limit(tmp_path: Path) -> None:
    settings = Settings(project_dir=ROOT, state_dir=tmp_path / "state", max_message_chars=500)
    html = TestClient(create_app(settings)).get("/").text
    assert 'data-max-length="500"' in html


def test_widget_never_cuts_a_message_silently() -> None:
    source = (ROOT / "server" / "static" / "widget.js").read_text()
    # a `maxlength` attribute on the message box would cut a long paste without a word
    assert not re.search(r"\bmaxlength\s*:|[\"']maxlength[\"']", source)


def test_widget_feedback_wording_lives_in_the_strings_table_only() -> None:
    source = (ROOT / "server" / "static" / "widget.js").read_text()
    for words in ("Helpful", "Not helpful", "Was this answer helpful?"):
        assert source.count(f'"{words}"') == 1, words


@pytest.mark.parametrize("name", ["widget.js", "shop.css", "favicon.svg"])
def test_static_files_are_served(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.content


def test_widget_never_uses_inner_html() -> None:
    source = (ROOT / "server" / "static" / "widget.js").read_text()
    assert "innerHTML" not in source.replace("Never innerHTML", "")
    assert "insertAdjacentHTML" not in source
    assert "outerHTML" not in source


def test_every_widget_option_and_css_property_is_documented() -> None:
    source = (ROOT / "server" / "static" / "widget.js").read_text()
    docs = (ROOT / "docs" / "widget.md").read_text()

    def block(name: str) -> str:
        start = source.index(f"const {name} = {{")
        return source[start : source.index("};", start)]

    options = re.findall(r"^\s{4}(\w+):", block("STRINGS") + block("OPTIONS"), re.M)
    attributes = ["data-" + re.sub(r"[A-Z]", lambda m: "-" + m.group().lower(), name) for name in options]
    properties = sorted(set(re.findall(r"^\s+(--sb-[\w-]+):", source, re.M)))
    assert len(attributes) > 20 and len(properties) > 15
    assert [a for a in attributes if f"`{a}`" not in docs] == []
    assert [p for p in properties if f"`{p}`" not in docs] == []
