"""What a conversation remembers across tasks: verified orders and emails, a tried email, the chosen
time when the shop or the day changes, items named in a return request, the return window in an
order's status, and button payloads that are never read as typed text."""

from __future__ import annotations

from typing import Any

import pytest

from bot.actions._common import latest_text
from bot.actions.appointments import ValidateAppointmentForm, ValidateRescheduleAppointmentForm
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.orders import ActionOrderStatus, ValidateCancelOrderForm, ValidateOrderStatusForm
from bot.actions.returns import ValidateReturnForm, mentioned_items
from bot.actions.verification import TRIED_EMAIL, VERIFIED_EMAIL, VERIFIED_ORDER

from .conftest import Result, entity, make_tracker, run_action

ACTIVE_LOOP_ENDED = {"event": "active_loop", "name": None, "timestamp": None}


def validate(form: Any, domain: dict[str, Any], text: str, candidates: dict[str, Any], **kwargs: Any) -> Result:
    """One turn of a form: `candidates` are the slot values extracted from `text`."""
    tracker = make_tracker(text=text, candidates=candidates, active_loop=form.form_name(), **kwargs)
    return run_action(form, tracker, domain)


def number_said(number: str, text: str) -> dict[str, Any]:
    return {"candidates": {"order_number": number}, "entities": [entity("order_number", number, number, text)]}


def turn(text: str, **slots: Any) -> list[dict[str, Any]]:
    """An earlier turn: the customer's message, then the slots the bot set answering it."""
    return [{"event": "user", "text": text}] + [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]


