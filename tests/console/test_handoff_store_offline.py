"""Outside opening hours the handoff keeps the customer's email on the ticket, for the reply."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.actions.backend.sql import SqlShopBackend
from bot.actions.handoff import ActionHandoffNoteEmail, ActionHumanHandoff
from bot.dialogue.handoff import InMemoryHandoffStore
from tests.actions.conftest import STORES, make_tracker, run_action
from tests.actions.conftest import backend as backend  # noqa: F401  (fixtures)
from tests.actions.conftest import domain as domain  # noqa: F401
from tests.actions.conftest import seeded_template as seeded_template  # noqa: F401

SUNDAY = datetime(2026, 12, 27, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)


def handoff(backend: SqlShopBackend, handoffs: InMemoryHandoffStore, when: datetime) -> ActionHumanHandoff:
    return ActionHumanHandoff(backend=backend, handoffs=handoffs, clock=lambda: when, stores_path=STORES)


@pytest.mark.parametrize(
    ("text", "slots", "expected"),
    [
        ("a person please, write to ana.b@example.org", {}, "ana.b@example.org"),
        ("a person please", {"verified_email": "jo@example.com"}, "jo@example.com"),
    ],
)
def test_offline_the_known_email_is_kept_on_the_ticket(
    backend: SqlShopBackend, domain: dict[str, Any], text: str, slots: dict[str, Any], expected: str
) -> None:
    handoffs = InMemoryHandoffStore()
    result = run_action(handoff(backend, handoffs, SUNDAY), make_tracker(text=text, slots=slots), domain)
    assert result.responses == ["utter_handoff_opened_closed", "utter_handoff_email_noted"]
    assert result.message("utter_handoff_email_noted")["email"] == expected
    [ticket] = handoffs.tickets()
    assert ticket.contact_email == expected


def test_without_an_email_or_in_opening_hours_nothing_is_kept(backend: SqlShopBackend, domain: dict[str, Any]) -> None:
    handoffs = InMemoryHandoffStore()
    result = run_action(handoff(backend, handoffs, SUNDAY), make_tracker(text="a person, not@valid"), domain)
    assert result.responses == ["utter_handoff_opened_closed", "utter_handoff_ask_email"]
    open_hours = run_action(handoff(backend, handoffs, MONDAY), make_tracker(text="x@example.com", slots={}), domain)
    assert open_hours.responses == ["utter_handoff_opened"]
    assert [t.contact_email for t in handoffs.tickets()] == [None]


def test_an_email_written_while_waiting_offline_is_kept_on_the_ticket(
    backend: SqlShopBackend, domain: dict[str, Any]
) -> None:
    handoffs = InMemoryHandoffStore()
    ticket = handoffs.open("u1", "a person", [])
    note = ActionHandoffNoteEmail(backend=backend, handoffs=handoffs, clock=lambda: SUNDAY, stores_path=STORES)
    tracker = make_tracker(text="you can reach me at ana.b@example.org", slots={"handoff_ticket": str(ticket.id)})
    result = run_action(note, tracker, domain)
    assert result.responses == ["utter_handoff_email_noted"]
    assert result.message("utter_handoff_email_noted")["email"] == "ana.b@example.org"
    assert handoffs.get(ticket.id).contact_email == "ana.b@example.org"
    nothing = run_action(note, make_tracker(text="no email here", slots={"handoff_ticket": str(ticket.id)}), domain)
    assert nothing.responses == [] and handoffs.get(ticket.id).contact_email == "ana.b@example.org"
