"""Return form: the 30-day window, excluded items, reasons, and the RMA."""

from __future__ import annotations

from typing import Any

import pytest

from bot.actions.backend.sql import SqlShopBackend
from bot.actions.returns import ActionAskReturnItems, ActionSubmitReturn, ValidateReturnForm

from .conftest import entity, make_tracker, run_action


def verify(deps: dict[str, Any], domain: dict[str, Any], number: str, email: str):  # type: ignore[no-untyped-def]
    tracker = make_tracker(
        text=email, candidates={"order_email": email}, slots={"order_number": number}, active_loop="return_form"
    )
    return run_action(ValidateReturnForm(**deps), tracker, domain)


@pytest.mark.parametrize(
    ("number", "email", "response"),
    [
        ("AN-10003", "ben@example.com", "utter_return_refused_window_closed"),  # delivered 45 days ago
        ("AN-10010", "elena@example.com", "utter_return_refused_window_closed"),  # delivered 31 days ago
        ("AN-10001", "anna@example.com", "utter_return_refused_not_delivered"),  # still on its way
    ],
)
def test_orders_outside_the_window_are_refused_with_the_reason(
    deps: dict[str, Any], domain: dict[str, Any], number: str, email: str, response: str
) -> None:
    result = verify(deps, domain, number, email)
    assert result.responses == [response]
    assert {"event": "active_loop", "name": None, "timestamp": None} in result.events


def test_window_closed_says_when(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    message = verify(deps, domain, "AN-10010", "elena@example.com").message("utter_return_refused_window_closed")
    assert message["delivered_on"] == "Friday 20 November"
    assert message["deadline"] == "Sunday 20 December"


def test_an_order_delivered_29_days_ago_can_be_returned(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    assert verify(deps, domain, "AN-10009", "elena@example.com").messages == []


def test_excluded_items_are_refused_and_the_others_kept(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "the cashmere sweater and the earrings"
    tracker = make_tracker(
        text=text,
        entities=[
            entity("item", "cashmere sweater", "cashmere sweater", text),
            entity("item", "earrings", "earrings", text),
        ],
        candidates={"return_items": "cashmere sweater"},
        slots={"order_number": "AN-10002", "order_email": "anna@example.com"},
        active_loop="return_form",
    )
    result = run_action(ValidateReturnForm(**deps), tracker, domain)
    assert result.responses == ["utter_return_item_refused_excluded"]
    assert result.messages[0]["item"] == "Gold hoop earrings"
    assert len(result.slots["return_items"]) == 1


def test_unknown_item_and_unknown_reason_are_corrected(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    slots = {"order_number": "AN-10002", "order_email": "anna@example.com"}
    item = run_action(
        ValidateReturnForm(**deps),
        make_tracker(text="a canoe", candidates={"return_items": "a canoe"}, slots=slots, active_loop="return_form"),
        domain,
    )
    assert item.responses == ["utter_return_item_unknown"] and item.slots["return_items"] is None
    reason = run_action(
        ValidateReturnForm(**deps),
        make_tracker(text="purple", candidates={"return_reason": "purple"}, slots=slots, active_loop="return_form"),
        domain,
    )
    assert reason.responses == ["utter_return_reason_unknown"] and reason.slots["return_reason"] is None


def test_the_items_question_offers_returnable_items_as_buttons(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    tracker = make_tracker(slots={"order_number": "AN-10002", "order_email": "anna@example.com"})
    result = run_action(ActionAskReturnItems(**deps), tracker, domain)
    titles = [b["title"] for b in result.messages[0]["buttons"]]
    assert titles == ["Cashmere sweater", "Silk scarf", "All of them"]


def test_confirmed_return_gets_an_rma(deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend) -> None:
    order = backend.find_order("AN-10002", "anna@example.com")
    assert order is not None
    slots = {
        "order_number": "AN-10002",
        "order_email": "anna@example.com",
        "return_items": [str(order.items[0].id)],
        "return_reason": "too_small",
        "return_confirmed": True,
    }
    result = run_action(ActionSubmitReturn(**deps), make_tracker(slots=slots), domain)
    assert result.responses == ["utter_return_created"]
    assert result.messages[0]["rma"].startswith("RMA-")
    after = backend.find_order("AN-10002", "anna@example.com")
    assert after is not None and after.items[0].returned
