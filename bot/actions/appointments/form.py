"""The appointment forms' slots, and what every appointment response may say about a booking."""

from __future__ import annotations

from datetime import date, datetime

from bot.actions._common import Wording
from bot.actions.backend.protocol import Appointment
from bot.actions.slots import APPOINTMENT_MINUTES
from bot.actions.stores import Shop

TIME_SLOTS = ("appointment_time", "appointment_day", "appointment_part", "appointment_week", "appointment_time_text")
BOOK_SLOTS = ("appointment_shop", *TIME_SLOTS, "appointment_email", "appointment_confirmed")
RESCHEDULE_SLOTS = (
    "appointment_reference",
    "appointment_email",
    "appointment_shop",
    *TIME_SLOTS,
    "appointment_confirmed",
)
CANCEL_SLOTS = ("appointment_reference", "appointment_email", "cancel_appointment_confirmed")
MAX_TIME_BUTTONS = 8


def appointment_values(appointment: Appointment, shop: Shop, wording: Wording) -> dict[str, str]:
    local = appointment.starts_at.astimezone(shop.timezone)
    return {
        "reference": appointment.reference,
        "shop_name": shop.name,
        "address": shop.address,
        "date": wording.date(local.date()),
        "time": wording.time(local),
        "email": appointment.email,
        "minutes": str(APPOINTMENT_MINUTES),
    }


def slot_values(shop: Shop, moment: datetime, wording: Wording) -> dict[str, str]:
    """`shop_name`, `date` and `time` of a slot, for the responses about one (`moment` as given)."""
    return {"shop_name": shop.name, "date": wording.date(moment.date()), "time": wording.time(moment)}


def time_payload(intent: str, moment: datetime | date, shop: str | None = None) -> str:
    """A button payload: a slot's start (ISO datetime) or a whole day (ISO date: its times come next)."""
    entities = {"time": moment.isoformat()} if shop is None else {"shop": shop, "time": moment.isoformat()}
    body = ", ".join(f'"{k}": "{v}"' for k, v in entities.items())
    return f"/{intent}{{{body}}}"
