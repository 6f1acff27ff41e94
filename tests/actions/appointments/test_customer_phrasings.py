"""How customers name appointment days and shops (issue 12): a weekday means the next such day, a week
offers its days, a refused half hour names the nearest free times, "the one in germany" is Berlin, a
day picked among one shop's days is not carried to another shop, and a move may change the shop."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.actions.appointments import (
    ActionAskAppointmentConfirmed,
    ActionSubmitRescheduleAppointment,
    ValidateAppointmentForm,
    ValidateRescheduleAppointmentForm,
)
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.slots import nearest_times
from bot.actions.when import Week, When, named_weekday, read_when, time_in_text

from ..conftest import NOW, entity, make_tracker, run_action

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_weekday_means_the_next_such_day_whatever_the_parser_made_of_the_number() -> None:
    """dateparser reads "wednesday at 10" as 10 October; Monday 21 December's next Wednesday is the 23rd."""
    text = "fitting in london, wednesday at 10"
    found = read_when(text, "2027-10-06T00:00:00+02:00", "wednesday at 10", BERLIN, NOW, weekday="wednesday")
    assert found == When(date(2026, 12, 23), time(10, 0))


def test_a_weekday_abbreviation_without_a_date_entity_is_read() -> None:
    found = read_when("need a fitting appt in berlin for tues", None, "", BERLIN, NOW, weekday="tuesday")
    assert found == When(date(2026, 12, 22))


def test_a_date_the_customer_wrote_wins_over_the_weekday() -> None:
    text = "wednesday 30 december at 11"
    found = read_when(text, "2026-12-30T11:00:00+01:00", text, BERLIN, NOW, weekday="wednesday")
    assert isinstance(found, When) and found.day == date(2026, 12, 30)


def test_next_week_offers_the_days_of_next_week() -> None:
    assert read_when("sometime next week?", "2026-12-28T10:00:00+01:00", "next week", BERLIN, NOW) == Week(
        date(2026, 12, 28)
    )
    assert read_when("anything this week", None, "", BERLIN, NOW) == Week(date(2026, 12, 21))


def test_the_nearest_free_times_of_a_refused_half_hour() -> None:
    free = [datetime(2026, 12, 23, h, 0, tzinfo=BERLIN) for h in range(10, 19)]
    moment = datetime(2026, 12, 23, 15, 30, tzinfo=BERLIN)
    assert [t.hour for t in nearest_times(free, moment)] == [15, 16]


def first_message(deps: dict[str, Any], domain: dict[str, Any], text: str, shop: str, *extra: dict[str, Any]) -> Any:
    """The message that starts a booking, naming the shop (and what `extra` entities say)."""
    tracker = make_tracker(
        text=text,
        intent="book_appointment",
        entities=[entity("shop", shop, shop, text), *extra],
        candidates={"appointment_shop": shop},
        active_loop="appointment_form",
    )
    return run_action(ValidateAppointmentForm(**deps), tracker, domain)


