"""Order status and order cancellation: verification without enumeration, statuses, confirmation."""

from __future__ import annotations

from typing import Any

from bot.actions.backend.protocol import OrderStatus
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.orders import (
    ActionAskCancelOrderConfirmed,
    ActionOrderStatus,
    ActionSubmitCancelOrder,
    ValidateCancelOrderForm,
    ValidateOrderStatusForm,
)

from .conftest import entity, make_tracker, run_action


def validate(form: Any, domain: dict[str, Any], text: str, candidates: dict[str, Any], **kwargs: Any):  # type: ignore[no-untyped-def]
    tracker = make_tracker(text=text, candidates=candidates, active_loop=form.form_name(), **kwargs)
    return run_action(form, tracker, domain)


def test_valid_pair_is_accepted_and_status_shows_tracking(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "anna@example.com"
    result = validate(
        ValidateOrderStatusForm(**deps),
        domain,
        text,
        {"order_email": text},
        slots={"order_number": "AN-10001"},
        entities=[entity("email", text, text, text)],
    )
    assert result.messages == []
    assert result.slots["order_email"] == "anna@example.com"

    tracker = make_tracker(slots={"order_number": "AN-10001", "order_email": "anna@example.com"})
    status = run_action(ActionOrderStatus(**deps), tracker, domain)
    assert status.responses == ["utter_order_status_shipped"]
    message = status.message("utter_order_status_shipped")
    assert message["carrier"] == "DHL"
    assert message["tracking_url"].startswith("https://tracking.example/dhl/")
    assert message["expected_delivery"] == "Wednesday 23 December"
    assert status.slots == {"order_number": None, "order_email": None}


def test_wrong_email_and_wrong_number_get_the_same_answer(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    form = ValidateOrderStatusForm(**deps)
    wrong_email = validate(
        form, domain, "ben@example.com", {"order_email": "ben@example.com"}, slots={"order_number": "AN-10001"}
    )
    wrong_number = validate(
        form, domain, "AN-99999", {"order_number": "AN-99999"}, slots={"order_email": "anna@example.com"}
    )
    assert wrong_email.messages == wrong_number.messages == [wrong_email.message("utter_order_not_found")]
    for result in (wrong_email, wrong_number):
        # the email is asked again; the number stays ("sorry, it's ben@…" completes it, a new one replaces it)
        assert result.slots["order_email"] is None
        assert result.slots.get("order_number", "kept") is not None


def test_unparseable_order_number_gets_a_specific_correction(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(ValidateOrderStatusForm(**deps), domain, "it's 12345", {"order_number": "it's 12345"})
    assert result.responses == ["utter_invalid_order_number"]
    assert result.slots["order_number"] is None


def test_order_number_is_normalised(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(ValidateOrderStatusForm(**deps), domain, "an 10001", {"order_number": "an 10001"})
    assert result.slots["order_number"] == "AN-10001"


def test_bad_email_gets_a_specific_correction(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(ValidateOrderStatusForm(**deps), domain, "anna at example", {"order_email": "anna at example"})
    assert result.responses == ["utter_invalid_email"]


def test_cancel_a_paid_order_after_confirmation(
    deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend
) -> None:
    slots = {"order_number": "AN-10005", "order_email": "chloe@example.com"}
    checked = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        "chloe@example.com",
        {"order_email": "chloe@example.com"},
        slots={"order_number": "AN-10005"},
    )
    assert checked.messages == []
    ask = run_action(ActionAskCancelOrderConfirmed(**deps), make_tracker(slots=slots), domain)
    assert ask.responses == ["utter_ask_cancel_order_confirmed"]
    assert ask.messages[0]["items"] == "Silk blouse"

    done = run_action(
        ActionSubmitCancelOrder(**deps), make_tracker(slots={**slots, "cancel_order_confirmed": True}), domain
    )
    assert done.responses == ["utter_order_cancelled"]
    order = backend.find_order("AN-10005", "chloe@example.com")
    assert order is not None and order.status is OrderStatus.CANCELLED


def test_deny_keeps_the_order(deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend) -> None:
    slots = {"order_number": "AN-10005", "order_email": "chloe@example.com", "cancel_order_confirmed": False}
    done = run_action(ActionSubmitCancelOrder(**deps), make_tracker(slots=slots), domain)
    assert done.responses == ["utter_order_cancel_kept"]
    order = backend.find_order("AN-10005", "chloe@example.com")
    assert order is not None and order.status is OrderStatus.PAID


def test_a_packed_order_cannot_be_cancelled_and_the_form_ends(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        "chloe@example.com",
        {"order_email": "chloe@example.com"},
        slots={"order_number": "AN-10006"},
    )
    assert result.responses == ["utter_order_not_cancellable"]
    assert result.message("utter_order_not_cancellable")["status"] == "packed"
    assert {"event": "active_loop", "name": None, "timestamp": None} in result.events


def test_every_order_number_asked_about_gets_its_status(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "can you check AN-10004 and AN-10003 for me?"
    asked = {
        "event": "user",
        "text": text,
        "parse_data": {
            "entities": [
                entity("order_number", "AN-10004", "AN-10004", text),
                entity("order_number", "AN-10003", "AN-10003", text),
            ]
        },
    }
    tracker = make_tracker(
        text="ben@example.com",
        events=[asked, {"event": "active_loop", "name": "order_status_form"}],
        slots={"order_number": "AN-10004", "order_email": "ben@example.com"},
    )
    status = run_action(ActionOrderStatus(**deps), tracker, domain)
    assert status.responses == ["utter_order_status_placed", "utter_order_status_delivered_window_closed"]
    assert [m["order_number"] for m in status.messages] == ["AN-10004", "AN-10003"]
    other = make_tracker(
        text="anna@example.com",
        events=[asked, {"event": "active_loop", "name": "order_status_form"}],
        slots={"order_number": "AN-10004", "order_email": "anna@example.com"},
    )
    result = run_action(ActionOrderStatus(**deps), other, domain)
    assert result.responses == ["utter_order_not_found", "utter_order_not_found"]  # another customer's orders