# -- a verified email is reused for the next order ----------------------------------------------------
def test_a_verified_pair_is_remembered(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "anna@example.com"
    result = validate(
        ValidateOrderStatusForm(**deps), domain, text, {"order_email": text}, slots={"order_number": "AN-10001"}
    )
    assert result.messages == []
    assert result.slots[VERIFIED_EMAIL] == "anna@example.com"
    assert result.slots[VERIFIED_ORDER] == "AN-10001"


def test_a_second_order_of_the_same_customer_is_verified_without_asking(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    text = "and what about AN-10002?"
    result = validate(
        ValidateOrderStatusForm(**deps),
        domain,
        text,
        slots={VERIFIED_EMAIL: "anna@example.com", VERIFIED_ORDER: "AN-10001"},
        **number_said("AN-10002", text),
    )
    assert result.messages == []
    assert result.slots["order_number"] == "AN-10002"
    assert result.slots["order_email"] == "anna@example.com"
    assert result.slots[VERIFIED_ORDER] == "AN-10002"


def test_another_customers_order_asks_for_its_email(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "and AN-10005?"
    result = validate(
        ValidateOrderStatusForm(**deps),
        domain,
        text,
        slots={VERIFIED_EMAIL: "anna@example.com", VERIFIED_ORDER: "AN-10001"},
        **number_said("AN-10005", text),
    )
    assert result.messages == []  # neither "not found" nor anything about the order: the email is asked
    assert result.slots["order_number"] == "AN-10005"
    assert result.slots.get("order_email") is None
    assert VERIFIED_ORDER not in result.slots


# -- "can I still cancel it?" is about the order just verified --------------------------------------------
def test_pointing_back_uses_the_verified_order_and_says_so(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        "can I still cancel it?",
        {},
        intent="cancel_order",
        slots={VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10005"},
    )
    assert result.responses == ["utter_using_verified_order"]
    assert result.message("utter_using_verified_order")["order_number"] == "AN-10005"
    assert result.slots["order_number"] == "AN-10005"
    assert result.slots["order_email"] == "chloe@example.com"
    assert ACTIVE_LOOP_ENDED not in result.events  # paid: it can be cancelled, the form goes on


def test_the_reused_order_is_still_checked(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        "can I still cancel it?",
        {},
        intent="cancel_order",
        slots={VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10006"},
    )
    assert result.responses == ["utter_using_verified_order", "utter_order_not_cancellable"]
    assert ACTIVE_LOOP_ENDED in result.events


def test_right_after_a_verification_the_task_is_about_that_order(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    earlier = turn("AN-10005, chloe@example.com", **{VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10005"})
    result = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        "I want to cancel",
        {},
        intent="cancel_order",
        slots={VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10005"},
        events=earlier,
    )
    assert result.responses == ["utter_using_verified_order"]
    assert result.slots["order_number"] == "AN-10005"


def test_a_new_task_later_on_asks_which_order(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    earlier = turn("AN-10005, chloe@example.com", **{VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10005"})
    earlier += turn("what are your opening hours?")
    result = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        "I want to cancel an order",
        {},
        intent="cancel_order",
        slots={VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10005"},
        events=earlier,
    )
    assert result.messages == []
    assert "order_number" not in result.slots


def test_a_number_given_with_the_request_wins_over_the_verified_order(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    text = "can I cancel AN-10016? it was a mistake"
    result = validate(
        ValidateCancelOrderForm(**deps),
        domain,
        text,
        intent="cancel_order",
        slots={VERIFIED_EMAIL: "chloe@example.com", VERIFIED_ORDER: "AN-10005"},
        **number_said("AN-10016", text),
    )
    assert "utter_using_verified_order" not in result.responses
    assert result.slots["order_number"] == "AN-10016"
    assert result.slots.get("order_email") is None  # hugo's order: chloe's email is not used


# -- a wrong email keeps the number; the next number is tried with that email --------------------------------
def test_a_wrong_email_keeps_the_number_and_remembers_the_email(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "ben@example.com"
    result = validate(
        ValidateOrderStatusForm(**deps), domain, text, {"order_email": text}, slots={"order_number": "AN-10001"}
    )
    assert result.responses == ["utter_order_not_found"]
    assert result.slots["order_email"] is None
    assert "order_number" not in result.slots  # kept as it was
    assert result.slots[TRIED_EMAIL] == "ben@example.com"
    assert VERIFIED_ORDER not in result.slots


def test_the_next_number_is_tried_with_the_email_that_matched_nothing(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    text = "oh sorry, it's AN-10003"
    result = validate(
        ValidateOrderStatusForm(**deps),
        domain,
        text,
        slots={"order_number": "AN-10001", TRIED_EMAIL: "ben@example.com"},
        **number_said("AN-10003", text),
    )
    assert result.messages == []
    assert result.slots["order_email"] == "ben@example.com"
    assert result.slots[VERIFIED_ORDER] == "AN-10003"


def test_a_tried_email_that_still_matches_nothing_is_not_used(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "then AN-10005"
    result = validate(
        ValidateOrderStatusForm(**deps),
        domain,
        text,
        slots={"order_number": "AN-10001", TRIED_EMAIL: "ben@example.com"},
        **number_said("AN-10005", text),
    )
    assert result.messages == []  # no second "not found": the email is asked for this number
    assert result.slots["order_number"] == "AN-10005"
    assert result.slots.get("order_email") is None


def test_a_wrong_number_and_a_wrong_email_get_the_same_answer_and_the_same_slots(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    form = ValidateOrderStatusForm(**deps)
    wrong_email = validate(
        form, domain, "ben@example.com", {"order_email": "ben@example.com"}, slots={"order_number": "AN-10001"}
    )
    wrong_number = validate(
        form,
        domain,
        "AN-10009",  # a real order, of another customer
        slots={"order_email": "anna@example.com"},
        **number_said("AN-10009", "AN-10009"),
    )
    assert wrong_email.messages == wrong_number.messages
    assert wrong_email.responses == ["utter_order_not_found"]
    for result, email in ((wrong_email, "ben@example.com"), (wrong_number, "anna@example.com")):
        assert result.slots["order_email"] is None  # the email is asked again
        assert result.slots[TRIED_EMAIL] == email  # and tried with the next number
        assert VERIFIED_ORDER not in result.slots and VERIFIED_EMAIL not in result.slots
    assert "order_number" not in wrong_email.slots
    assert wrong_number.slots["order_number"] == "AN-10009"  # kept for "sorry, it's elena@…"


def test_a_wrong_email_for_a_booking_keeps_the_reference_and_tries_the_next_one(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    form = ValidateRescheduleAppointmentForm(**deps)
    wrong = validate(
        form,
        domain,
        "ben@example.com",
        {"appointment_email": "ben@example.com"},
        slots={"appointment_reference": "FT-DEMO1"},
    )
    assert wrong.responses == ["utter_appointment_not_found"]
    assert wrong.slots["appointment_email"] is None
    assert "appointment_reference" not in wrong.slots
    assert wrong.slots[TRIED_EMAIL] == "ben@example.com"
    right = validate(
        form,
        domain,
        "oh, it's FT-DEMO2",
        {"appointment_reference": "FT-DEMO2"},
        slots={"appointment_reference": "FT-DEMO1", TRIED_EMAIL: "ben@example.com"},
    )
    assert right.messages == []
    assert right.slots["appointment_reference"] == "FT-DEMO2"
    assert right.slots["appointment_email"] == "ben@example.com"
    assert right.slots["appointment_shop"] == "london"


# -- appointments: another shop or another day keeps what was chosen ------------------------------------------
PARIS_WEDNESDAY_11 = "2026-12-23T11:00:00+01:00"


def change_shop(deps: dict[str, Any], domain: dict[str, Any], shop: str, **slots: Any) -> Result:
    text = f"actually, make it {shop.title()}"
    return validate(
        ValidateAppointmentForm(**deps),
        domain,
        text,
        {"appointment_shop": shop},
        intent="inform",
        entities=[entity("shop", shop, shop.title(), text)],
        slots={"appointment_shop": "paris", "appointment_time": PARIS_WEDNESDAY_11, **slots},
    )


def test_another_shop_checks_the_same_day_and_time_there(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = change_shop(deps, domain, "london", appointment_confirmed=True)
    assert result.slots["appointment_shop"] == "london"
    assert result.slots["appointment_time"] == "2026-12-23T11:00:00+00:00"  # 11:00 on London's clock
    assert result.slots["appointment_confirmed"] is None  # the booking is asked again
    assert result.responses == ["utter_appointment_time_free"]
    assert result.message("utter_appointment_time_free")["shop_name"] == "Atelier Nord London"


def test_another_shop_where_the_time_is_taken_offers_that_days_times(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    """FT-DEMO1 is Berlin's Wednesday 11:00."""
    result = change_shop(deps, domain, "berlin")
    assert result.responses == ["utter_appointment_slot_taken"]
    assert result.slots["appointment_shop"] == "berlin"
    assert result.slots["appointment_time"] is None
    assert result.slots["appointment_day"] == "2026-12-23"


def test_a_shop_and_a_time_in_one_message_are_checked_together(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "London on tuesday at 2pm instead"
    iso = "2026-12-22T14:00:00+01:00"
    result = validate(
        ValidateAppointmentForm(**deps),
        domain,
        text,
        {"appointment_shop": "london", "appointment_time": iso},
        entities=[entity("shop", "london", "London", text), entity("time", iso, "tuesday at 2pm", text)],
        slots={"appointment_shop": "paris", "appointment_time": PARIS_WEDNESDAY_11},
    )
    assert result.slots["appointment_shop"] == "london"
    assert result.slots["appointment_time"] == "2026-12-22T14:00:00+00:00"


def test_the_same_shop_again_keeps_the_chosen_time(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = validate(
        ValidateAppointmentForm(**deps),
        domain,
        "paris",
        {"appointment_shop": "paris"},
        entities=[entity("shop", "paris", "paris", "paris")],
        slots={"appointment_shop": "paris", "appointment_time": PARIS_WEDNESDAY_11},
    )
    assert result.slots["appointment_shop"] == "paris"
    assert result.slots.get("appointment_time", PARIS_WEDNESDAY_11) == PARIS_WEDNESDAY_11


def change_day(deps: dict[str, Any], domain: dict[str, Any], chosen: str | None) -> Result:
    text = "no wait, thursday"
    iso = "2026-12-24T00:00:00+01:00"  # thursday 24, at the London shop
    earlier = turn("tuesday at 11", appointment_time=chosen) if chosen else []
    return validate(
        ValidateAppointmentForm(**deps),
        domain,
        text,
        {"appointment_time": iso},
        entities=[entity("time", iso, "thursday", text)],
        slots={"appointment_shop": "london", "appointment_time": chosen},
        events=earlier,
    )


def test_a_changed_day_keeps_the_chosen_time(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = change_day(deps, domain, "2026-12-22T11:00:00+00:00")
    assert result.slots["appointment_time"] == "2026-12-24T11:00:00+00:00"
    assert result.responses == ["utter_appointment_time_free"]
    assert result.message("utter_appointment_time_free")["time"] == "11:00"


def test_a_day_without_an_earlier_time_lists_that_days_times(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = change_day(deps, domain, None)
    assert result.messages == []
    assert result.slots["appointment_time"] is None
    assert result.slots["appointment_day"] == "2026-12-24"


# -- returns: the items named in the request ------------------------------------------------------------
@pytest.fixture
def felix_order(backend: SqlShopBackend) -> Any:
    """AN-10012: Cotton briefs (3-pack, underwear), Monogrammed tote bag (personalised), Linen shirt."""
    order = backend.find_order("AN-10012", "felix@example.com")
    assert order is not None
    return order


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to return the briefs and the tote bag", ["I want to return the briefs", "the tote bag"]),
        ("the linen shirt, please", ["the linen shirt"]),
        ("the shirt or the underwear; not the bag", ["the shirt", "the underwear"]),  # "not the bag": kept
        ("can I send it back please", []),
        ("I'd like to return my order", []),
    ],
)
def test_mentioned_items_are_the_phrases_naming_items(felix_order: Any, text: str, expected: list[str]) -> None:
    assert mentioned_items(felix_order, text) == expected


def test_a_return_request_naming_items_checks_them_once_the_order_is_verified(
    deps: dict[str, Any], domain: dict[str, Any], felix_order: Any
) -> None:
    text = "return the linen shirt and the briefs from AN-10012, felix@example.com"
    result = validate(
        ValidateReturnForm(**deps),
        domain,
        text,
        {"order_number": "AN-10012", "order_email": "felix@example.com"},
        intent="start_return",
        entities=[entity("order_number", "AN-10012", "AN-10012", text), entity("email", "felix@example.com")],
    )
    assert result.responses == ["utter_return_item_refused_excluded"]
    assert result.message("utter_return_item_refused_excluded")["item"] == "Cotton briefs (3-pack)"
    shirt = next(i for i in felix_order.items if i.name == "Linen shirt")
    assert result.slots["return_items"] == [str(shirt.id)]


def test_a_return_request_without_items_asks_which(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "I want to return something from AN-10012, felix@example.com"
    result = validate(
        ValidateReturnForm(**deps),
        domain,
        text,
        {"order_number": "AN-10012", "order_email": "felix@example.com"},
        intent="start_return",
    )
    assert result.messages == []
    assert "return_items" not in result.slots


def test_an_item_already_returned_names_its_return(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    """AN-10015's linen trousers are covered by a return already."""
    text = "the linen trousers"
    result = validate(
        ValidateReturnForm(**deps),
        domain,
        text,
        {"return_items": text},
        entities=[entity("item", "linen trousers", text, text)],
        slots={"order_number": "AN-10015", "order_email": "hugo@example.com"},
    )
    assert result.responses == ["utter_return_item_refused_already_returned"]
    assert result.message("utter_return_item_refused_already_returned")["rma"] == "RMA-DEMO15"


# -- order status: a delivered order says whether it can still be returned ----------------------------------
@pytest.mark.parametrize(
    ("number", "email", "response", "deadline"),
    [
        ("AN-10002", "anna@example.com", "utter_order_status_delivered", "Sunday 10 January"),  # 10 days ago
        ("AN-10009", "elena@example.com", "utter_order_status_delivered", "Tuesday 22 December"),  # 29 days ago
        ("AN-10010", "elena@example.com", "utter_order_status_delivered_window_closed", "Sunday 20 December"),
        ("AN-10017", "anna@example.com", "utter_order_status_delivered_window_closed", "Saturday 21 November"),
    ],
)
def test_a_delivered_order_says_until_when_it_can_be_returned(
    deps: dict[str, Any], domain: dict[str, Any], number: str, email: str, response: str, deadline: str
) -> None:
    result = run_action(
        ActionOrderStatus(**deps), make_tracker(slots={"order_number": number, "order_email": email}), domain
    )
    assert result.responses == [response]
    message = result.message(response)
    assert (message["deadline"], message["window_days"]) == (deadline, "30")


def test_an_order_on_its_way_has_no_return_deadline(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    tracker = make_tracker(slots={"order_number": "AN-10001", "order_email": "anna@example.com"})
    result = run_action(ActionOrderStatus(**deps), tracker, domain)
    assert result.responses == ["utter_order_status_shipped"]
    assert "deadline" not in result.messages[0]


# -- button payloads are not typed text ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ('/inform{"time": "2026-12-22T10:00:00+01:00"}', ""),
        ('  /book_appointment{"shop": "paris",\n "time": "2026-12-22"}  ', ""),
        ("/affirm", ""),
        ("/human-handoff", ""),
        ("tuesday at 10:00", "tuesday at 10:00"),
        ("/ 10:00 please", "/ 10:00 please"),
        ('/inform{"time": "10:00"} and then 11:00', '/inform{"time": "10:00"} and then 11:00'),
        ("1/2 day off?", "1/2 day off?"),
    ],
)
def test_latest_text_ignores_button_payloads(text: str, typed: str) -> None:
    assert latest_text(make_tracker(text=text)) == typed
