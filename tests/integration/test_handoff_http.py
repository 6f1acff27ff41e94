"""Human handoff over HTTP: the bot pauses, an operator lists the ticket and hands the conversation back."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_handoff_pause_list_and_resume(live_server: str) -> None:
    chat = f"{live_server}/chat"
    first = httpx.post(chat, json={"sender": "handoff-1", "message": "I want to talk to a human"}).json()
    assert "ticket" in first["replies"][0]["text"].lower()
    token = {"X-Conversation-Token": first["token"]}
    paused = httpx.post(chat, json={"sender": "handoff-1", "message": "where is my order?"}, headers=token).json()
    assert "order number" not in paused["replies"][0]["text"].lower()

    tickets = httpx.get(f"{live_server}/admin/handoffs").json()["tickets"]
    mine = [t for t in tickets if t["sender_id"] == "handoff-1"]
    assert len(mine) == 1 and mine[0]["status"] == "open"
    assert any("human" in line["text"] for line in mine[0]["transcript"])

    resumed = httpx.post(f"{live_server}/admin/handoffs/{mine[0]['id']}/resume").json()
    assert resumed["resumed"] is True and resumed["ticket"]["status"] == "resolved"
    token = {"X-Conversation-Token": paused["token"]}
    after = httpx.post(chat, json={"sender": "handoff-1", "message": "where is my order?"}, headers=token).json()
    assert "order number" in after["replies"][-1]["text"].lower()


def test_resume_unknown_ticket_is_404(live_server: str) -> None:
    response = httpx.post(f"{live_server}/admin/handoffs/999999/resume")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_bad_status_filter_is_422(live_server: str) -> None:
    response = httpx.get(f"{live_server}/admin/handoffs", params={"status": "weird"})
    assert response.status_code == 422
