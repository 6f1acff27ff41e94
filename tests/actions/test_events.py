"""The actions of events and reminders: an order shipped, a return received, the fitting reminder."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.actions.appointments import ActionSubmitAppointment, ActionSubmitCancelAppointment
from bot.actions.events import (
    REMINDER_INTENT,
    ActionAppointmentReminder,
    ActionOrderShipped,
    ActionRemindAppointment,
    ActionReturnReceived,
)

from .conftest import entity, make_tracker, run_action


def test_order_shipped_names_the_item_and_the_day(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    found = [entity("order_number", "AN-10001"), entity("item", "your coat"), entity("delivery_date", "2026-12-24")]
    result = run_action(
        ActionOrderShipped(**deps), make_tracker(intent="EXTERNAL_order_shipped", entities=found), domain
    )
    message = result.message("utter_order_shipped")
    assert (message["item"], message["order_number"], message["carrier_part"]) == ("your coat", "AN-10001", "")
    assert message["delivery_day"].startswith("Thursday")


def test_order_shipped_without_a_date(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    found = [entity("order_number", "AN-10001"), entity("carrier", "DHL")]
    result = run_action(ActionOrderShipped(**deps), make_tracker(entities=found), domain)
    message = result.message("utter_order_shipped_no_date")
    assert (message["item"], message["carrier_part"]) == ("your order", " with DHL")


def test_return_received(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    found = [entity("order_number", "AN-10002"), entity("refund_days", 5)]
    result = run_action(ActionReturnReceived(**deps), make_tracker(entities=found), domain)
    assert result.message("utter_return_received")["refund_days"] == "5"


def booked(deps: dict[str, Any], domain: dict[str, Any], when: str) -> Any:
    slots = {
        "appointment_shop": "paris",
        "appointment_time": when,
        "appointment_email": "new@example.com",
        "appointment_confirmed": True,
    }
    return run_action(ActionSubmitAppointment(**deps), make_tracker(slots=slots), domain)


def test_booking_offers_a_reminder_and_yes_schedules_it_the_day_before(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    result = booked(deps, domain, "2026-12-23T11:00:00+01:00")
    offer = result.message("utter_appointment_reminder_offer")
    assert [b["payload"] for b in offer["buttons"]] == ["/affirm", "/deny"]
    kept = result.slots["reminder_offer"]
    assert kept["shop_name"] and kept["starts_at"] == "2026-12-23T11:00:00+01:00"
    yes = run_action(
        ActionRemindAppointment(**deps), make_tracker(intent="affirm", slots={"reminder_offer": kept}), domain
    )
    (reminder,) = [e for e in yes.events if e["event"] == "reminder"]
    assert reminder["intent"] == REMINDER_INTENT
    assert datetime.fromisoformat(reminder["date_time"]) == datetime.fromisoformat("2026-12-22T11:00:00+01:00")
    assert reminder["name"] == f"appointment_{kept['appointment_reference']}"
    assert reminder["kill_on_user_msg"] is False
    assert yes.responses == ["utter_appointment_reminder_set"]
    assert yes.slots["reminder_offer"] is None


def test_no_offer_when_the_day_before_has_passed(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = booked(deps, domain, "2026-12-21T15:00:00+01:00")  # later today: the day before is gone
    assert result.responses == ["utter_appointment_booked"]
    assert "reminder_offer" not in result.slots


def test_the_reminder_names_the_shop_and_time(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    found = [
        entity("appointment_reference", "FT-DEMO1"),
        entity("shop_name", "Atelier Nord Paris"),
        entity("starts_at", "2026-12-23T11:00:00+01:00"),
    ]
    result = run_action(ActionAppointmentReminder(**deps), make_tracker(entities=found), domain)
    message = result.message("utter_appointment_reminder")
    assert (message["shop_name"], message["appointment_reference"]) == ("Atelier Nord Paris", "FT-DEMO1")
    assert message["when"] == "11:00"


def test_cancelling_an_appointment_cancels_its_reminder(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    slots = {
        "appointment_reference": "FT-DEMO1",
        "appointment_email": "anna@example.com",
        "cancel_appointment_confirmed": True,
    }
    result = run_action(ActionSubmitCancelAppointment(**deps), make_tracker(slots=slots), domain)
    assert {
        "event": "cancel_reminder",
        "timestamp": None,
        "intent": None,
        "entities": None,
        "name": "appointment_FT-DEMO1",
    } in result.events
