"""Fitting appointments: book (`appointment_form`), reschedule and cancel, with a confirmation step.

Availability comes from the backend; the backend's transaction and unique index make a double
booking impossible, and a customer who loses the race for the last slot is offered other times.
Reschedule and cancel identify a booking by its reference AND the email it was made with (the same
answer for either being wrong).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import (
    DomainDict,
    Events,
    ShopAction,
    ShopFormValidation,
    Wording,
    entity_text,
    find_email,
    latest_entities,
    latest_entity,
    latest_text,
    reset_slots,
    utter,
    utter_buttons,
    value_before_message,
)
from bot.actions.backend.protocol import Appointment, AppointmentNotFoundError, SlotUnavailableError
from bot.actions.slots import (
    APPOINTMENT_MINUTES,
    APPOINTMENT_SHOPS,
    TimeCheck,
    check_time,
    free_times,
    next_free_days,
    times_in_part,
)
from bot.actions.stores import Shop
from bot.actions.verification import TRIED_EMAIL, end_form
from bot.actions.when import When, in_part, read_when

_TIME_SLOTS = ("appointment_time", "appointment_day", "appointment_part", "appointment_time_text")
BOOK_SLOTS = ("appointment_shop", *_TIME_SLOTS, "appointment_email", "appointment_confirmed")
RESCHEDULE_SLOTS = (
    "appointment_reference",
    "appointment_email",
    "appointment_shop",
    *_TIME_SLOTS,
    "appointment_confirmed",
)
CANCEL_SLOTS = ("appointment_reference", "appointment_email", "cancel_appointment_confirmed")
MAX_TIME_BUTTONS = 8
_REFERENCE = re.compile(r"\bFT[- ]?([A-Z0-9]{4,6})\b", re.I)


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


def _time_payload(intent: str, moment: datetime | date, shop: str | None = None) -> str:
    """A button payload: a slot's start (ISO datetime) or a whole day (ISO date: its times come next)."""
    entities = {"time": moment.isoformat()} if shop is None else {"shop": shop, "time": moment.isoformat()}
    body = ", ".join(f'"{k}": "{v}"' for k, v in entities.items())
    return f"/{intent}{{{body}}}"


