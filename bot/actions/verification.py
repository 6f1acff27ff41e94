"""Checking that an order number and an email belong together, shared by the order forms.

Nothing about an order is revealed unless BOTH match, and a wrong number and a wrong email get
the same answer (`utter_order_not_found`), so orders cannot be enumerated. `VerifiedQuestion` asks
about what a form verified (an order, or a booking by reference and email).

Failed checks are capped (`VerificationGuard`): every pair that does not match counts against its order
number (or booking reference) AND its conversation; past `verification_max_failures` within
`verification_cooldown_minutes`, that order and that conversation get `utter_verification_locked` — no
more checks, not even of the right email — until the cool-down has passed. The count lives in the shop
database (`VerificationLog`, implemented by `SqlShopBackend`), so a new conversation, a second server
process or a remote action server share it; a failure is counted whether the number exists or not, so
the cap reveals nothing about which orders exist.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import (
    Deps,
    DomainDict,
    Events,
    ShopAction,
    ShopFormValidation,
    find_order_number,
    latest_text,
    reset_slots,
    utter,
    validate_email,
    value_before_message,
)
from bot.actions.backend.protocol import Order
from bot.config import get_settings
from bot.customers.identity import VERIFIED_EMAIL_SLOT

log = logging.getLogger("supportbot.actions")

ORDER_SLOTS = ("order_number", "order_email")
VERIFIED_EMAIL = VERIFIED_EMAIL_SLOT
"""The email of an order (or booking) already verified in this conversation: "and AN-10006 too" tries it
first, and it proves the customer to the customer memory for the rest of the session (docs/customers.md)."""
TRIED_EMAIL = "tried_email"
"""An email that matched no order with the number given: tried again with the next number given."""
VERIFIED_ORDER = "verified_order"
"""The last order verified in this conversation: "can I still cancel it?" is about this one."""
Found = TypeVar("Found")
_BACK_REFERENCE = re.compile(
    r"\b(it|that|this|them|that one|this one|the order|that order|this order|same order)\b", re.I
)


LOCKED_RESPONSE = "utter_verification_locked"


@runtime_checkable
class VerificationLog(Protocol):
    """Where failed verifications are counted (`SqlShopBackend` implements it)."""

    def record_failed_verification(self, keys: Sequence[str]) -> None: ...

    def failed_verifications(self, key: str, since: datetime) -> int: ...


class InMemoryVerificationLog:
    """The fallback for a backend that keeps no count itself: per process, so weaker — such a backend
    should implement `VerificationLog`."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.clock = datetime.now

    def record_failed_verification(self, keys: Sequence[str]) -> None:
        now = self.clock().timestamp()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, []).append(now)

    def failed_verifications(self, key: str, since: datetime) -> int:
        with self._lock:
            return sum(1 for at in self._failures.get(key, []) if at >= since.timestamp())


_fallback_log = InMemoryVerificationLog()


def order_key(number: str) -> str:
    return f"order:{number.strip().upper()}"


def appointment_key(reference: str) -> str:
    return f"appointment:{reference.strip().upper()}"


def conversation_key(sender_id: str) -> str:
    return f"conversation:{sender_id}"


class VerificationGuard:
    """Caps failed verifications per order (or booking) and per conversation (see the module docstring)."""

    def __init__(self, record: VerificationLog, now: datetime, max_failures: int, cooldown: timedelta) -> None:
        self.record = record
        self.now = now
        self.max_failures = max_failures
        self.cooldown = cooldown

    @classmethod
    def of(cls, deps: Deps) -> VerificationGuard:
        """The guard of a handler: its backend's count (else a per-process one) and the settings' cap."""
        settings = get_settings()
        backend = deps.backend
        record: VerificationLog
        if isinstance(backend, VerificationLog):
            record = backend
        else:
            log.warning("the shop backend keeps no count of failed verifications; counting in this process only")
            record = _fallback_log
        cooldown = timedelta(minutes=settings.verification_cooldown_minutes)
        return cls(record, deps.now(), settings.verification_max_failures, cooldown)

    @property
    def minutes(self) -> str:
        return str(max(1, round(self.cooldown.total_seconds() / 60)))

    def locked(self, *keys: str) -> bool:
        """Has any of `keys` had `max_failures` failures within the cool-down?"""
        since = self.now - self.cooldown
        return any(self.record.failed_verifications(key, since) >= self.max_failures for key in keys)

    def failed(self, *keys: str) -> None:
        self.record.record_failed_verification(keys)

    def refuse(self, dispatcher: CollectingDispatcher) -> None:
        """Tell the customer checks are paused, and for how long."""
        utter(dispatcher, LOCKED_RESPONSE, minutes=self.minutes)


def end_form(*slots: str) -> Events:
    """Events that leave the active form without submitting it, clearing its slots."""
    return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_slots(*slots)]


def verified_order(deps: Deps, tracker: Tracker) -> Order | None:
    """The order of the form's `order_number` and `order_email` (None until both match an order)."""
    number, email = tracker.get_slot("order_number"), tracker.get_slot("order_email")
    if not number or not email:
        return None
    return deps.backend.find_order(str(number), str(email))


