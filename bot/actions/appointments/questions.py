"""Asking for an appointment's time (free times or days as buttons) and for the confirmations."""

from __future__ import annotations

from datetime import date, datetime

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import (
    DomainDict,
    Events,
    ShopAction,
    Wording,
    utter,
    utter_buttons,
    value_before_message,
)
from bot.actions.appointments.form import (
    BOOK_SLOTS,
    CANCEL_SLOTS,
    MAX_TIME_BUTTONS,
    appointment_values,
    time_payload,
)
from bot.actions.backend.protocol import Appointment
from bot.actions.slots import APPOINTMENT_MINUTES, free_times, next_free_days, times_in_part
from bot.actions.verification import VerifiedQuestion, end_form
from bot.actions.when import in_part


class ActionAskAppointmentTime(ShopAction):
    """Asks for a time, offering the free times of the chosen day or the next free days as buttons."""

    def name(self) -> str:
        return "action_ask_appointment_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        wording = Wording(domain)
        key = tracker.get_slot("appointment_shop")
        stores = self.deps.stores
        if not key or key not in stores.shops:
            utter(dispatcher, "utter_ask_appointment_time_generic")
            return []
        shop = stores.shops[str(key)]
        now = self.deps.now()
        self.say_current(dispatcher, tracker, wording)
        day = tracker.get_slot("appointment_day")
        part = tracker.get_slot("appointment_part")
        part = part if isinstance(part, str) else None
        if isinstance(day, str):
            times = times_in_part(free_times(self.deps.backend, shop, date.fromisoformat(day), now), part)
            times = times[:MAX_TIME_BUTTONS]
            buttons = [(wording.title("slot_time", time=wording.time(t)), time_payload("inform", t)) for t in times]
            on_day = {"shop_name": shop.name, "date": wording.date(date.fromisoformat(day))}
            if part is not None:  # "afternoon": say which times these are
                part_name = str(wording.get("parts_of_day").get(part, part))
                utter_buttons(dispatcher, "utter_ask_appointment_time_on_day_part", buttons, part=part_name, **on_day)
            else:
                utter_buttons(dispatcher, "utter_ask_appointment_time_on_day", buttons, **on_day)
            return []
        today = now.astimezone(shop.timezone).date()
        week = tracker.get_slot("appointment_week")
        first = date.fromisoformat(week) if isinstance(week, str) else None  # "sometime next week"
        days = next_free_days(self.deps.backend, shop, today, now, limit=MAX_TIME_BUTTONS, first=first)
        if not days and first is not None:
            days = next_free_days(self.deps.backend, shop, today, now, limit=MAX_TIME_BUTTONS)
        if not days:
            utter(dispatcher, "utter_appointment_fully_booked", shop_name=shop.name)
            return end_form(*BOOK_SLOTS)
        if part is not None:  # "afternoon": the days that still have afternoon times
            days = [(d, ts) for d, ts in days if any(in_part(t.time(), part) for t in ts)] or days
        buttons = [(wording.title("slot_day", date=wording.date(d)), time_payload("inform", d)) for d, _ in days]
        utter_buttons(dispatcher, "utter_ask_appointment_time", buttons, shop_name=shop.name)
        return []

    def say_current(self, dispatcher: CollectingDispatcher, tracker: Tracker, wording: Wording) -> None:
        """Moving an appointment: when it is now, the first time the new time is asked ("when is my fitting
        again? FT-DEMO2, ben@…" gets its answer)."""
        if tracker.active_loop_name != "reschedule_appointment_form":
            return
        if value_before_message(tracker, "requested_slot") == "appointment_time":
            return
        found = self.deps.backend.find_appointment(
            str(tracker.get_slot("appointment_reference")), str(tracker.get_slot("appointment_email"))
        )
        if found is not None:
            shop = self.deps.stores.shop(found.shop)
            utter(dispatcher, "utter_appointment_current", **appointment_values(found, shop, wording))


class ActionAskAppointmentConfirmed(ShopAction):
    def name(self) -> str:
        return "action_ask_appointment_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        wording = Wording(domain)
        shop = self.deps.stores.shop(str(tracker.get_slot("appointment_shop")))
        moment = datetime.fromisoformat(str(tracker.get_slot("appointment_time")))
        values = {
            "shop_name": shop.name,
            "address": shop.address,
            "date": wording.date(moment.date()),
            "time": wording.time(moment),
            "email": str(tracker.get_slot("appointment_email") or ""),
            "minutes": str(APPOINTMENT_MINUTES),
        }
        if tracker.active_loop_name == "reschedule_appointment_form":
            old = self.deps.backend.find_appointment(
                str(tracker.get_slot("appointment_reference")), str(tracker.get_slot("appointment_email"))
            )
            response = "utter_ask_reschedule_confirmed"
            if old is not None:
                old_shop = self.deps.stores.shop(old.shop)
                before = appointment_values(old, old_shop, wording)
                values.update(old_date=before["date"], old_time=before["time"], old_shop_name=old_shop.name)
                if old_shop.key != shop.key:  # "to your Berlin shop instead"
                    response = "utter_ask_reschedule_confirmed_other_shop"
            utter(dispatcher, response, **values)
        else:
            utter(dispatcher, "utter_ask_appointment_confirmed", **values)
        return []


class ActionAskCancelAppointmentConfirmed(VerifiedQuestion[Appointment]):
    not_found = "utter_appointment_not_found"
    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "action_ask_cancel_appointment_confirmed"

    def find(self, tracker: Tracker) -> Appointment | None:
        return self.deps.backend.find_appointment(
            str(tracker.get_slot("appointment_reference")), str(tracker.get_slot("appointment_email"))
        )

    def ask(self, found: Appointment, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
        shop = self.deps.stores.shop(found.shop)
        utter(dispatcher, "utter_ask_cancel_appointment_confirmed", **appointment_values(found, shop, Wording(domain)))