class _AppointmentValidation(ShopFormValidation):
    """Shared slot checks of the three appointment forms."""

    def shop(self, tracker: Tracker) -> Shop | None:
        key = tracker.get_slot("appointment_shop")
        stores = self.deps.stores
        return stores.shops.get(str(key)) if key else None

    def validate_appointment_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = find_email(value, tracker)
        if email is None:
            utter(dispatcher, "utter_invalid_email", given=str(value or latest_text(tracker)))
        return {"appointment_email": email}

    def validate_appointment_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        match = _REFERENCE.search(str(value or latest_text(tracker)))
        if match is None:
            utter(dispatcher, "utter_invalid_appointment_reference", given=str(value or ""))
            return {"appointment_reference": None}
        return {"appointment_reference": f"FT-{match.group(1).upper()}"}

    def validate_appointment_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        shop = self.shop(tracker)
        text = latest_text(tracker)
        if shop is None:  # checked as soon as the shop is known
            return {"appointment_time": None, "appointment_time_text": text or str(value or "")}
        return self._check(dispatcher, tracker, domain, shop, text, use_entities=True)

    def _check(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        shop: Shop,
        text: str,
        *,
        use_entities: bool,
    ) -> dict[str, Any]:
        times = latest_entities(tracker, "time") if use_entities else []
        # "now book me … wednesday 15:00": the most specific time named (the longest span) wins
        best = max(times, key=lambda e: len(entity_text(tracker, e)), default=None)
        value = best.get("value") if best else None
        span = entity_text(tracker, best) if best else ""
        known = tracker.get_slot("appointment_day")
        when = read_when(
            text,
            value if isinstance(value, str) else None,
            span,
            shop.timezone,
            self.deps.now(),
            known_day=date.fromisoformat(known) if isinstance(known, str) else None,
        )
        chosen = value_before_message(tracker, "appointment_time")
        if isinstance(when, When) and when.at is None and when.part is None and isinstance(chosen, str):
            when = When(when.day, datetime.fromisoformat(chosen).time())  # "no wait, wednesday": same time
        wording = Wording(domain)
        result: TimeCheck = check_time(self.deps, dispatcher, wording, shop, when, text)
        if result.time is not None and not tracker.get_slot("appointment_email"):
            moment = datetime.fromisoformat(result.time)  # say what was understood before asking more
            utter(
                dispatcher,
                "utter_appointment_time_free",
                shop_name=shop.name,
                date=wording.date(moment.date()),
                time=wording.time(moment),
            )
        updates = {**result.slots(), "appointment_time_text": None}
        if result.time is None and result.part is None and result.day is not None:
            updates["appointment_part"] = tracker.get_slot("appointment_part")  # "afternoon", then "wednesday"
        return updates

    def pending_time(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        """A time given before the shop was known, checked now that it is."""
        pending, shop = tracker.get_slot("appointment_time_text"), self.shop(tracker)
        if not pending or shop is None or tracker.get_slot("appointment_time"):
            return []
        updates = self._check(dispatcher, tracker, domain, shop, str(pending), use_entities=False)
        tracker.slots.update(updates)
        return [SlotSet(k, v) for k, v in updates.items()]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        events: Events = await super().run(dispatcher, tracker, domain)
        return events + self.cross_check(dispatcher, tracker, domain)

    def cross_check(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        return self.pending_time(dispatcher, tracker, domain)


class ValidateAppointmentForm(_AppointmentValidation):
    def name(self) -> str:
        return "validate_appointment_form"

    def validate_appointment_shop(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        entity = latest_entity(tracker, "shop")
        key = str(entity or value or "").strip().lower()
        if key == "customer_service":
            utter(dispatcher, "utter_appointment_shop_not_bookable")
            return {"appointment_shop": None}
        if key not in APPOINTMENT_SHOPS or key not in self.deps.stores.shops:
            utter(dispatcher, "utter_appointment_shop_unknown", given=str(value or ""))
            return {"appointment_shop": None}
        return {"appointment_shop": key, **self.move_time(tracker)}

    def move_time(self, tracker: Tracker) -> dict[str, Any]:
        """Another shop after a time was chosen ("actually make it London"): the same day and time of
        day are checked again at the new shop (by `pending_time`), and the booking asked again."""
        chosen = tracker.get_slot("appointment_time")
        if not isinstance(chosen, str) or "appointment_time" in tracker.slots_to_validate():
            return {}  # no time yet, or one given in this same message (checked for this shop)
        try:
            moment = datetime.fromisoformat(chosen)
        except ValueError:
            return {"appointment_time": None}
        return {
            "appointment_time": None,
            "appointment_day": moment.date().isoformat(),
            "appointment_time_text": moment.strftime("%H:%M"),
            "appointment_confirmed": None,
        }

    def validate_appointment_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"appointment_confirmed": value if isinstance(value, bool) else None}


class _ExistingAppointmentValidation(_AppointmentValidation):
    """Reschedule and cancel: the reference and the email must match a booked appointment."""

    form_slots: tuple[str, ...] = ()

    def cross_check(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        reference, email = tracker.get_slot("appointment_reference"), tracker.get_slot("appointment_email")
        tried = tracker.get_slot(TRIED_EMAIL)
        if reference and not email and tried and self.deps.backend.find_appointment(str(reference), str(tried)):
            tracker.slots["appointment_email"] = tried  # "oh, it's FT-DEMO1" after a reference that matched nothing
            return [SlotSet("appointment_email", tried), *self.cross_check(dispatcher, tracker, domain)]
        if not reference or not email:
            return []
        found = self.deps.backend.find_appointment(str(reference), str(email))
        if found is None:
            utter(dispatcher, "utter_appointment_not_found")
            tracker.slots["appointment_email"] = None  # the reference stays; a new one is tried with this email
            return [*reset_slots("appointment_email"), SlotSet(TRIED_EMAIL, email)]
        if found.starts_at <= self.deps.now():
            shop = self.deps.stores.shop(found.shop)
            utter(dispatcher, "utter_appointment_already_past", **appointment_values(found, shop, Wording(domain)))
            return end_form(*self.form_slots)
        events: Events = []
        if tracker.get_slot("appointment_shop") != found.shop:
            tracker.slots["appointment_shop"] = found.shop
            events.append(SlotSet("appointment_shop", found.shop))
        return events + self.pending_time(dispatcher, tracker, domain)


class ValidateRescheduleAppointmentForm(_ExistingAppointmentValidation):
    form_slots = RESCHEDULE_SLOTS

    def name(self) -> str:
        return "validate_reschedule_appointment_form"

    def validate_appointment_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"appointment_confirmed": value if isinstance(value, bool) else None}


class ValidateCancelAppointmentForm(_ExistingAppointmentValidation):
    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "validate_cancel_appointment_form"

    def validate_cancel_appointment_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"cancel_appointment_confirmed": value if isinstance(value, bool) else None}


# Questions --------------------------------------------------------------------------------------
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
        day = tracker.get_slot("appointment_day")
        part = tracker.get_slot("appointment_part")
        part = part if isinstance(part, str) else None
        if isinstance(day, str):
            times = times_in_part(free_times(self.deps.backend, shop, date.fromisoformat(day), now), part)
            times = times[:MAX_TIME_BUTTONS]
            buttons = [(wording.title("slot_time", time=wording.time(t)), _time_payload("inform", t)) for t in times]
            on_day = {"shop_name": shop.name, "date": wording.date(date.fromisoformat(day))}
            if part is not None:  # "afternoon": say which times these are
                part_name = str(wording.get("parts_of_day").get(part, part))
                utter_buttons(dispatcher, "utter_ask_appointment_time_on_day_part", buttons, part=part_name, **on_day)
            else:
                utter_buttons(dispatcher, "utter_ask_appointment_time_on_day", buttons, **on_day)
            return []
        today = now.astimezone(shop.timezone).date()
        days = next_free_days(self.deps.backend, shop, today, now, limit=MAX_TIME_BUTTONS)
        if not days:
            utter(dispatcher, "utter_appointment_fully_booked", shop_name=shop.name)
            return end_form(*BOOK_SLOTS)
        if part is not None:  # "afternoon": the days that still have afternoon times
            days = [(d, ts) for d, ts in days if any(in_part(t.time(), part) for t in ts)] or days
        buttons = [(wording.title("slot_day", date=wording.date(d)), _time_payload("inform", d)) for d, _ in days]
        utter_buttons(dispatcher, "utter_ask_appointment_time", buttons, shop_name=shop.name)
        return []


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
            if old is not None:
                before = appointment_values(old, shop, wording)
                values.update(old_date=before["date"], old_time=before["time"])
            utter(dispatcher, "utter_ask_reschedule_confirmed", **values)
        else:
            utter(dispatcher, "utter_ask_appointment_confirmed", **values)
        return []


class ActionAskCancelAppointmentConfirmed(ShopAction):
    def name(self) -> str:
        return "action_ask_cancel_appointment_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        found = self.deps.backend.find_appointment(
            str(tracker.get_slot("appointment_reference")), str(tracker.get_slot("appointment_email"))
        )
        if found is None:
            utter(dispatcher, "utter_appointment_not_found")
            return end_form(*CANCEL_SLOTS)
        shop = self.deps.stores.shop(found.shop)
        utter(dispatcher, "utter_ask_cancel_appointment_confirmed", **appointment_values(found, shop, Wording(domain)))
        return []


