"""The reference shop's handlers with customer memory: the remembered shop answers hours and starts a
booking, a verified email is not asked again, a verified booking proves the customer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.appointments import ValidateAppointmentForm, ValidateCancelAppointmentForm
from bot.actions.backend.seed import seed
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.hours import ActionStoreHours
from bot.actions.orders import ValidateOrderStatusForm
from bot.actions.stores import load_stores

ROOT = Path(__file__).resolve().parents[2]
STORES = ROOT / "tests" / "data" / "stores.yml"
NOW = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # Monday 21 December 2026, 10:00 in Paris


def clock() -> datetime:
    return NOW


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    tasks = yaml.safe_load((ROOT / "intents" / "domain" / "tasks.yml").read_text(encoding="utf-8"))
    general = yaml.safe_load((ROOT / "intents" / "responses.yml").read_text(encoding="utf-8"))
    return {**tasks, "responses": {**general["responses"], **tasks["responses"]}}


@pytest.fixture(scope="module")
def deps() -> Iterator[dict[str, Any]]:
    """One seeded shop for the module: these handlers only read it."""
    backend = SqlShopBackend("sqlite://", clock=clock)
    seed(backend, reset=True, today=date(2026, 12, 21), stores=load_stores(STORES))
    yield {"backend": backend, "clock": clock, "stores_path": STORES}
    backend.dispose()


def tracker(text: str, intent: str, slots: dict[str, Any], entities: list[dict[str, Any]] | None = None, *,
            loop: str | None = None, candidates: dict[str, Any] | None = None) -> Tracker:  # fmt: skip
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or []}
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": parse}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    return Tracker.from_dict(
        {
            "sender_id": "memory-test",
            "slots": {**slots, **(candidates or {})},
            "latest_message": parse,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": loop} if loop else {},
            "latest_action_name": "action_listen",
        }
    )


def run(
    action: Action, given: Tracker, domain: dict[str, Any]
) -> tuple[list[str], dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, given, domain))
    for message in dispatcher.messages:
        assert message.get("response") in domain["responses"], message
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return [str(m.get("response")) for m in dispatcher.messages], slots, dispatcher.messages


def test_hours_without_a_shop_answer_for_the_remembered_shop_and_say_so(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    said, slots, messages = run(
        ActionStoreHours(**deps), tracker("are you open now?", "ask_hours", {"customer_shop": "berlin"}), domain
    )
    assert said == ["utter_hours_open_now", "utter_hours_your_shop"]
    assert messages[0]["shop_name"] == messages[1]["shop_name"] == "Atelier Nord Berlin"
    assert slots["hours_query"]["shop"] == "berlin"


def test_a_named_shop_wins_over_the_remembered_one(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    entities = [{"entity": "shop", "value": "london", "start": 15, "end": 21}]
    said, _, messages = run(
        ActionStoreHours(**deps),
        tracker("is the shop in London open now?", "ask_hours", {"customer_shop": "berlin"}, entities),
        domain,
    )
    assert "utter_hours_your_shop" not in said and "London" in messages[0]["shop_name"]


def test_without_a_remembered_shop_hours_are_for_every_shop(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    said, _, _ = run(ActionStoreHours(**deps), tracker("are you open now?", "ask_hours", {}), domain)
    assert said == ["utter_hours_now_all"]


def test_a_booking_without_a_shop_starts_at_the_remembered_shop(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    said, slots, messages = run(
        ValidateAppointmentForm(**deps),
        tracker("book me a fitting", "book_appointment", {"customer_shop": "london"}, loop="appointment_form"),
        domain,
    )
    assert slots["appointment_shop"] == "london"
    assert said == ["utter_appointment_your_shop"] and messages[0]["shop_name"] == "Atelier Nord London"


def test_a_booking_uses_the_email_verified_earlier_when_it_comes_to_it(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    slots = {"verified_email": "anna@example.com", "appointment_shop": "berlin", "requested_slot": "appointment_time"}
    said, set_now, messages = run(
        ValidateAppointmentForm(**deps),
        tracker(
            "wednesday 3pm",
            "inform",
            slots,
            loop="appointment_form",
            candidates={"appointment_time": "2026-12-23T15:00:00+01:00"},
        ),
        domain,
    )
    assert set_now["appointment_email"] == "anna@example.com"
    assert said[-1] == "utter_using_verified_email" and messages[-1]["email"] == "anna@example.com"


def test_a_verified_booking_proves_the_customer(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    candidates = {"appointment_reference": "FT-DEMO1", "appointment_email": "anna@example.com"}
    _, slots, _ = run(
        ValidateCancelAppointmentForm(**deps),
        tracker(
            "cancel FT-DEMO1 anna@example.com",
            "cancel_appointment",
            {},
            loop="cancel_appointment_form",
            candidates=candidates,
        ),
        domain,
    )
    assert slots["verified_email"] == "anna@example.com"


def test_a_second_order_form_skips_the_email_verified_in_this_conversation(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    slots = {"verified_email": "anna@example.com", "verified_order": "AN-10001", "requested_slot": "order_number"}
    _, set_now, _ = run(
        ValidateOrderStatusForm(**deps),
        tracker("AN-10002", "inform", slots, loop="order_status_form", candidates={"order_number": "AN-10002"}),
        domain,
    )
    assert set_now["order_email"] == "anna@example.com"
