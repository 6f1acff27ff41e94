"""Greeting a known customer with what they have open: an order on its way, a fitting ahead, a return.

The dialogue (`bot.dialogue.memory`) runs `action_greet_known_customer` when a proven customer greets (the
widget's start payload `/greet`, or "hi"), handing it who they are in `latest_message.metadata`
(`KNOWN_CUSTOMER_METADATA_KEY`). The most pressing open thing is mentioned, with its likely next step as a
quick reply: an order not yet delivered ("Track it"), else the next booked appointment ("Reschedule"),
else a recent return ("Refund status"). Nothing open, a customer the shop does not know, or a backend
without `CustomerActivitySource`: the action says nothing and the usual greeting follows. Wording:
`utter_greet_known_*` in `intents/responses.yml`.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import DomainDict, Events, ShopAction, Wording, utter
from bot.actions.appointments.form import appointment_values
from bot.actions.backend.activity import ON_THE_WAY, CustomerActivitySource, OpenActivity
from bot.actions.stores import Stores
from bot.customers.identity import KNOWN_CUSTOMER_METADATA_KEY

GREET_KNOWN_CUSTOMER = "action_greet_known_customer"


def known_customer(tracker: Tracker) -> str | None:
    """The email or shop customer id the dialogue proved for this message (None: anonymous)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    known = metadata.get(KNOWN_CUSTOMER_METADATA_KEY) if isinstance(metadata, dict) else None
    value = known.get("id") if isinstance(known, dict) else None
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


def greeting(activity: OpenActivity, wording: Wording, stores: Stores) -> tuple[str, dict[str, str]] | None:
    """The response and its values for the most pressing open thing; None when nothing is open."""
    name = {"first_name": activity.first_name}
    if activity.orders:
        order = activity.orders[0]
        values = {**name, "order_number": order.number, "email": order.email}
        status = str(wording.get("order_statuses").get(order.status.value, order.status.value))
        if order.status in ON_THE_WAY and order.expected_delivery is not None:
            return "utter_greet_known_order_on_its_way", {
                **values,
                "expected_delivery": wording.date(order.expected_delivery),
            }
        return "utter_greet_known_order", {**values, "status": status}
    if activity.appointments:
        appointment = activity.appointments[0]
        values = appointment_values(appointment, stores.shop(appointment.shop), wording)
        return "utter_greet_known_appointment", {**name, **values}
    if activity.returns:
        ret = activity.returns[0]
        return "utter_greet_known_return", {**name, "rma": ret.rma, "order_number": ret.order_number}
    return None


class ActionGreetKnownCustomer(ShopAction):
    def name(self) -> str:
        return GREET_KNOWN_CUSTOMER

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        customer = known_customer(tracker)
        backend = self.deps.backend if customer is not None else None
        if customer is None or not isinstance(backend, CustomerActivitySource):
            return []
        activity = backend.open_activity(customer, self.deps.now())
        said = greeting(activity, Wording(domain), self.deps.stores) if activity is not None else None
        if said is not None:
            utter(dispatcher, said[0], **said[1])
        return []