# Submits ----------------------------------------------------------------------------------------
class ActionSubmitAppointment(ShopAction):
    def name(self) -> str:
        return "action_submit_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        confirmed = tracker.get_slot("appointment_confirmed")
        if confirmed is False:
            utter(dispatcher, "utter_appointment_not_booked")
            return reset_slots(*BOOK_SLOTS)
        key, when, email = (tracker.get_slot(s) for s in ("appointment_shop", "appointment_time", "appointment_email"))
        if confirmed is not True or not key or not when or not email:
            return reset_slots(*BOOK_SLOTS)
        wording = Wording(domain)
        shop = self.deps.stores.shop(str(key))
        moment = datetime.fromisoformat(str(when))
        try:
            booked = self.deps.backend.book_appointment(shop.key, moment, str(email))
        except SlotUnavailableError:
            others = free_times(self.deps.backend, shop, moment.date(), self.deps.now())[:MAX_TIME_BUTTONS]
            buttons = [
                (wording.title("slot_time", time=wording.time(t)), _time_payload("book_appointment", t, shop.key))
                for t in others
            ]
            response = "utter_appointment_slot_just_taken" if buttons else "utter_appointment_slot_just_taken_day_full"
            utter_buttons(
                dispatcher,
                response,
                buttons,
                shop_name=shop.name,
                date=wording.date(moment.date()),
                time=wording.time(moment),
            )
            return reset_slots("appointment_time", "appointment_day", "appointment_time_text", "appointment_confirmed")
        utter(dispatcher, "utter_appointment_booked", **appointment_values(booked, shop, wording))
        return reset_slots(*BOOK_SLOTS)


