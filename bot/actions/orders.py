"""Order status and order cancellation (forms `order_status_form` and `cancel_order_form`)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import DomainDict, Events, ShopAction, Wording, latest_entities, money, reset_slots, utter
from bot.actions.backend.policy import order_refusal, return_deadline
from bot.actions.backend.protocol import (
    RETURN_WINDOW_DAYS,
    Order,
    OrderNotCancellableError,
    OrderNotFoundError,
    OrderStatus,
)
from bot.actions.verification import (
    ORDER_SLOTS,
    OrderFormValidation,
    VerificationGuard,
    VerifiedQuestion,
    conversation_key,
    end_form,
    order_key,
)

CANCEL_SLOTS = (*ORDER_SLOTS, "cancel_order_confirmed")
NOT_RECEIVED = re.compile(
    r"(?:\b(?:nothing|never|not|no)\b|n't)[^.?!]{0,25}\b(?:came|come|arrived?|received?|got|turned up|showed up)\b"
    r"|\bnot (?:been )?(?:received|delivered)\b|\b(?:missing|lost|stolen)\b",
    re.IGNORECASE,
)
"""The customer says a parcel never reached them ("says delivered but nothing came", "I never got it")."""
RECENT_MESSAGES = 3
"""How many of the customer's latest messages the order question may have been said in."""


def says_not_received(tracker: Tracker) -> bool:
    """Whether one of the customer's latest messages says the parcel did not arrive."""
    texts = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"][-RECENT_MESSAGES:]
    return any(NOT_RECEIVED.search(text) for text in texts)


def order_values(order: Order, wording: Wording) -> dict[str, str]:
    """Placeholders every order response may use."""

    def day(value: Any) -> str:
        return wording.date(value) if value is not None else ""

    return {
        "order_number": order.number,
        "status": str(wording.get("order_statuses").get(order.status.value, order.status.value)),
        "items": wording.join([i.name for i in order.items]),
        "total": money(order.total_cents, order.currency),
        "placed_on": day(order.placed_on),
        "carrier": order.carrier or "",
        "tracking_url": order.tracking_url or "",
        "expected_delivery": day(order.expected_delivery),
        "delivered_on": day(order.delivered_on),
        "customer_name": order.customer_name.split(" ")[0],
    }


def numbers_asked(tracker: Tracker) -> list[str]:
    """The order numbers in the customer's messages since the order status form started."""
    events = list(tracker.events)
    start = max(
        (i for i, e in enumerate(events) if e.get("event") == "active_loop" and e.get("name") == "order_status_form"),
        default=len(events),
    )
    start = max((i for i, e in enumerate(events[:start]) if e.get("event") == "user"), default=start)  # its message
    found: list[str] = []
    for item in events[start:]:
        if item.get("event") != "user":
            continue
        for entity in (item.get("parse_data") or {}).get("entities") or []:
            if isinstance(entity, dict) and entity.get("entity") == "order_number" and entity.get("value"):
                found.append(str(entity["value"]))
    return found


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ActionOrderStatus(ShopAction):
    """Submit of `order_status_form`: status, carrier, tracking link, expected delivery."""

    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        number, email = tracker.get_slot("order_number"), tracker.get_slot("order_email")
        if number and email:
            # "can you check AN-10004 and AN-10003?": every order number the customer gave for this question,
            # each one a verification of its own (capped like the form's)
            guard = VerificationGuard.of(self.deps)
            for wanted in dict.fromkeys([str(number), *numbers_asked(tracker)]):
                keys = (order_key(wanted), conversation_key(tracker.sender_id))
                if wanted != str(number) and guard.locked(*keys):
                    guard.refuse(dispatcher)
                    break
                order = self.deps.backend.find_order(wanted, str(email))
                if order is None:
                    if wanted != str(number):
                        guard.failed(*keys)
                    utter(dispatcher, "utter_order_not_found")
                else:
                    response, values = self.status_response(order, Wording(domain))
                    utter(dispatcher, response, **values)
                    if order.status is OrderStatus.DELIVERED and says_not_received(tracker):
                        utter(dispatcher, "utter_order_delivered_not_received", **values)  # neighbour, then a person
        return reset_slots(*ORDER_SLOTS)

    def status_response(self, order: Order, wording: Wording) -> tuple[str, dict[str, str]]:
        """The response for the order's status; a delivered order says whether it can still be returned."""
        values = order_values(order, wording)
        response = f"utter_order_status_{order.status.value}"
        deadline = return_deadline(order, RETURN_WINDOW_DAYS)
        if order.status is OrderStatus.DELIVERED and deadline is not None:
            values.update(deadline=wording.date(deadline), window_days=str(RETURN_WINDOW_DAYS))
            if order_refusal(order, self.deps.today(), RETURN_WINDOW_DAYS) is not None:
                response = "utter_order_status_delivered_window_closed"
        return response, values


