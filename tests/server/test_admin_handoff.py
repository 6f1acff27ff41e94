"""Operator endpoints of the handoff tickets (`server/routes/admin_handoff.py`) on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.dialogue.handoff import InMemoryHandoffStore, TranscriptLine
from bot.dialogue.state import ConversationState
from bot.testing.fakes import ScriptedAssistant
from server.app import create_app

NOW = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def served(tmp_path: Path) -> tuple[TestClient, InMemoryHandoffStore, ScriptedAssistant]:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state"))
    app.state.assistant = assistant = ScriptedAssistant()
    app.state.handoffs = handoffs = InMemoryHandoffStore(lambda: NOW)
    return TestClient(app, client=("127.0.0.1", 50000)), handoffs, assistant  # admin answers loopback


def test_open_tickets_are_listed_with_their_transcript(
    served: tuple[TestClient, InMemoryHandoffStore, ScriptedAssistant],
) -> None:
    client, handoffs, _ = served
    handoffs.open("u1", "human please", [TranscriptLine("customer", "human please", NOW)])
    handoffs.resolve(handoffs.open("u2", "agent", []).id)
    assert client.get("/admin/handoffs").json() == {
        "tickets": [
            {
                "id": 1,
                "sender_id": "u1",
                "status": "open",
                "reason": "human please",
                "created_at": "2026-12-21T09:00:00+00:00",
                "transcript": [{"speaker": "customer", "text": "human please", "at": "2026-12-21T09:00:00Z"}],
                "resolved_at": None,
                # the console's live handoff (docs/console.md): nobody took it yet
                "agent": None,
                "taken_at": None,
                "agent_seen_at": None,
                "customer_typing_at": None,
                "contact_email": None,
            }
        ]
    }
    resolved = client.get("/admin/handoffs", params={"status": "resolved"}).json()["tickets"]
    assert [(t["sender_id"], t["resolved_at"]) for t in resolved] == [("u2", "2026-12-21T09:00:00+00:00")]


def test_resume_gives_the_conversation_back(served: tuple[TestClient, InMemoryHandoffStore, ScriptedAssistant]) -> None:
    client, handoffs, assistant = served
    assistant.tracker_store.save(ConversationState("u1", paused=True))
    ticket = handoffs.open("u1", "help", [])
    body = client.post(f"/admin/handoffs/{ticket.id}/resume").json()
    assert body["resumed"] is True and body["ticket"]["status"] == "resolved"
    state = assistant.tracker_store.load("u1")
    assert state is not None and not state.paused


def test_unknown_ticket_and_unknown_status_are_json_errors(
    served: tuple[TestClient, InMemoryHandoffStore, ScriptedAssistant],
) -> None:
    client, _, _ = served
    missing = client.post("/admin/handoffs/99/resume")
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "no handoff ticket 99 — list open tickets with `supportbot handoff list`",
            }
        },
    )
    weird = client.get("/admin/handoffs", params={"status": "weird"})
    assert (weird.status_code, weird.json()["error"]["message"]) == (
        422,
        "status 'weird' is not one of: open, resolved",
    )