def test_a_day_named_without_a_date_entity_is_kept(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "need a fitting appt in berlin for tues"
    result = first_message(deps, domain, text, "berlin", entity("weekday", "tuesday", "tues", text))
    assert result.slots["appointment_day"] == "2026-12-22"
    assert result.slots["appointment_time"] is None


def test_a_time_before_opening_on_a_named_day_says_so(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "can i come to the berlin shop for a fitting tuesday at 7am before work"
    result = first_message(deps, domain, text, "berlin", entity("weekday", "tuesday", "tuesday", text))
    assert result.responses == ["utter_appointment_outside_hours"]
    assert result.slots["appointment_day"] == "2026-12-22"


def test_a_half_hour_names_the_nearest_free_times(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "could I book a fitting in Berlin on Wednesday at 15:30?"
    iso = "2026-12-23T15:30:00+01:00"
    tracker = make_tracker(
        text=text,
        entities=[entity("time", iso, "Wednesday at 15:30", text)],
        candidates={"appointment_time": iso},
        slots={"appointment_shop": "berlin"},
        active_loop="appointment_form",
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.responses == ["utter_appointment_not_a_slot"]
    assert result.message("utter_appointment_not_a_slot")["nearest"] == "15:00 and 16:00"


def test_the_shop_in_germany_is_berlin(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "the one in germany"
    tracker = make_tracker(
        text=text,
        entities=[entity("country", "germany", "germany", text)],
        candidates={"appointment_shop": text},
        active_loop="appointment_form",
    )
    assert run_action(ValidateAppointmentForm(**deps), tracker, domain).slots["appointment_shop"] == "berlin"


def test_a_day_clicked_among_another_shops_days_is_dropped(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    clicked = '/inform{"time": "2026-12-22"}'
    earlier = [
        {"event": "user", "text": clicked},
        {"event": "slot", "name": "appointment_day", "value": "2026-12-22"},
    ]
    text = "wait, can we do Paris instead?"
    tracker = make_tracker(
        text=text,
        entities=[entity("shop", "paris", "Paris", text)],
        candidates={"appointment_shop": "paris"},
        slots={"appointment_day": "2026-12-22"},
        active_loop="appointment_form",
        events=earlier,
    )
    result = run_action(ValidateAppointmentForm(**deps), tracker, domain)
    assert result.slots["appointment_shop"] == "paris"
    assert result.slots["appointment_day"] is None


def test_a_typed_day_stays_when_the_shop_changes(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    earlier = [
        {"event": "user", "text": "tuesday"},
        {"event": "slot", "name": "appointment_day", "value": "2026-12-22"},
    ]
    text = "paris instead"
    tracker = make_tracker(
        text=text,
        entities=[entity("shop", "paris", "paris", text)],
        candidates={"appointment_shop": "paris"},
        slots={"appointment_day": "2026-12-22"},
        active_loop="appointment_form",
        events=earlier,
    )
    assert "appointment_day" not in run_action(ValidateAppointmentForm(**deps), tracker, domain).slots


def test_a_move_to_another_shop_changes_the_shop(
    deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend
) -> None:
    """FT-DEMO1 is at the Berlin shop; the customer moves it to London (28 December is a holiday there)."""
    text = "move my fitting FT-DEMO1 to your London shop instead, anna@example.com"
    tracker = make_tracker(
        text=text,
        intent="reschedule_appointment",
        entities=[entity("shop", "london", "London", text)],
        candidates={"appointment_reference": "FT-DEMO1", "appointment_email": "anna@example.com"},
        active_loop="reschedule_appointment_form",
    )
    assert run_action(ValidateRescheduleAppointmentForm(**deps), tracker, domain).slots["appointment_shop"] == "london"
    slots = {
        "appointment_reference": "FT-DEMO1",
        "appointment_email": "anna@example.com",
        "appointment_shop": "london",
        "appointment_time": "2026-12-29T15:00:00+00:00",
        "appointment_confirmed": None,
    }
    question = make_tracker(slots=slots, active_loop="reschedule_appointment_form")
    asked = run_action(ActionAskAppointmentConfirmed(**deps), question, domain)
    assert asked.responses == ["utter_ask_reschedule_confirmed_other_shop"]
    assert asked.messages[0]["old_shop_name"] == "Atelier Nord Berlin"
    done = run_action(
        ActionSubmitRescheduleAppointment(**deps), make_tracker(slots={**slots, "appointment_confirmed": True}), domain
    )
    assert done.responses == ["utter_appointment_rescheduled"]
    moved = backend.find_appointment("FT-DEMO1", "anna@example.com")
    assert moved is not None and moved.shop == "london"


def test_italian_french_and_german_days_and_times_are_read() -> None:
    assert named_weekday("vorrei una prova a Londra mercoledì alle 15") == "wednesday"
    assert time_in_text("vorrei una prova a Londra mercoledì alle 15") == time(15, 0)
    assert time_in_text("jeudi à 15 heures") == time(15, 0)
    assert time_in_text("tuesday at 7am before work") == time(7, 0)  # not "at 7" read as 19:00


def test_a_named_weekday_whose_time_has_passed_today_means_next_week() -> None:
    """Typed on Monday 21 December at 19:00 in Berlin: "this monday at 3pm" is the 28th; "today at 3pm" stays."""
    evening = datetime(2026, 12, 21, 18, 0, tzinfo=UTC)
    text = "can i book a fitting this monday at 3pm"
    found = read_when(text, "2026-12-21T15:00:00+01:00", "this monday at 3pm", BERLIN, evening, weekday="monday")
    assert found == When(date(2026, 12, 28), time(15, 0))
    morning = read_when(text, "2026-12-21T15:00:00+01:00", "this monday at 3pm", BERLIN, NOW, weekday="monday")
    assert morning == When(date(2026, 12, 21), time(15, 0))
    today = "today at 3pm, monday"
    assert read_when(today, "2026-12-21T15:00:00+01:00", today, BERLIN, evening, weekday="monday") == When(
        date(2026, 12, 21), time(15, 0)
    )


def test_yesterday_and_tomorrow_count_from_the_shops_date_not_berlins() -> None:
    """At 23:30 in London (00:30 in Berlin, the next day), "yesterday 3pm" is London's yesterday."""
    london = ZoneInfo("Europe/London")
    late = datetime(2026, 12, 21, 23, 30, tzinfo=UTC)
    berlin_yesterday = "2026-12-21T15:00:00+01:00"  # what dateparser counts from Berlin's date (the 22nd)
    found = read_when("a london fitting for yesterday 3pm?", berlin_yesterday, "yesterday 3pm", london, late)
    assert found == When(date(2026, 12, 20), time(15, 0))
    assert read_when("tomorrow at 11", "2026-12-23T11:00:00+01:00", "tomorrow at 11", london, late) == When(
        date(2026, 12, 22), time(11, 0)
    )
    assert read_when("today please", None, "", london, late) == When(date(2026, 12, 21))
