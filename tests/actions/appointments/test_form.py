"""What appointment responses and buttons say about a slot: payloads and values."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.actions._common import Wording
from bot.actions.appointments.form import appointment_values, slot_values, time_payload
from bot.actions.stores import load_stores

from ..conftest import STORES


def test_a_time_button_sends_the_slot_start_and_a_day_button_the_day() -> None:
    moment = datetime.fromisoformat("2026-12-22T10:00:00+01:00")
    assert time_payload("inform", moment) == '/inform{"time": "2026-12-22T10:00:00+01:00"}'
    assert time_payload("inform", date(2026, 12, 22)) == '/inform{"time": "2026-12-22"}'
    assert time_payload("book_appointment", moment, "paris") == (
        '/book_appointment{"shop": "paris", "time": "2026-12-22T10:00:00+01:00"}'
    )


def test_slot_values_are_the_shop_and_its_wall_clock_time(domain: dict[str, Any], backend: Any) -> None:
    paris = load_stores(STORES).shop("paris")
    wording = Wording(domain)
    moment = datetime.fromisoformat("2026-12-22T11:00:00+01:00")
    assert slot_values(paris, moment, wording) == {
        "shop_name": paris.name,
        "date": wording.date(date(2026, 12, 22)),
        "time": "11:00",
    }
    booked = backend.book_appointment("paris", moment, "new@example.com")
    values = appointment_values(booked, paris, wording)
    assert (values["time"], values["email"], values["reference"]) == ("11:00", "new@example.com", booked.reference)
