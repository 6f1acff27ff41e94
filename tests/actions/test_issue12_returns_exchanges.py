"""Issue 12: returns as customers ask for them — everything back, items kept, exchanges for a size or for
another piece — and cancelling several orders in one message."""

from __future__ import annotations

from typing import Any

import pytest

from bot.actions.backend.sql import SqlShopBackend
from bot.actions.orders import ValidateCancelOrderForm
from bot.actions.returns import (
    EXCHANGE,
    EXCHANGE_SIZE,
    ActionAskReturnConfirmed,
    ActionSubmitReturn,
    ValidateReturnForm,
    exchange_wanted,
    size_of,
    without_kept,
)

from .conftest import entity, make_tracker, run_action


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("the black jeans are too big, can I swap them for a smaller size?", "size"),
        ("can I exchange it for an M?", "size"),
        ("can I exchange this?", "size"),
        ("can I exchange the cashmere sweater for the cardigan instead?", "other"),
        ("I changed my mind", None),
        ("change of mind", None),
        ("return the coat please", None),
    ],
)
def test_an_exchange_is_for_a_size_or_for_another_piece(text: str, wanted: str | None) -> None:
    assert exchange_wanted(text) == wanted


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("waist 27 please", "27"),
        ("an M", "M"),
        ("size xl", "XL"),
        ("it's an M please", "M"),
        ("the smaller one", None),
        ("it's fine", None),
    ],
)
def test_the_size_is_read_from_the_answer(text: str, size: str | None) -> None:
    assert size_of(text) == size


def test_items_the_customer_keeps_are_left_out() -> None:
    text = "wait no, I meant the black jeans, I'm keeping the cardigan"
    assert without_kept(["black jeans", "cardigan"], text) == ["black jeans"]
    assert without_kept(["black jeans"], "the black jeans don't fit") == ["black jeans"]


def test_everything_back_lists_what_cannot_go_back(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "I want to return everything from AN-10019, chloe@example.com"
    tracker = make_tracker(
        text=text,
        intent="start_return",
        candidates={"order_email": "chloe@example.com"},
        slots={"order_number": "AN-10019"},
        active_loop="return_form",
    )
    result = run_action(ValidateReturnForm(**deps), tracker, domain)
    assert result.responses == ["utter_return_item_refused_excluded"]
    assert result.message("utter_return_item_refused_excluded")["item"] == "Gold hoop earrings"
    returned = [e["value"] for e in result.events if e.get("name") == "return_items"]
    assert len(returned[-1]) == 1  # the wool coat only


def test_a_size_exchange_asks_which_size(deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend) -> None:
    order = backend.find_order("AN-10009", "elena@example.com")
    assert order is not None
    jeans = next(i for i in order.items if i.name == "Black jeans")
    text = "the black jeans are too big, can I swap them for a smaller size?"
    slots = {"order_number": "AN-10009", "order_email": "elena@example.com", "return_items": [str(jeans.id)]}
    tracker = make_tracker(
        text=text,
        intent="start_return",
        entities=[entity("return_reason", "too_large", "too big", text)],
        candidates={"return_reason": "too_large"},
        slots=slots,
        active_loop="return_form",
    )
    result = run_action(ValidateReturnForm(**deps), tracker, domain)
    assert {"event": "slot", "timestamp": None, "name": EXCHANGE, "value": True} in result.events
    assert {"event": "slot", "timestamp": None, "name": "requested_slot", "value": EXCHANGE_SIZE} in result.events

    exchange = {**slots, "return_reason": "too_large", EXCHANGE: True, EXCHANGE_SIZE: "27"}
    confirm = run_action(ActionAskReturnConfirmed(**deps), make_tracker(slots=exchange), domain)
    assert confirm.responses == ["utter_ask_exchange_confirmed"]
    assert confirm.message("utter_ask_exchange_confirmed")["size"] == "27"
    done = run_action(ActionSubmitReturn(**deps), make_tracker(slots={**exchange, "return_confirmed": True}), domain)
    assert done.responses == ["utter_return_created_exchange"]
    assert done.messages[0]["rma"].startswith("RMA-")


def test_an_unreadable_size_is_asked_again(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    slots = {"order_number": "AN-10009", "order_email": "elena@example.com", EXCHANGE: True}
    tracker = make_tracker(
        text="the smaller one", candidates={EXCHANGE_SIZE: "the smaller one"}, slots=slots, active_loop="return_form"
    )
    result = run_action(ValidateReturnForm(**deps), tracker, domain)
    assert result.responses == ["utter_exchange_size_unknown"]
    assert {"event": "slot", "timestamp": None, "name": EXCHANGE_SIZE, "value": None} in result.events


def test_an_exchange_for_another_piece_is_explained(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "can I exchange the cashmere sweater from AN-10002 for the cardigan instead?"
    tracker = make_tracker(
        text=text,
        intent="start_return",
        candidates={"order_email": "anna@example.com"},
        slots={"order_number": "AN-10002"},
        active_loop="return_form",
    )
    result = run_action(ValidateReturnForm(**deps), tracker, domain)
    assert result.responses == ["utter_exchange_other_item"]
    assert not any(e.get("name") == EXCHANGE for e in result.events)


def test_two_orders_to_cancel_the_packed_one_is_refused(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "please cancel both AN-10004 and AN-10018, ben@example.com"
    tracker = make_tracker(
        text=text,
        intent="cancel_order",
        entities=[
            entity("order_number", "AN-10004", "AN-10004", text),
            entity("order_number", "AN-10018", "AN-10018", text),
        ],
        candidates={"order_number": "AN-10004", "order_email": "ben@example.com"},
        active_loop="cancel_order_form",
    )
    result = run_action(ValidateCancelOrderForm(**deps), tracker, domain)
    assert result.responses == ["utter_order_not_cancellable"]
    assert result.message("utter_order_not_cancellable")["order_number"] == "AN-10018"
    assert not any(e.get("event") == "active_loop" for e in result.events)  # AN-10004 goes on to the question


def test_a_second_order_not_with_that_email_is_left_out(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "cancel AN-10004 and AN-10099, ben@example.com"
    tracker = make_tracker(
        text=text,
        intent="cancel_order",
        entities=[
            entity("order_number", "AN-10004", "AN-10004", text),
            entity("order_number", "AN-10099", "AN-10099", text),
        ],
        candidates={"order_number": "AN-10004", "order_email": "ben@example.com"},
        active_loop="cancel_order_form",
    )
    result = run_action(ValidateCancelOrderForm(**deps), tracker, domain)
    assert result.responses == ["utter_order_not_found_one"]


def test_a_size_named_with_the_exchange_is_taken(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "the linen shirt is too tight, could I exchange it for an L?"
    slots = {"order_number": "AN-10012", "order_email": "felix@example.com", "return_items": ["1"]}
    tracker = make_tracker(
        text=text,
        entities=[entity("size", "L", "L", text), entity("return_reason", "too_small", "too tight", text)],
        candidates={"return_reason": "too_small"},
        slots=slots,
        active_loop="return_form",
    )
    result = run_action(ValidateReturnForm(**deps), tracker, domain)
    assert {"event": "slot", "timestamp": None, "name": EXCHANGE_SIZE, "value": "L"} in result.events
    assert not any(e.get("name") == "requested_slot" for e in result.events)  # nothing left to ask about it