class ValidateCancelOrderForm(OrderFormValidation):
    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "validate_cancel_order_form"

    def check_order(
        self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, changed: set[Any]
    ) -> Events:
        wording = Wording(domain)
        if changed & set(ORDER_SLOTS):  # "please cancel both AN-10004 and AN-10018": the others too
            self.check_others(order, dispatcher, tracker, wording)
        if order.status.cancellable:
            return []
        refuse(order, dispatcher, wording)
        return end_form(*CANCEL_SLOTS)

    def check_others(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker, wording: Wording) -> None:
        """The other orders the message asks to cancel, with the same email: the ones that cannot be
        cancelled are refused now (with the reason), the ones that can are left for next."""
        others = [str(e.get("value")) for e in latest_entities(tracker, "order_number") if e.get("value")]
        guard = VerificationGuard.of(self.deps)
        for number in dict.fromkeys(n for n in others if n != order.number):
            keys = (order_key(number), conversation_key(tracker.sender_id))
            if guard.locked(*keys):
                guard.refuse(dispatcher)
                return
            other = self.deps.backend.find_order(number, order.email)
            if other is None:
                guard.failed(*keys)
                utter(dispatcher, "utter_order_not_found_one", order_number=number)
            elif other.status.cancellable:
                utter(dispatcher, "utter_order_cancel_next", order_number=number, first=order.number)
            else:
                refuse(other, dispatcher, wording)

    def validate_cancel_order_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"cancel_order_confirmed": value if isinstance(value, bool) else None}


def refuse(order: Order, dispatcher: CollectingDispatcher, wording: Wording) -> None:
    """Say why the order cannot be cancelled (already cancelled, delivered, or packed and on its way)."""
    values = order_values(order, wording)
    if order.status is OrderStatus.CANCELLED:
        utter(dispatcher, "utter_order_already_cancelled", **values)
    elif order.status is OrderStatus.DELIVERED:
        utter(dispatcher, "utter_order_not_cancellable_delivered", **values)
    else:
        utter(dispatcher, "utter_order_not_cancellable", **values)


class ActionAskCancelOrderConfirmed(VerifiedQuestion[Order]):
    """Asks for an explicit yes before cancelling, naming the order's items and total."""

    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "action_ask_cancel_order_confirmed"

    def find(self, tracker: Tracker) -> Order | None:
        return self.deps.backend.find_order(str(tracker.get_slot("order_number")), str(tracker.get_slot("order_email")))

    def ask(self, found: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
        utter(dispatcher, "utter_ask_cancel_order_confirmed", **order_values(found, Wording(domain)))


class ActionSubmitCancelOrder(ShopAction):
    def name(self) -> str:
        return "action_submit_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        number, email = tracker.get_slot("order_number"), tracker.get_slot("order_email")
        confirmed = tracker.get_slot("cancel_order_confirmed")
        if confirmed is False:
            utter(dispatcher, "utter_order_cancel_kept", order_number=str(number or ""))
        elif confirmed is True and number and email:
            try:
                order = self.deps.backend.cancel_order(str(number), str(email))
            except OrderNotFoundError:
                utter(dispatcher, "utter_order_not_found")
            except OrderNotCancellableError as e:
                status = Wording(domain).get("order_statuses").get(e.status.value, e.status.value)
                utter(dispatcher, "utter_order_not_cancellable", order_number=e.number, status=status)
            else:
                utter(dispatcher, "utter_order_cancelled", **order_values(order, Wording(domain)))
        return reset_slots(*CANCEL_SLOTS)