class ActionSubmitRescheduleAppointment(ShopAction):
    def name(self) -> str:
        return "action_submit_reschedule_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        confirmed = tracker.get_slot("appointment_confirmed")
        reference, email, when = (
            tracker.get_slot(s) for s in ("appointment_reference", "appointment_email", "appointment_time")
        )
        if confirmed is False:
            utter(dispatcher, "utter_appointment_not_rescheduled")
        elif confirmed is True and reference and email and when:
            wording = Wording(domain)
            moment = datetime.fromisoformat(str(when))
            try:
                moved = self.deps.backend.reschedule_appointment(str(reference), str(email), moment)
            except AppointmentNotFoundError:
                utter(dispatcher, "utter_appointment_not_found")
            except SlotUnavailableError as e:
                shop = self.deps.stores.shop(e.shop)
                local = moment.astimezone(shop.timezone)
                utter(
                    dispatcher,
                    "utter_appointment_slot_just_taken_reschedule",
                    shop_name=shop.name,
                    date=wording.date(local.date()),
                    time=wording.time(local),
                )
            else:
                shop = self.deps.stores.shop(moved.shop)
                utter(dispatcher, "utter_appointment_rescheduled", **appointment_values(moved, shop, wording))
        return reset_slots(*RESCHEDULE_SLOTS)


class ActionSubmitCancelAppointment(ShopAction):
    def name(self) -> str:
        return "action_submit_cancel_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        confirmed = tracker.get_slot("cancel_appointment_confirmed")
        reference, email = tracker.get_slot("appointment_reference"), tracker.get_slot("appointment_email")
        if confirmed is False:
            utter(dispatcher, "utter_appointment_kept")
        elif confirmed is True and reference and email:
            try:
                cancelled = self.deps.backend.cancel_appointment(str(reference), str(email))
            except AppointmentNotFoundError:
                utter(dispatcher, "utter_appointment_not_found")
            else:
                shop = self.deps.stores.shop(cancelled.shop)
                utter(dispatcher, "utter_appointment_cancelled", **appointment_values(cancelled, shop, Wording(domain)))
        return reset_slots(*CANCEL_SLOTS)
