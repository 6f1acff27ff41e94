"""Validating the appointment forms: corrections for bad times and shops, the chosen day kept, the
reference and email checked together."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.actions.appointments import (
    ValidateAppointmentForm,
    ValidateCancelAppointmentForm,
    ValidateRescheduleAppointmentForm,
)

from ..conftest import NOW, entity, make_tracker, run_action


def ask_time(
    deps: dict[str, Any], domain: dict[str, Any], text: str, iso: str | None = None, shop: str = "paris", **slots: Any
):  # type: ignore[no-untyped-def]
    entities = [entity("time", iso, text, text)] if iso else []
    tracker = make_tracker(
        text=text,
        entities=entities,
        candidates={"appointment_time": iso or text},
        slots={"appointment_shop": shop, **slots},
        active_loop="appointment_form",
    )
    return run_action(ValidateAppointmentForm(**deps), tracker, domain)


def test_a_free_slot_is_accepted_and_said_back(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask_time(deps, domain, "tuesday at 11am", "2026-12-22T11:00:00+01:00")
    assert [m["response"] for m in result.messages] == ["utter_appointment_time_free"]
    assert result.messages[0]["time"] == "11:00" and "22" in result.messages[0]["date"]
    assert result.slots["appointment_time"] == "2026-12-22T11:00:00+01:00"


def test_a_button_payload_is_read_from_its_entity_not_its_characters(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    """The widget sends `/inform{"time": "…T10:00:00+01:00"}`: its ":00:00" once read as 00:00."""
    payload = '/inform{"time": "2026-12-22T10:00:00+01:00"}'
    tracker = make_tracker(
        text=payload,
        entities=[{"entity": "time", "value": "2026-12-22T10:00:00+01:00", "start": 0, "end": 0}],
        candidates={"appointment_time": "2026-12-22T10:00:00+01:00"},
        slots={"appointment_shop": "paris", "appointment_day": "2026-12-22"},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.slots["appointment_time"] == "2026-12-22T10:00:00+01:00"
    assert all(m["response"] != "utter_appointment_outside_hours" for m in result.messages)


def test_a_part_of_the_day_keeps_the_chosen_day(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask_time(deps, domain, "afternoon please", appointment_day="2026-12-22")
    assert result.slots["appointment_time"] is None
    assert result.slots["appointment_day"] == "2026-12-22"
    assert result.slots["appointment_part"] == "afternoon"


def test_london_times_are_london_wall_clock(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask_time(deps, domain, "tuesday at 11am", "2026-12-22T11:00:00+01:00", shop="london")
    assert result.slots["appointment_time"] == "2026-12-22T11:00:00+00:00"


def test_then_a_bare_time_applies_to_the_chosen_day(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask_time(deps, domain, "3pm", None, appointment_day="2026-12-22")
    assert result.slots["appointment_time"] == "2026-12-22T15:00:00+01:00"


def test_a_day_without_time_keeps_the_day_and_says_nothing(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask_time(deps, domain, "tomorrow", "2026-12-22T10:00:00+01:00")
    assert result.messages == []
    assert result.slots["appointment_time"] is None
    assert result.slots["appointment_day"] == "2026-12-22"


def test_a_bare_time_stays_on_the_chosen_day_even_when_dateparser_moved_it(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    """Once 11:00 has passed today, dateparser reads "11:00" as tomorrow; the chosen day still wins."""
    result = ask_time(deps, domain, "11:00 please", "2026-12-24T11:00:00+01:00", appointment_day="2026-12-22")
    assert result.slots["appointment_time"] == "2026-12-22T11:00:00+01:00"


@pytest.mark.parametrize(
    ("text", "iso", "response"),
    [
        ("31st of February", None, "utter_date_impossible"),
        ("the 14th at 11am", "2026-12-14T11:00:00+01:00", "utter_appointment_date_past"),
        ("tuesday at 8am", "2026-12-22T08:00:00+01:00", "utter_appointment_outside_hours"),
        ("tuesday at 19:00", "2026-12-22T19:00:00+01:00", "utter_appointment_outside_hours"),  # ends after 19:30
        ("sunday at 11", "2026-12-27T11:00:00+01:00", "utter_appointment_shop_closed"),
        ("christmas day at 11", "2026-12-25T11:00:00+01:00", "utter_appointment_shop_closed_special"),
        ("saturday 2 january at 11", "2027-01-02T11:00:00+01:00", "utter_appointment_day_full"),  # fully booked
        ("tuesday at 10:30", "2026-12-22T10:30:00+01:00", "utter_appointment_not_a_slot"),
        ("january 20 at 11", "2027-01-20T11:00:00+01:00", "utter_appointment_too_far"),
        ("blah blah", None, "utter_appointment_time_unreadable"),
    ],
)
def test_bad_times_get_a_specific_correction(
    deps: dict[str, Any], domain: dict[str, Any], text: str, iso: str | None, response: str
) -> None:
    result = ask_time(deps, domain, text, iso)
    assert result.responses == [response]
    assert result.slots["appointment_time"] is None


def test_customer_service_is_not_a_fitting_shop(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    tracker = make_tracker(
        text="customer service",
        entities=[entity("shop", "customer_service")],
        candidates={"appointment_shop": "customer_service"},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.responses == ["utter_appointment_shop_not_bookable"]


def test_a_time_given_before_the_shop_is_checked_once_the_shop_is_known(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    text = "book me in Berlin tomorrow at 2pm"
    tracker = make_tracker(
        text=text,
        intent="book_appointment",
        entities=[
            entity("shop", "berlin", "Berlin", text),
            entity("time", "2026-12-22T14:00:00+01:00", "tomorrow at 2pm", text),
        ],
        candidates={"appointment_shop": "berlin", "appointment_time": "2026-12-22T14:00:00+01:00"},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.slots["appointment_shop"] == "berlin"
    assert result.slots["appointment_time"] == "2026-12-22T14:00:00+01:00"


def test_reschedule_checks_reference_and_email_together(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    form = ValidateRescheduleAppointmentForm(**deps)
    wrong = make_tracker(
        text="ben@example.com",
        candidates={"appointment_email": "ben@example.com"},
        slots={"appointment_reference": "FT-DEMO1"},
        active_loop="reschedule_appointment_form",
    )
    assert run_action(form, wrong, domain).responses == ["utter_appointment_not_found"]
    right = make_tracker(
        text="anna@example.com",
        candidates={"appointment_email": "anna@example.com"},
        slots={"appointment_reference": "ft-demo1"},
        active_loop="reschedule_appointment_form",
    )
    result = run_action(form, right, domain)
    assert result.messages == []
    assert result.slots["appointment_shop"] == "berlin"


def test_bad_reference_gets_a_specific_correction(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    tracker = make_tracker(
        text="my booking", candidates={"appointment_reference": "my booking"}, active_loop="cancel_appointment_form"
    )
    result = run_action(ValidateCancelAppointmentForm(**deps), tracker, domain)
    assert result.responses == ["utter_invalid_appointment_reference"]


def test_clock_is_the_fixed_one() -> None:
    assert NOW.isoformat() == "2026-12-21T09:00:00+00:00"


def test_today_after_the_last_slot_says_the_day_is_over_not_fully_booked(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    """At 19:00 in Paris on Monday 21 December nothing is left today: not "fully booked", which is untrue."""
    evening = {**deps, "clock": lambda: datetime(2026, 12, 21, 18, 0, tzinfo=UTC)}
    text = "today please"
    tracker = make_tracker(
        text=text,
        entities=[entity("time", "2026-12-21T00:00:00+01:00", text, text)],
        candidates={"appointment_time": "2026-12-21T00:00:00+01:00"},
        slots={"appointment_shop": "paris"},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**evening), tracker, domain)
    assert result.responses == ["utter_appointment_today_over"]
    assert result.slots["appointment_time"] is None


@pytest.mark.parametrize(("asked", "noted"), [("appointment_time", True), ("appointment_email", False)])
def test_an_email_given_while_another_question_is_open_is_kept_and_said_so(
    deps: dict[str, Any], domain: dict[str, Any], asked: str, noted: bool
) -> None:
    """Typed while a time is asked for: kept and acknowledged; typed when asked for: kept, nothing more said."""
    tracker = make_tracker(
        text="ben@example.com",
        entities=[entity("email", "ben@example.com", "ben@example.com", "ben@example.com")],
        candidates={"appointment_email": "ben@example.com"},
        slots={"appointment_shop": "london", "requested_slot": asked},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.slots["appointment_email"] == "ben@example.com"
    assert ("utter_appointment_email_noted" in result.responses) is noted


def test_an_email_with_the_time_asked_for_is_not_noted(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    """ "16:00, ben@example.com" answers the question: the confirmation that follows names the email anyway."""
    text = "16:00, ben@example.com"
    tracker = make_tracker(
        text=text,
        entities=[entity("email", "ben@example.com", "ben@example.com", text)],
        candidates={"appointment_email": "ben@example.com", "appointment_time": "2026-12-22T16:00:00+01:00"},
        slots={"appointment_shop": "paris", "requested_slot": "appointment_time", "appointment_day": "2026-12-22"},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.slots["appointment_email"] == "ben@example.com"
    assert "utter_appointment_email_noted" not in result.responses
