"""Validating the appointment forms: the shop, the time (checked against the shop's free slots), the
booking reference and email (checked together against the backend), and the yes/no confirmation."""

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
    ShopFormValidation,
    Wording,
    entity_text,
    latest_entities,
    latest_entity,
    latest_text,
    reset_slots,
    utter,
    validate_email,
    value_before_message,
)
from bot.actions.appointments.form import CANCEL_SLOTS, RESCHEDULE_SLOTS, appointment_values, slot_values
from bot.actions.slots import APPOINTMENT_SHOPS, TimeCheck, check_time
from bot.actions.stores import Shop
from bot.actions.verification import (
    TRIED_EMAIL,
    VERIFIED_EMAIL,
    VerificationGuard,
    appointment_key,
    conversation_key,
    end_form,
)
from bot.actions.when import When, named_weekday, read_when
from bot.customers.identity import CUSTOMER_SHOP_SLOT

_REFERENCE = re.compile(r"\bFT[- ]?([A-Z0-9]{4,6})\b", re.I)
TIME_FORMS = ("appointment_form", "reschedule_appointment_form")
"""The forms that ask for an appointment time."""


def day_from_button(tracker: Tracker) -> bool:
    """Was the chosen day (`appointment_day`, before this message) picked with a day button?"""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    said, picked = "", False
    for item in events[:last_user]:
        if item.get("event") == "user":
            said = str(item.get("text") or "")
        elif item.get("event") == "slot" and item.get("name") == "appointment_day":
            picked = item.get("value") is not None and said.startswith("/")
    return picked


class _AppointmentValidation(ShopFormValidation):
    """Shared slot checks of the three appointment forms."""

    def shop(self, tracker: Tracker) -> Shop | None:
        key = tracker.get_slot("appointment_shop")
        stores = self.deps.stores
        return stores.shops.get(str(key)) if key else None

    def validate_appointment_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        result = validate_email("appointment_email", value, dispatcher, tracker)
        email = result.get("appointment_email")
        asked = tracker.get_slot("requested_slot")
        if email and asked not in (None, "appointment_email") and asked not in tracker.slots_to_validate():
            # the email given while another question was open ("ben@example.com" when a time was asked):
            # say it was kept, so the question asked again does not read as if the message was ignored
            utter(dispatcher, "utter_appointment_email_noted", email=email)
        return result

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
            weekday=named_weekday(text),
        )
        chosen = value_before_message(tracker, "appointment_time")
        if isinstance(when, When) and when.at is None and when.part is None and isinstance(chosen, str):
            when = When(when.day, datetime.fromisoformat(chosen).time())  # "no wait, wednesday": same time
        wording = Wording(domain)
        result: TimeCheck = check_time(self.deps, dispatcher, wording, shop, when, text)
        if result.time is not None and not tracker.get_slot("appointment_email"):
            moment = datetime.fromisoformat(result.time)  # say what was understood before asking more
            utter(dispatcher, "utter_appointment_time_free", **slot_values(shop, moment, wording))
        updates = {**result.slots(), "appointment_time_text": None}
        if result.time is None and result.part is None and result.day is not None:
            updates["appointment_part"] = tracker.get_slot("appointment_part")  # "afternoon", then "wednesday"
        return updates

    def day_named(self, tracker: Tracker) -> str | None:
        """This message's text when it names a day of the week that no slot mapping read ("fitting in
        berlin for tues": no date entity), in a form that asks for a time that is not chosen yet."""
        if self.form_name() not in TIME_FORMS or tracker.get_slot("appointment_time"):
            return None
        text = latest_text(tracker)
        if not latest_entities(tracker, "weekday") or text.startswith("/"):
            return None
        return None if "appointment_time" in tracker.slots_to_validate() else text

    def pending_time(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        """A time given before the shop was known, checked now that it is; or a day named in this message."""
        pending, shop, named = tracker.get_slot("appointment_time_text"), self.shop(tracker), self.day_named(tracker)
        if named is not None and shop is None:  # checked as soon as the shop is known
            tracker.slots["appointment_time_text"] = named
            return [SlotSet("appointment_time_text", named)]
        pending = named or pending
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

    def move_time(self, tracker: Tracker) -> dict[str, Any]:
        """Another shop after a time was chosen ("actually make it London"): the same day and time of
        day are checked again at the new shop (by `pending_time`), and the booking asked again."""
        chosen = tracker.get_slot("appointment_time")
        if chosen is None and "appointment_time" not in tracker.slots_to_validate() and day_from_button(tracker):
            return {"appointment_day": None}  # a day picked among the other shop's free days: this shop's days
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


class _AppointmentConfirmation:
    """`appointment_confirmed` of the booking and the reschedule form: the customer's yes or no."""

    def validate_appointment_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"appointment_confirmed": value if isinstance(value, bool) else None}


