"""What the bot says when the shop speaks first: an order shipped, a return received, a fitting tomorrow.

These actions run for the `EXTERNAL_…` intents (rules in intents/domain/events.yml) fired by the shop
(`POST /conversations/{sender}/trigger_intent`, `supportbot events send`) or by a reminder. The event's
entities arrive in `latest_message` and were checked by the server (docs/proactive.md). After booking
a fitting, `action_remind_appointment` schedules a reminder the day before (`ReminderScheduled`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ReminderCancelled, ReminderScheduled
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import DomainDict, Events, ShopAction, Wording, reset_slots, utter, utter_buttons

REMINDER_INTENT = "EXTERNAL_appointment_reminder"
REMIND_BEFORE = timedelta(days=1)


def event_entities(tracker: Tracker) -> dict[str, Any]:
    """The event's entities by name (the last value of each)."""
    return {str(e.get("entity")): e.get("value") for e in tracker.latest_message.get("entities") or []}


def reminder_name(reference: str) -> str:
    return f"appointment_{reference}"


def _day(wording: Wording, value: Any) -> str | None:
    try:
        return wording.date(date.fromisoformat(str(value)))
    except ValueError:
        return None


class ActionOrderShipped(ShopAction):
    def name(self) -> str:
        return "action_order_shipped"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        found = event_entities(tracker)
        wording = Wording(domain)
        carrier = found.get("carrier")
        values = {
            "order_number": str(found.get("order_number") or ""),
            "item": str(found.get("item") or wording.title("shipped_item_default")),
            "carrier_part": wording.title("carrier_part", carrier=carrier) if carrier else "",
        }
        day = _day(wording, found.get("delivery_date")) if found.get("delivery_date") else None
        if day:
            utter(dispatcher, "utter_order_shipped", delivery_day=day, **values)
        else:
            utter(dispatcher, "utter_order_shipped_no_date", **values)
        return []


class ActionReturnReceived(ShopAction):
    def name(self) -> str:
        return "action_return_received"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        found = event_entities(tracker)
        wording = Wording(domain)
        days = found.get("refund_days")
        utter(
            dispatcher,
            "utter_return_received",
            order_number=str(found.get("order_number") or ""),
            item=str(found.get("item") or wording.title("returned_item_default")),
            refund_days=str(int(days)) if isinstance(days, int | float) else wording.title("refund_days_default"),
        )
        return []


class ActionAppointmentReminder(ShopAction):
    def name(self) -> str:
        return "action_appointment_reminder"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        found = event_entities(tracker)
        wording = Wording(domain)
        try:
            starts = datetime.fromisoformat(str(found.get("starts_at")))
            when = wording.time(starts)
        except ValueError:
            when = str(found.get("starts_at") or "")
        utter(
            dispatcher,
            "utter_appointment_reminder",
            shop_name=str(found.get("shop_name") or ""),
            appointment_reference=str(found.get("appointment_reference") or ""),
            when=when,
        )
        return []


def reminder_offer(reference: str, shop_name: str, starts_at: datetime) -> dict[str, str]:
    """What `reminder_offer` holds while the bot offers the reminder."""
    return {"appointment_reference": reference, "shop_name": shop_name, "starts_at": starts_at.isoformat()}


def offer_reminder(
    dispatcher: CollectingDispatcher, domain: DomainDict, offer: dict[str, str], now: datetime
) -> Events:
    """After a booking: offer a reminder the day before when that is still ahead (else offer nothing)."""
    starts = datetime.fromisoformat(offer["starts_at"])
    if starts - REMIND_BEFORE <= now:
        return []
    wording = Wording(domain)
    buttons = [(wording.title("reminder_yes"), "/affirm"), (wording.title("reminder_no"), "/deny")]
    utter_buttons(dispatcher, "utter_appointment_reminder_offer", buttons)
    return [{"event": "slot", "timestamp": None, "name": "reminder_offer", "value": offer}]


class ActionRemindAppointment(ShopAction):
    """ "Yes, remind me": a reminder the day before the appointment just booked."""

    def name(self) -> str:
        return "action_remind_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        offer = tracker.get_slot("reminder_offer")
        if not isinstance(offer, dict) or "starts_at" not in offer:
            utter(dispatcher, "utter_appointment_reminder_unavailable")
            return []
        starts = datetime.fromisoformat(str(offer["starts_at"]))
        due = starts - REMIND_BEFORE
        if due <= self.deps.now():  # the offer was made too late, or answered after the day before
            utter(dispatcher, "utter_appointment_reminder_unavailable")
            return reset_slots("reminder_offer")
        wording = Wording(domain)
        reminder = ReminderScheduled(
            REMINDER_INTENT,
            due,
            entities={k: str(offer[k]) for k in ("appointment_reference", "shop_name", "starts_at")},
            name=reminder_name(str(offer["appointment_reference"])),
            kill_on_user_message=False,
        )
        remind_on = f"{wording.date(due.date())}, {wording.time(due)}"
        utter(dispatcher, "utter_appointment_reminder_set", remind_on=remind_on)
        return [reminder, *reset_slots("reminder_offer")]


def cancel_reminder(reference: str) -> dict[str, Any]:
    """The event that drops an appointment's reminder (cancelled or moved)."""
    event: dict[str, Any] = ReminderCancelled(name=reminder_name(reference))
    return event
