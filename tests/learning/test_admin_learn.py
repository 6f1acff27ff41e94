"""The admin API of learning (`server/routes/admin_learn.py`) over the real SQL stores, a knowledge base on the
hashing encoder and a scripted assistant: the error shape of every refusal, and a change live on return."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.encoding import FakeEncoder
from bot.faq.unanswered import SqliteUnansweredStore
from bot.testing.fakes import ScriptedAssistant
from server.app import create_app
from tests.learning.conftest import Project, knowledge_service


@pytest.fixture
def served(project: Project) -> tuple[TestClient, Settings]:
    settings = Settings(
        project_dir=project.root,
        state_dir=project.root / ".state",
        database_url=_own_database(project),
        watch_knowledge=False,
    )
    app = create_app(settings)
    app.state.assistant = assistant = ScriptedAssistant(intents=("greet", "order_status", "faq"))
    assistant.encoder = encoder = FakeEncoder(dim=256)
    app.state.knowledge = knowledge_service(project.knowledge, encoder)
    return TestClient(app, client=("127.0.0.1", 50000)), settings


def _own_database(project: Project) -> str:
    """This test's own database, even when a session fixture has set SUPPORTBOT_DATABASE_URL for the shop."""
    return f"sqlite:///{project.root / '.state' / 'supportbot.db'}"


def _customer_asked(settings: Settings, text: str, sender: str = "u1") -> None:
    """A conversation as the SQL tracker store keeps it: the question and the knowledge base's "I don't know"."""
    store = SqlTrackerStore.from_url(settings.resolved_database_url)
    state = ConversationState(sender)
    state.add(event("session_started"))
    state.add(event("user", text=text, parse_data={"intent": {"name": "faq", "confidence": 0.99}}, message_id="m1"))
    state.add(event("action", name="action_knowledge_unknown"))
    state.add(event("bot", text="I don't know", data={"id": "r1", "buttons": []}, metadata={"kind": "knowledge"}))
    store.save(state)
    SqliteUnansweredStore(settings.state_path / "supportbot.db").record(text, [("payment-methods", 0.5)])


def test_refresh_review_accept_and_the_change_is_live(served: tuple[TestClient, Settings], project: Project) -> None:
    client, settings = served
    _customer_asked(settings, "which payment methods are accepted online")
    refreshed = client.post("/admin/learn/refresh")
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["signals"] == 1  # the conversation message and its unanswered-log record are one message
    [suggestion] = body["suggestions"]
    assert (suggestion["kind"], suggestion["target"], suggestion["state"]) == ("alternate", "payment-methods", "open")
    assert suggestion["signals"] == {"abstention": 1} and suggestion["examples"] == [
        "which payment methods are accepted online"]  # fmt: skip
    number = suggestion["id"]

    shown = client.get(f"/admin/learn/suggestions/{number}").json()
    assert shown["file"] == "knowledge/payments.md" and not shown["conflict"]
    assert "+- which payment methods are accepted online" in shown["diff"]

    accepted = client.post(
        f"/admin/learn/suggestions/{number}/accept", json={"by": "anna", "base_hash": shown["base_hash"]}
    )
    assert accepted.status_code == 200, accepted.text
    out = accepted.json()
    assert out["suggestion"]["state"] == "accepted" and out["suggestion"]["decided_by"] == "anna"
    assert out["change"]["diff"] == shown["diff"]
    assert out["knowledge"]["ok"] is True
    snapshot = client.app.state.knowledge.snapshot  # type: ignore[attr-defined]
    assert "which payment methods are accepted online" in snapshot.entry("payment-methods").alternates

    again = client.post(f"/admin/learn/suggestions/{number}/accept", json={"by": "ben"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_decided"
    assert "already accepted by anna" in again.json()["error"]["message"]
    [record] = client.get("/admin/learn/audit").json()["audit"]
    assert (record["by"], record["action"], record["suggestion_id"]) == ("anna", "accepted", number)
    assert client.get("/admin/learn/suggestions", params={"state": "accepted"}).json()["suggestions"][0]["id"] == number


def test_a_file_changed_since_the_diff_is_409_and_untouched(
    served: tuple[TestClient, Settings], project: Project
) -> None:
    client, settings = served
    _customer_asked(settings, "which payment methods are accepted online")
    [suggestion] = client.post("/admin/learn/refresh").json()["suggestions"]
    shown = client.get(f"/admin/learn/suggestions/{suggestion['id']}").json()
    path = project.knowledge / "payments.md"
    path.write_text(path.read_text().replace("We take cards and PayPal.", "We take cards only."))
    edited = path.read_text()
    assert client.get(f"/admin/learn/suggestions/{suggestion['id']}").json()["conflict"] is True
    response = client.post(
        f"/admin/learn/suggestions/{suggestion['id']}/accept", json={"by": "anna", "base_hash": shown["base_hash"]}
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "file_changed"
    assert path.read_text() == edited


def test_refusals_use_the_error_shape(served: tuple[TestClient, Settings]) -> None:
    client, settings = served
    missing = client.post("/admin/learn/suggestions/77/reject", json={"by": "anna"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    no_by = client.post("/admin/learn/suggestions/77/accept", json={})
    assert no_by.status_code == 422 and no_by.json()["error"]["code"] == "invalid_request"
    bad_id = client.get("/admin/learn/suggestions/0")
    assert bad_id.status_code == 422
    bad_state = client.get("/admin/learn/suggestions", params={"state": "maybe"})
    assert bad_state.status_code == 422 and "is not one of" in bad_state.json()["error"]["message"]
    _customer_asked(settings, "do you sell gift vouchers for weddings")
    [new_entry] = client.post("/admin/learn/refresh").json()["suggestions"]
    assert new_entry["kind"] == "new_entry"
    refused = client.post(f"/admin/learn/suggestions/{new_entry['id']}/accept", json={"by": "anna"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_applicable"
    assert "answer" in refused.json()["error"]["message"]
    preview = client.post(f"/admin/learn/suggestions/{new_entry['id']}/preview", json={"answer": "Yes, from €20."})
    assert "+Yes, from €20." in preview.json()["diff"]


def test_admin_token_is_required_when_set(project: Project) -> None:
    settings = Settings(
        project_dir=project.root,
        state_dir=project.root / ".state",
        database_url=_own_database(project),
        admin_token="s3cret",
    )
    app = create_app(settings)
    app.state.assistant = ScriptedAssistant()
    client = TestClient(app)
    assert client.get("/admin/learn/suggestions").json()["error"]["code"] == "unauthorized"
    assert client.get("/admin/learn/model").status_code == 401


def test_the_model_status_before_the_server_started_retraining(served: tuple[TestClient, Settings]) -> None:
    client, _ = served
    assert client.get("/admin/learn/model").json() == {"state": "starting"}
    assert client.post("/admin/learn/retrain").status_code == 422
