"""Issue 13, item 5: failed verifications are capped per order (or booking) and per conversation.

Twelve wrong emails for one order number used to be followed by the right one being accepted. Now, after
`verification_max_failures` (5) pairs that do not match within `verification_cooldown_minutes`, the order
— and the conversation — get `utter_verification_locked` (with the cool-down in minutes) and no check at
all, the right email included, until the cool-down has passed. The handlers run as the engine calls them
(rasa-sdk form validation) on the seeded demo shop in SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from bot.actions.appointments.validation import ValidateCancelAppointmentForm
from bot.actions.backend.seed import seed
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.orders import ValidateOrderStatusForm
from bot.actions.stores import load_stores
from bot.dialogue.handoff import InMemoryHandoffStore

from ..actions.conftest import DOMAIN_FILE, NOW, STORES, TODAY, Result, make_tracker, run_action

CAP = 5  # Settings().verification_max_failures
COOLDOWN = timedelta(minutes=15)  # Settings().verification_cooldown_minutes
LOCKED = "utter_verification_locked"
NOT_FOUND = "utter_order_not_found"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def domain() -> dict[str, Any]:
    data = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def deps(clock: Clock) -> Iterator[dict[str, Any]]:
    shop = SqlShopBackend("sqlite://", clock=clock)
    seed(shop, reset=True, today=TODAY, stores=load_stores(STORES))
    yield {"backend": shop, "handoffs": InMemoryHandoffStore(clock), "clock": clock, "stores_path": STORES}
    shop.dispose()


def try_email(
    deps: dict[str, Any], domain: dict[str, Any], email: str, *, sender: str, number: str = "AN-10001"
) -> Result:
    """One customer message giving `email` for the order `number` in the order status form."""
    form = ValidateOrderStatusForm(**deps)
    tracker = make_tracker(
        text=email, candidates={"order_email": email}, slots={"order_number": number}, active_loop=form.form_name()
    )
    tracker.sender_id = sender
    return run_action(form, tracker, domain)


def test_twelve_wrong_emails_then_the_right_one_is_refused(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    answers = [try_email(deps, domain, f"guess{i}@example.com", sender="attacker").responses for i in range(12)]
    assert answers[:CAP] == [[NOT_FOUND]] * CAP
    assert answers[CAP:] == [[LOCKED]] * (12 - CAP)
    right = try_email(deps, domain, "anna@example.com", sender="attacker")
    assert right.responses == [LOCKED]
    assert right.message(LOCKED)["minutes"] == "15"
    assert "verified_order" not in right.slots  # nothing about the order was revealed
    assert right.slots["requested_slot"] is None  # the form ended: no more questions


def test_a_new_conversation_does_not_reset_the_order_cap(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    for i in range(CAP):
        try_email(deps, domain, f"guess{i}@example.com", sender=f"conversation-{i}")
    assert try_email(deps, domain, "anna@example.com", sender="yet-another").responses == [LOCKED]


def test_a_conversation_trying_many_orders_is_capped_too(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    for i in range(CAP):
        assert try_email(deps, domain, "anna@example.com", sender="s1", number=f"AN-2000{i}").responses == [NOT_FOUND]
    # the right pair, in the same conversation, is refused; in another conversation it is accepted
    assert try_email(deps, domain, "anna@example.com", sender="s1").responses == [LOCKED]
    assert try_email(deps, domain, "anna@example.com", sender="s2").slots["verified_order"] == "AN-10001"


def test_the_cap_lifts_after_the_cool_down(deps: dict[str, Any], domain: dict[str, Any], clock: Clock) -> None:
    for i in range(CAP):
        try_email(deps, domain, f"guess{i}@example.com", sender="s1")
    assert try_email(deps, domain, "anna@example.com", sender="s1").responses == [LOCKED]
    clock.now = NOW + COOLDOWN + timedelta(seconds=1)
    assert try_email(deps, domain, "anna@example.com", sender="s1").slots["verified_order"] == "AN-10001"


def test_a_few_mistakes_are_fine(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    for i in range(CAP - 1):
        try_email(deps, domain, f"typo{i}@example.com", sender="s1")
    assert try_email(deps, domain, "anna@example.com", sender="s1").slots["verified_order"] == "AN-10001"


def test_booking_references_are_capped_the_same_way(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    form = ValidateCancelAppointmentForm(**deps)

    def attempt(email: str) -> Result:
        tracker = make_tracker(
            text=email,
            candidates={"appointment_email": email},
            slots={"appointment_reference": "FT-DEMO1"},
            active_loop=form.form_name(),
        )
        tracker.sender_id = "booker"
        return run_action(form, tracker, domain)

    answers = [attempt(f"guess{i}@example.com").responses for i in range(CAP + 1)]
    assert answers == [["utter_appointment_not_found"]] * CAP + [[LOCKED]]
    assert attempt("anna@example.com").responses == [LOCKED]
