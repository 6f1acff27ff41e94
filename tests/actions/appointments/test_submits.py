"""Booking, rescheduling and cancelling in the backend once confirmed, and losing the race for a slot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.actions.appointments import (
    ActionSubmitAppointment,
    ActionSubmitCancelAppointment,
    ActionSubmitRescheduleAppointment,
)
from bot.actions.backend.sql import SqlShopBackend

from ..conftest import make_tracker, run_action


def test_confirmed_booking_is_written(deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend) -> None:
    slots = {
        "appointment_shop": "paris",
        "appointment_time": "2026-12-22T11:00:00+01:00",
        "appointment_email": "new@example.com",
        "appointment_confirmed": True,
    }
    result = run_action(ActionSubmitAppointment(**deps), make_tracker(slots=slots), domain)
    assert result.responses == ["utter_appointment_booked", "utter_appointment_reminder_offer"]
    reference = result.messages[0]["reference"]
    booked = backend.find_appointment(reference, "new@example.com")
    assert booked is not None and booked.starts_at == datetime.fromisoformat("2026-12-22T11:00:00+01:00")


def test_losing_the_race_offers_other_times(
    deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend
) -> None:
    moment = datetime.fromisoformat("2026-12-22T11:00:00+01:00")
    backend.book_appointment("paris", moment, "first@example.com")
    slots = {
        "appointment_shop": "paris",
        "appointment_time": moment.isoformat(),
        "appointment_email": "second@example.com",
        "appointment_confirmed": True,
    }
    result = run_action(ActionSubmitAppointment(**deps), make_tracker(slots=slots), domain)
    assert result.responses == ["utter_appointment_slot_just_taken"]
    payload = result.messages[0]["buttons"][0]["payload"]
    assert payload.startswith('/book_appointment{"shop": "paris", "time": "2026-12-22T')
    assert result.slots["appointment_time"] is None and "appointment_email" not in result.slots


def test_reschedule_moves_the_booking(deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend) -> None:
    slots = {
        "appointment_reference": "FT-DEMO1",
        "appointment_email": "anna@example.com",
        "appointment_shop": "berlin",
        "appointment_time": "2026-12-28T15:00:00+01:00",
        "appointment_confirmed": True,
    }
    result = run_action(ActionSubmitRescheduleAppointment(**deps), make_tracker(slots=slots), domain)
    assert result.responses == ["utter_appointment_rescheduled"]
    moved = backend.find_appointment("FT-DEMO1", "anna@example.com")
    assert moved is not None and moved.starts_at == datetime.fromisoformat("2026-12-28T15:00:00+01:00")


def test_cancel_appointment(deps: dict[str, Any], domain: dict[str, Any], backend: SqlShopBackend) -> None:
    slots = {
        "appointment_reference": "FT-DEMO2",
        "appointment_email": "ben@example.com",
        "cancel_appointment_confirmed": True,
    }
    result = run_action(ActionSubmitCancelAppointment(**deps), make_tracker(slots=slots), domain)
    assert result.responses == ["utter_appointment_cancelled"]
    assert backend.find_appointment("FT-DEMO2", "ben@example.com") is None