class ValidateAppointmentForm(_AppointmentConfirmation, _AppointmentValidation):
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
        country = latest_entity(tracker, "country")
        in_country = self.deps.stores.in_country(country, APPOINTMENT_SHOPS) if isinstance(country, str) else None
        if key not in APPOINTMENT_SHOPS and in_country is not None:  # "the one in germany"
            key = in_country.key
        if key not in APPOINTMENT_SHOPS or key not in self.deps.stores.shops:
            utter(dispatcher, "utter_appointment_shop_unknown", given=str(value or ""))
            return {"appointment_shop": None}
        return {"appointment_shop": key, **self.move_time(tracker)}

    def cross_check(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        events = self.preferred_shop(dispatcher, tracker)
        events += self.pending_time(dispatcher, tracker, domain)
        return events + self.verified_email(dispatcher, tracker)

    def preferred_shop(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
        """A booking started without a shop, by a customer whose shop is remembered: that shop, and say so."""
        preferred = tracker.get_slot(CUSTOMER_SHOP_SLOT)
        if tracker.get_slot("appointment_shop") or tracker.get_slot("requested_slot") or latest_entity(tracker, "shop"):
            return []  # a shop chosen, a question already asked, or a shop named in this message
        if (
            not isinstance(preferred, str)
            or preferred not in APPOINTMENT_SHOPS
            or preferred not in self.deps.stores.shops
        ):
            return []
        tracker.slots["appointment_shop"] = preferred
        utter(dispatcher, "utter_appointment_your_shop", shop_name=self.deps.stores.shops[preferred].name)
        return [SlotSet("appointment_shop", preferred)]

    def verified_email(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
        """The email verified earlier in this conversation, used when the booking comes to it (and said)."""
        email = tracker.get_slot(VERIFIED_EMAIL)
        ready = tracker.get_slot("appointment_shop") and tracker.get_slot("appointment_time")
        if not email or not ready or tracker.get_slot("appointment_email"):
            return []
        tracker.slots["appointment_email"] = email
        utter(dispatcher, "utter_using_verified_email", email=str(email))
        return [SlotSet("appointment_email", email)]


class _ExistingAppointmentValidation(_AppointmentValidation):
    """Reschedule and cancel: the reference and the email must match a booked appointment."""

    form_slots: tuple[str, ...] = ()

    def cross_check(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        """The reference and email checked together: every pair that does not match counts against the
        reference and the conversation, and past the cap both are refused (bot/actions/verification.py)."""
        reference, email = tracker.get_slot("appointment_reference"), tracker.get_slot("appointment_email")
        tried = tracker.get_slot(TRIED_EMAIL)
        if not reference:
            return []
        keys = (appointment_key(str(reference)), conversation_key(tracker.sender_id))
        guard = VerificationGuard.of(self.deps)
        if (email or tried) and guard.locked(*keys):
            guard.refuse(dispatcher)
            return end_form(*self.form_slots)
        if not email and tried:
            if self.deps.backend.find_appointment(str(reference), str(tried)):
                tracker.slots["appointment_email"] = tried  # "oh, it's FT-DEMO1" after a reference that matched nothing
                return [SlotSet("appointment_email", tried), *self.cross_check(dispatcher, tracker, domain)]
            if value_before_message(tracker, "appointment_reference") != reference:
                guard.failed(*keys)  # counted once, when the reference is new
        if not email:
            return []
        found = self.deps.backend.find_appointment(str(reference), str(email))
        if found is None:
            guard.failed(*keys)
            utter(dispatcher, "utter_appointment_not_found")
            tracker.slots["appointment_email"] = None  # the reference stays; a new one is tried with this email
            return [*reset_slots("appointment_email"), SlotSet(TRIED_EMAIL, email)]
        if found.starts_at <= self.deps.now():
            shop = self.deps.stores.shop(found.shop)
            utter(dispatcher, "utter_appointment_already_past", **appointment_values(found, shop, Wording(domain)))
            return end_form(*self.form_slots)
        events: Events = []
        if tracker.get_slot(VERIFIED_EMAIL) != found.email:  # the reference and email proved the customer
            events.append(SlotSet(VERIFIED_EMAIL, found.email))
        key = self.shop_for(tracker, found.shop)
        if tracker.get_slot("appointment_shop") != key:
            updates = {
                "appointment_shop": key,
                **(self.move_time(tracker) if tracker.get_slot("appointment_shop") else {}),
            }
            tracker.slots.update(updates)
            events += [SlotSet(k, v) for k, v in updates.items()]
        return events + self.pending_time(dispatcher, tracker, domain)

    def shop_for(self, tracker: Tracker, booked: str) -> str:
        """The appointment's shop; a move names another one ("to your Berlin shop instead"), kept after."""
        named = latest_entity(tracker, "shop")
        if self.form_name() != "reschedule_appointment_form":
            return booked
        if isinstance(named, str) and named in APPOINTMENT_SHOPS and named in self.deps.stores.shops:
            return named
        current = tracker.get_slot("appointment_shop")
        return current if isinstance(current, str) and current in APPOINTMENT_SHOPS else booked


class ValidateRescheduleAppointmentForm(_AppointmentConfirmation, _ExistingAppointmentValidation):
    form_slots = RESCHEDULE_SLOTS

    def name(self) -> str:
        return "validate_reschedule_appointment_form"


class ValidateCancelAppointmentForm(_ExistingAppointmentValidation):
    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "validate_cancel_appointment_form"

    def validate_cancel_appointment_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"cancel_appointment_confirmed": value if isinstance(value, bool) else None}