def _verified_last_turn(tracker: Tracker) -> bool:
    """Was an order verified in answer to the customer's previous message (the conversation is about it)?"""
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if len(users) < 2:
        return False
    return any(
        e.get("event") == "slot" and e.get("name") == VERIFIED_ORDER and e.get("value")
        for e in tracker.events[users[-2] : users[-1]]
    )


class OrderFormValidation(ShopFormValidation):
    """Validates `order_number` and `order_email`, then checks the pair against the backend."""

    form_slots: tuple[str, ...] = ORDER_SLOTS

    @abstractmethod
    def name(self) -> str: ...

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        settings = get_settings()
        number = find_order_number(value, tracker, settings.order_number_pattern, settings.order_number_format)
        if number is None:
            utter(dispatcher, "utter_invalid_order_number", given=str(value or latest_text(tracker)))
        return {"order_number": number}

    def validate_order_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_email("order_email", value, dispatcher, tracker)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        events: Events = await super().run(dispatcher, tracker, domain)
        events += self.reuse_verified_order(dispatcher, tracker)
        events += self.reuse_verified_email(tracker)
        changed = {e.get("name") for e in events if e.get("event") == "slot"}
        return events + await self.cross_check(dispatcher, tracker, domain, changed)

    def reuse_verified_order(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
        """A task that starts by pointing back ("can I still cancel it?", "let's return it then") is
        about the order verified a moment ago: it is used, and the customer told so."""
        known, email = tracker.get_slot(VERIFIED_ORDER), tracker.get_slot(VERIFIED_EMAIL)
        if tracker.get_slot("order_number") or not known or not email:
            return []
        if not _BACK_REFERENCE.search(latest_text(tracker)) and not _verified_last_turn(tracker):
            return []
        utter(dispatcher, "utter_using_verified_order", order_number=str(known))
        tracker.slots.update({"order_number": known, "order_email": email})
        return [SlotSet("order_number", known), SlotSet("order_email", email)]

    def reuse_verified_email(self, tracker: Tracker) -> Events:
        """A new order number in a conversation that already verified an email: when that email goes
        with the number, the customer is not asked again; when it does not, they are simply asked. Each
        email tried counts as a verification (never while the order or conversation is locked)."""
        number, email = tracker.get_slot("order_number"), tracker.get_slot("order_email")
        if not number or email:
            return []
        keys = (order_key(str(number)), conversation_key(tracker.sender_id))
        guard = VerificationGuard.of(self.deps)
        new_number = value_before_message(tracker, "order_number") != number
        for known in dict.fromkeys(k for k in (tracker.get_slot(VERIFIED_EMAIL), tracker.get_slot(TRIED_EMAIL)) if k):
            if guard.locked(*keys):
                return []
            if self.deps.backend.find_order(str(number), str(known)) is not None:
                tracker.slots["order_email"] = known
                return [SlotSet("order_email", known)]
            if new_number:
                guard.failed(*keys)  # counted once, when the number is new
        return []

    async def cross_check(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, changed: set[Any]
    ) -> Events:
        number, email = tracker.get_slot("order_number"), tracker.get_slot("order_email")
        if not number or not email:
            return []
        keys = (order_key(str(number)), conversation_key(tracker.sender_id))
        guard = VerificationGuard.of(self.deps)
        if guard.locked(*keys):
            guard.refuse(dispatcher)
            return end_form(*self.form_slots)
        order = self.deps.backend.find_order(str(number), str(email))
        if order is None:
            guard.failed(*keys)
            if changed & set(ORDER_SLOTS):
                utter(dispatcher, "utter_order_not_found")
            # the number stays: "sorry, it's ben@example.com" completes it; a new number is tried
            # with the email just given ("oh, it's AN-10005")
            tracker.slots["order_email"] = None
            return [*reset_slots("order_email"), SlotSet(TRIED_EMAIL, email)]
        verified = [SlotSet(VERIFIED_EMAIL, order.email), SlotSet(VERIFIED_ORDER, order.number)]
        return verified + self.check_order(order, dispatcher, tracker, domain, changed)

    def check_order(
        self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, changed: set[Any]
    ) -> Events:
        """Form-specific checks once the order is verified (e.g. can it still be cancelled?)."""
        return []


class VerifiedQuestion(ShopAction, Generic[Found]):
    """Asks about what the form verified (`find`). When it cannot be found any more, the customer is
    told (`not_found`: the same answer for a wrong number and a wrong email) and the form ends."""

    not_found = "utter_order_not_found"
    form_slots: tuple[str, ...] = ORDER_SLOTS

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        found = self.find(tracker)
        if found is None:
            utter(dispatcher, self.not_found)
            return end_form(*self.form_slots)
        self.ask(found, dispatcher, tracker, domain)
        return []

    @abstractmethod
    def find(self, tracker: Tracker) -> Found | None: ...

    @abstractmethod
    def ask(self, found: Found, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None: ...
