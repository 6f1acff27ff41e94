"""Anticipating the known customer: the greeting of a proven customer mentions their open order, fitting or
return and offers its next step; anonymous customers, and known ones with nothing open, get the usual
greeting. The dialogue runs the reference shop's real `action_greet_known_customer` in-process against a
seeded shop database; the return case and the selection rules are unit tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.backend import get_backend
from bot.actions.backend.activity import OPEN_RETURN_DAYS, OpenActivity, open_activity_of
from bot.actions.backend.protocol import Appointment, AppointmentStatus, Order, OrderStatus, Return
from bot.actions.greeting import ActionGreetKnownCustomer
from bot.customers.identity import KNOWN_CUSTOMER_METADATA_KEY, sign_customer_token
from bot.customers.store import InMemoryCustomerStore
from bot.dialogue.action_runner import InProcessActionRunner
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.memory import MemoryConfig
from bot.dialogue.state import ConversationState, event
from bot.responses import ResponseRenderer
from bot.testing.fixtures import IsolatedDatabase
from bot.types import IntentScore, Parse, Reply

SECRET = "greeting-test-secret-0123456789abcdef"
NOW = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)


@dataclass
class Shop:
    engine: DialogueEngine
    backend: Any

    def greet(self, sender: str, text: str = "/greet", **metadata: Any) -> tuple[list[Reply], ConversationState]:
        state = ConversationState(sender, session_id=1)
        state.add(event("session_started"))
        parse = Parse(text, IntentScore("greet", 1.0), (), (IntentScore("greet", 1.0),))
        return self.engine.handle(state, Turn(parse, None, "rest", metadata)), state


def token(customer: str) -> dict[str, str]:
    return {"customer_token": sign_customer_token(SECRET, customer, int(time.time()) + 3600)}


@pytest.fixture
def shop(project: Any, tmp_path: Path) -> Iterator[Shop]:
    database = IsolatedDatabase(tmp_path)  # the reference shop's actions use the settings' database
    database.open()
    domain = project.domain
    engine = DialogueEngine(
        domain,
        ResponseRenderer(domain.responses, seed=0),
        InProcessActionRunner("bot.actions"),
        intents=project.data.intents,
        entities=["shop", "email", "order_number"],
        customers=MemoryConfig(InMemoryCustomerStore(), SECRET),
    )
    try:
        yield Shop(engine, get_backend())
    finally:
        database.close()


def test_a_known_customer_with_an_order_on_its_way_is_told_and_offered_tracking(shop: Shop) -> None:
    activity = shop.backend.open_activity("1", datetime.now(UTC))  # Anna, signed in with the shop's id
    order = activity.orders[0]
    assert order.status in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY)

    replies, state = shop.greet("conv-anna", **token("1"))

    assert [r.response for r in replies] == ["utter_greet_known_order_on_its_way"]
    assert replies[0].text.startswith(f"Welcome back, Anna — your order {order.number} is on its way (due ")
    track = replies[0].buttons[0]
    assert track.title == "Track it"
    assert track.payload == f'/order_status{{"order_number": "{order.number}", "email": "anna@example.com"}}'
    assert '"known_customer"' not in json.dumps(state.to_json())  # handed to the action only while it ran


def test_a_known_customer_with_only_an_appointment_is_reminded_and_offered_to_reschedule(shop: Shop) -> None:
    activity = shop.backend.open_activity("elena@example.com", datetime.now(UTC))
    assert not activity.orders and activity.appointments
    booked = activity.appointments[0]

    replies, _ = shop.greet("conv-elena", **token("elena@example.com"))

    assert [r.response for r in replies] == ["utter_greet_known_appointment"]
    assert replies[0].text.startswith("Welcome back, Elena — see you on ") and " in Atelier Nord" in replies[0].text
    assert replies[0].buttons[0].title == "Reschedule"
    assert booked.reference in replies[0].buttons[0].payload


def test_a_known_customer_with_nothing_open_gets_the_usual_greeting(shop: Shop) -> None:
    for booked in shop.backend.open_activity("5", datetime.now(UTC)).appointments:  # Elena's only open business
        shop.backend.cancel_appointment(booked.reference, booked.email)

    replies, _ = shop.greet("conv-elena", **token("5"))

    assert [r.response for r in replies] == ["utter_greet"]
    assert "Welcome back" not in replies[0].text


def test_anonymous_and_forged_customers_get_the_usual_greeting(shop: Shop) -> None:
    forged = {KNOWN_CUSTOMER_METADATA_KEY: {"kind": "shop", "id": "1"}}
    bad_token = {"customer_token": sign_customer_token("another-secret-0123456789abcdef", "1", int(time.time()) + 60)}
    for metadata in ({}, forged, bad_token, {**forged, **bad_token}):
        replies, state = shop.greet("conv-anon", **metadata)
        assert [r.response for r in replies] == ["utter_greet"], metadata
        assert "action_greet_known_customer" not in repr(state.events)
        assert f'"{KNOWN_CUSTOMER_METADATA_KEY}"' not in json.dumps(state.to_json())  # a client's claim: not kept


def test_a_greeting_in_words_is_anticipated_too(shop: Shop) -> None:
    replies, _ = shop.greet("conv-anna", "hello there", **token("1"))
    assert [r.response for r in replies] == ["utter_greet_known_order_on_its_way"]


# -- the action and the selection, without the dialogue -----------------------------------------------
def order(number: str, status: OrderStatus, placed: int, due: date | None = None) -> Order:
    return Order(number, "zoe@example.org", "Zoé Martin", status, date(2026, 12, placed), "FR", 9900, "EUR",
                 expected_delivery=due)  # fmt: skip


def appointment(reference: str, starts: datetime, status: AppointmentStatus = AppointmentStatus.BOOKED) -> Appointment:
    return Appointment(reference, "paris", starts, "zoe@example.org", status, NOW - timedelta(days=3))


@dataclass
class FakeShop:
    """A backend offering only `CustomerActivitySource`."""

    activity: OpenActivity | None
    asked: list[str]

    def open_activity(self, customer: str, now: datetime) -> OpenActivity | None:
        self.asked.append(customer)
        return self.activity


def greet_with(activity: OpenActivity | None, domain: dict[str, Any], known: Any = "cust-9") -> list[dict[str, Any]]:
    fake = FakeShop(activity, [])
    metadata = {KNOWN_CUSTOMER_METADATA_KEY: {"kind": "shop", "id": known}} if known is not None else {}
    tracker = Tracker("s", {}, {"intent": {"name": "greet"}, "metadata": metadata}, [], False, None, {}, "")
    dispatcher = CollectingDispatcher()
    action = ActionGreetKnownCustomer(backend=fake, clock=lambda: NOW, stores_path=STORES)
    assert asyncio.run(action.run(dispatcher, tracker, domain)) == []
    assert fake.asked == ([str(known)] if known is not None else [])
    return list(dispatcher.messages)


STORES = Path(__file__).resolve().parents[1] / "data" / "stores.yml"


@pytest.fixture
def domain_dict(project: Any) -> dict[str, Any]:
    return dict(project.domain.as_rasa_dict(project.data.intents, ["email"]))


def test_an_open_return_is_mentioned_with_the_refund_question(domain_dict: dict[str, Any]) -> None:
    recent = Return("RMA-ABC123", "AN-10002", (1,), "too_small", NOW - timedelta(days=2))
    messages = greet_with(OpenActivity("Zoé", returns=(recent,)), domain_dict)
    assert messages == [
        {**messages[0], "response": "utter_greet_known_return", "first_name": "Zoé", "rma": "RMA-ABC123",
         "order_number": "AN-10002"}
    ]  # fmt: skip


def test_nothing_open_unknown_to_the_shop_or_anonymous_says_nothing(domain_dict: dict[str, Any]) -> None:
    assert greet_with(OpenActivity("Zoé"), domain_dict) == []
    assert greet_with(None, domain_dict) == []
    assert greet_with(OpenActivity("Zoé", orders=(order("AN-1", OrderStatus.PAID, 1),)), domain_dict, None) == []


def test_the_most_pressing_thing_is_chosen(domain_dict: dict[str, Any]) -> None:
    activity = open_activity_of(
        "Zoé",
        [
            order("AN-1", OrderStatus.PAID, 20),
            order("AN-2", OrderStatus.SHIPPED, 10, date(2026, 12, 24)),
            order("AN-3", OrderStatus.DELIVERED, 19),
            order("AN-4", OrderStatus.CANCELLED, 19),
        ],
        [
            Return("RMA-OLD", "AN-0", (1,), "x", NOW - timedelta(days=OPEN_RETURN_DAYS + 1)),
            Return("RMA-NEW", "AN-0", (1,), "x", NOW - timedelta(days=1)),
        ],
        [
            appointment("FT-PAST", NOW - timedelta(hours=1)),
            appointment("FT-LATER", NOW + timedelta(days=5)),
            appointment("FT-SOON", NOW + timedelta(days=1)),
            appointment("FT-GONE", NOW + timedelta(hours=2), AppointmentStatus.CANCELLED),
        ],
        NOW,
    )
    assert [o.number for o in activity.orders] == ["AN-2", "AN-1"]  # on its way first, then the newest
    assert [r.rma for r in activity.returns] == ["RMA-NEW"]
    assert [a.reference for a in activity.appointments] == ["FT-SOON", "FT-LATER"]
    [message] = greet_with(activity, domain_dict)
    assert message["response"] == "utter_greet_known_order_on_its_way" and message["order_number"] == "AN-2"
    [message] = greet_with(OpenActivity("Zoé", orders=(order("AN-1", OrderStatus.PAID, 20),)), domain_dict)
    assert message["response"] == "utter_greet_known_order" and message["status"]
    [message] = greet_with(OpenActivity("Zoé", appointments=activity.appointments), domain_dict)
    assert message["response"] == "utter_greet_known_appointment" and message["reference"] == "FT-SOON"
