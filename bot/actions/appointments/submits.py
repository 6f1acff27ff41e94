"""Booking, rescheduling and cancelling in the backend once the customer confirmed."""

from __future__ import annotations

from datetime import datetime

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import DomainDict, Events, ShopAction, Wording, reset_slots, utter, utter_buttons
from bot.actions.appointments.form import (
    BOOK_SLOTS,
    CANCEL_SLOTS,
    MAX_TIME_BUTTONS,
    RESCHEDULE_SLOTS,
    appointment_values,
    slot_values,
    time_payload,
)
from bot.actions.backend.protocol import AppointmentNotFoundError, SlotUnavailableError
from bot.actions.events import cancel_reminder, offer_reminder, reminder_offer
from bot.actions.slots import free_times


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
                (wording.title("slot_time", time=wording.time(t)), time_payload("book_appointment", t, shop.key))
                for t in others
            ]
            response = "utter_appointment_slot_just_taken" if buttons else "utter_appointment_slot_just_taken_day_full"
            utter_buttons(dispatcher, response, buttons, **slot_values(shop, moment, wording))
            return reset_slots("appointment_time", "appointment_day", "appointment_time_text", "appointment_confirmed")
        utter(dispatcher, "utter_appointment_booked", **appointment_values(booked, shop, wording))
        offer = reminder_offer(booked.reference, shop.name, booked.starts_at.astimezone(shop.timezone))
        return reset_slots(*BOOK_SLOTS) + offer_reminder(dispatcher, domain, offer, self.deps.now())


class ActionSubmitRescheduleAppointment(ShopAction):
    def name(self) -> str:
        return "action_submit_reschedule_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        confirmed = tracker.get_slot("appointment_confirmed")
        reference, email, when, shop_key = (
            tracker.get_slot(s)
            for s in ("appointment_reference", "appointment_email", "appointment_time", "appointment_shop")
        )
        if confirmed is False:
            utter(dispatcher, "utter_appointment_not_rescheduled")
        elif confirmed is True and reference and email and when:
            wording = Wording(domain)
            moment = datetime.fromisoformat(str(when))
            try:
                shop_key = str(shop_key) if shop_key else None  # another shop when the customer named one
                moved = self.deps.backend.reschedule_appointment(str(reference), str(email), moment, shop_key)
            except AppointmentNotFoundError:
                utter(dispatcher, "utter_appointment_not_found")
            except SlotUnavailableError as e:
                shop = self.deps.stores.shop(e.shop)
                local = moment.astimezone(shop.timezone)
                utter(dispatcher, "utter_appointment_slot_just_taken_reschedule", **slot_values(shop, local, wording))
            else:
                shop = self.deps.stores.shop(moved.shop)
                utter(dispatcher, "utter_appointment_rescheduled", **appointment_values(moved, shop, wording))
                return [cancel_reminder(moved.reference), *reset_slots(*RESCHEDULE_SLOTS)]  # its reminder is off
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
                return [cancel_reminder(cancelled.reference), *reset_slots(*CANCEL_SLOTS)]
        return reset_slots(*CANCEL_SLOTS)
