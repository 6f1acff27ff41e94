"""action_human_handoff: pauses the conversation, opens a ticket with the transcript, says what happens next.

The tickets themselves (store, resume) are tested in tests/dialogue/test_handoff.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.actions.backend.sql import SqlShopBackend
from bot.actions.handoff import ActionHumanHandoff
from bot.dialogue.handoff import InMemoryHandoffStore

from .conftest import STORES, make_tracker, run_action


def test_handoff_pauses_and_opens_a_ticket(
    deps: dict[str, Any], domain: dict[str, Any], handoffs: InMemoryHandoffStore
) -> None:
    history = [
        {"event": "user", "text": "where is my order", "timestamp": 1766307600.0},
        {"event": "bot", "text": "What's your order number?", "timestamp": 1766307601.0},
    ]
    tracker = make_tracker(text="I want to talk to a human", intent="human_handoff", events=history)
    result = run_action(ActionHumanHandoff(**deps), tracker, domain)
    assert result.responses == ["utter_handoff_opened"]  # Monday 10:00 in Paris: customer service is open
    assert {"event": "pause", "timestamp": None} in result.events
    tickets = handoffs.tickets()
    assert len(tickets) == 1 and tickets[0].sender_id == "test-user"
    assert [line.speaker for line in tickets[0].transcript] == ["customer", "bot", "customer"]
    assert result.slots["handoff_ticket"] == str(tickets[0].id)


def test_handoff_outside_service_hours_says_when_the_team_is_back(
    backend: SqlShopBackend, handoffs: InMemoryHandoffStore, domain: dict[str, Any]
) -> None:
    sunday = datetime(2026, 12, 27, 12, 0, tzinfo=UTC)
    action = ActionHumanHandoff(backend=backend, handoffs=handoffs, clock=lambda: sunday, stores_path=STORES)
    result = run_action(action, make_tracker(text="agent", intent="human_handoff"), domain)
    assert result.responses == ["utter_handoff_opened_closed", "utter_handoff_ask_email"]  # no email known yet
    assert result.messages[0]["next_open"] == "tomorrow at 09:00"
