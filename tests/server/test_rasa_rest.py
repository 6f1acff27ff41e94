"""Rasa's REST channel: the exact response list of rasa-interop §2, against a scripted assistant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from bot.types import Button, Message, Reply, Source
from server.app import create_app

SCRIPT: dict[str, list[Reply]] = {
    "hi": [Reply("Hello!\n\nHow can I help?")],
    "buttons": [Reply("More?", buttons=(Button("Yes", "/affirm"), Button("No", "/deny")))],
    "media": [Reply("It is 30 degrees", image="https://x/y.png", custom={"map": {"lat": 52.5}})],
    "faq": [
        Reply("Returns are free.", sources=(Source("returns", "Returns", "knowledge/returns.md"),), kind="knowledge")
    ],
    "two": [Reply("It is 30 degrees"), Reply("More?", buttons=(Button("Yes", "/affirm"),))],
}


def make_client(tmp_path: Path, **overrides: Any) -> tuple[TestClient, ScriptedAssistant]:
    settings = Settings(project_dir=tmp_path, state_dir=tmp_path / "state", **overrides)
    app = create_app(settings)
    assistant = ScriptedAssistant(SCRIPT)
    app.state.assistant = assistant
    return TestClient(app), assistant


@pytest.fixture
def client(tmp_path: Path) -> tuple[TestClient, ScriptedAssistant]:
    return make_client(tmp_path)


def post(client: TestClient, body: dict[str, Any], **params: str) -> Any:
    response = client.post("/webhooks/rest/webhook", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", [{"recipient_id": "u1", "text": "Hello!"}, {"recipient_id": "u1", "text": "How can I help?"}]),
        (
            "buttons",
            [
                {
                    "recipient_id": "u1",
                    "text": "More?",
                    "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
                }
            ],
        ),
        (
            "media",
            [
                {"recipient_id": "u1", "text": "It is 30 degrees"},
                {"recipient_id": "u1", "custom": {"map": {"lat": 52.5}}},
                {"recipient_id": "u1", "image": "https://x/y.png"},
            ],
        ),
        ("faq", [{"recipient_id": "u1", "text": "Returns are free."}]),
        (
            "two",
            [
                {"recipient_id": "u1", "text": "It is 30 degrees"},
                {"recipient_id": "u1", "text": "More?", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
            ],
        ),
        ("nothing to say", []),
    ],
)
def test_response_list_has_rasas_shape(client: tuple[TestClient, ScriptedAssistant], text: str, expected: Any) -> None:
    assert post(client[0], {"sender": "u1", "message": text}) == expected


def test_message_reaches_the_bot_with_sender_metadata_and_channel(client: tuple[TestClient, ScriptedAssistant]) -> None:
    http, assistant = client
    post(http, {"sender": "u7", "message": "hi", "metadata": {"page": "/shoes"}})
    assert assistant.messages[-1] == Message("u7", "hi", {"page": "/shoes"}, input_channel="rest")
    post(http, {"sender": "u7", "message": "hi", "input_channel": "facebook"})
    assert assistant.messages[-1].input_channel == "facebook"


def test_calls_without_a_sender_never_share_a_conversation(client: tuple[TestClient, ScriptedAssistant]) -> None:
    http, assistant = client
    first = post(http, {"message": "hi"})[0]["recipient_id"]
    assert assistant.messages[-1].sender_id == first
    second = post(http, {"message": "hi"})[0]["recipient_id"]
    assert assistant.messages[-1].sender_id == second
    assert first != second
    assert "default" not in (first, second)


def test_a_failure_is_logged_and_answered_with_an_empty_list(client: tuple[TestClient, ScriptedAssistant]) -> None:
    assert post(client[0], {"sender": "u1", "message": "boom"}) == []


def test_stream_answers_one_json_message_per_line(client: tuple[TestClient, ScriptedAssistant]) -> None:
    response = client[0].post(
        "/webhooks/rest/webhook", json={"sender": "u1", "message": "hi"}, params={"stream": "true"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    assert lines == [{"recipient_id": "u1", "text": "Hello!"}, {"recipient_id": "u1", "text": "How can I help?"}]


def test_channel_health(client: tuple[TestClient, ScriptedAssistant]) -> None:
    response = client[0].get("/webhooks/rest/")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_missing_message_is_a_json_error(client: tuple[TestClient, ScriptedAssistant]) -> None:
    response = client[0].post("/webhooks/rest/webhook", json={"sender": "u1"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["details"][0]["field"] == "message"


def test_not_ready_is_503_in_the_error_shape(tmp_path: Path) -> None:
    http, _ = make_client(tmp_path)
    http.app.state.assistant = None  # type: ignore[attr-defined]
    response = http.post("/webhooks/rest/webhook", json={"sender": "u1", "message": "hi"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def test_per_sender_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    http, assistant = make_client(tmp_path, rate_limit_per_minute=2)
    for _ in range(2):
        post(http, {"sender": "chatty", "message": "hi"})
    response = http.post("/webhooks/rest/webhook", json={"sender": "chatty", "message": "hi"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"
    assert len(assistant.messages) == 2
    post(http, {"sender": "someone-else", "message": "hi"})  # other conversations are not affected


def test_turns_are_counted_in_metrics(client: tuple[TestClient, ScriptedAssistant]) -> None:
    post(client[0], {"sender": "u1", "message": "faq"})
    text = client[0].get("/metrics").text
    assert 'supportbot_messages_total{channel="rest"} 1.0' in text
    assert 'supportbot_intents_total{intent="greet"} 1.0' in text
    assert 'supportbot_knowledge_answers_total{decision="answer"} 1.0' in text


RASA_KEYS = {"recipient_id", "text", "image", "buttons", "attachment", "custom"}


@pytest.mark.integration
def test_the_real_bot_answers_in_rasas_shape(live_server: str) -> None:
    import httpx

    url = f"{live_server}/webhooks/rest/webhook"
    greeting = httpx.post(url, json={"sender": "it-rest", "message": "/greet"}, timeout=60).json()
    assert greeting, "the greeting is not empty"
    assert all(set(item) <= RASA_KEYS and item["recipient_id"] == "it-rest" for item in greeting)
    titles = [b["title"] for item in greeting for b in item.get("buttons", [])]
    assert "Opening hours" in titles
    answer = httpx.post(
        url, json={"sender": "it-rest", "message": "how long does delivery to Germany take"}, timeout=60
    )
    items = answer.json()
    assert items and all(set(item) <= RASA_KEYS for item in items)
    assert all(item.get("text") for item in items if "buttons" not in item)
