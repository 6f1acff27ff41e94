"""Return request (`return_form`): verified order, which items, reason, confirmation, then an RMA.

Refusals say why: the order is not delivered yet, the 30-day window has closed (with the dates),
an item is in an excluded category (earrings, underwear, personalised) or was already returned.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import (
    DomainDict,
    Events,
    ShopAction,
    Wording,
    latest_entities,
    latest_text,
    reset_slots,
    utter,
    utter_buttons,
)
from bot.actions.backend.policy import item_refusal, order_refusal, return_deadline
from bot.actions.backend.protocol import (
    RETURN_WINDOW_DAYS,
    Order,
    OrderItem,
    OrderNotFoundError,
    ReturnNotAllowedError,
)
from bot.actions.orders import order_values
from bot.actions.verification import ORDER_SLOTS, OrderFormValidation, VerifiedQuestion, end_form, verified_order

RETURN_SLOTS = (*ORDER_SLOTS, "return_items", "return_reason", "return_confirmed", "return_exchange", "exchange_size")
EXCHANGE = "return_exchange"
"""Set when the customer wants the same item in another size: the form then asks `exchange_size`."""
EXCHANGE_SIZE = "exchange_size"
RETURN_REASONS = ("too_small", "too_large", "damaged", "not_as_described", "changed_mind", "wrong_item")
FREE_LABEL_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "GB",
    ]
)
ALL_ITEMS = "all"
_ALL_WORDS = re.compile(r"\b(all|everything|both|whole order|entire order|all of them)\b", re.I)
_STOP_WORDS = frozenset({"the", "a", "an", "my", "and", "it", "its", "this", "that", "of", "i", "to", "return"})


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9à-ÿ]+", text.lower()) if t not in _STOP_WORDS}


def match_items(order: Order, wanted: list[str]) -> list[OrderItem]:
    """Items of the order the customer named (by name, partial name, category or SKU)."""
    if any(w == ALL_ITEMS or _ALL_WORDS.search(w) for w in wanted):
        return list(order.items)
    chosen: list[OrderItem] = []
    for phrase in wanted:
        query = _tokens(phrase)
        if not query:
            continue
        scored = [(len(query & (_tokens(i.name) | {i.category, i.sku.lower()})), i) for i in order.items]
        best = max((score for score, _ in scored), default=0)
        chosen.extend(i for score, i in scored if score == best and best > 0 and i not in chosen)
    return chosen


_PHRASES = re.compile(r",|;|\band\b|\bor\b|\bplus\b", re.I)
_NOT_ITEM_WORDS = frozenset({"want", "like", "send", "back", "from", "order", "please", "can", "could", "would"})
_CLAUSES = re.compile(r"[,;.!?]|\bbut\b|\band\b", re.I)
_KEPT = re.compile(r"\b(keep|keeping|kept|except|without|instead of|rather than|not the|not my)\b", re.I)
"""A clause with one of these words names an item that stays ("I'm keeping the cardigan", "not the coat")."""


def mentioned_items(order: Order, text: str) -> list[str]:
    """The phrases of a message that name items of the order ("the briefs and the tote bag"), without
    the ones it says are kept ("I meant the black jeans, I'm keeping the cardigan")."""
    names = {t for i in order.items for t in _tokens(i.name) | {i.category}} - _NOT_ITEM_WORDS
    return without_kept([p.strip() for p in _PHRASES.split(text) if _tokens(p) & names], text)


def without_kept(wanted: list[str], text: str) -> list[str]:
    """The items of `wanted` the message does not say it keeps."""
    kept = [c for c in _CLAUSES.split(text) if _KEPT.search(c)]
    return [w for w in wanted if not any(_tokens(w) and _tokens(w) <= _tokens(c) for c in kept)]


def wants_everything(text: str) -> bool:
    """Does the message ask to return the whole order ("I want to return everything from AN-10019")?"""
    return bool(_ALL_WORDS.search(text))


def _values(order: Order, wording: Wording) -> dict[str, str]:
    deadline = return_deadline(order, RETURN_WINDOW_DAYS)
    return {
        **order_values(order, wording),
        "deadline": wording.date(deadline) if deadline else "",
        "window_days": str(RETURN_WINDOW_DAYS),
    }


_EXCHANGE_WORDS = re.compile(r"\b(swap|exchange)\b|\bchange\b.*\bsize\b", re.I)
_SIZE_WORDS = re.compile(r"\b(sizes?|smaller|bigger|larger|longer|shorter|waist|\d{2})\b", re.I)
_SIZE_LETTERS = re.compile(r"\b(XXS|XS|S|M|L|XL|XXL)\b")
_FOR_ANOTHER = re.compile(r"\bfor (?:the|a|an|my|this|that|your) ", re.I)
_SIZE_NUMBER = re.compile(r"\b\d{2}(?:/\d{2})?\b")
_SIZE_NAMED = re.compile(r"\bsize\s+(xxs|xs|s|m|l|xl|xxl)\b", re.I)
_SIZE_LETTER = re.compile(r"(?<![\w'’])(XXS|XS|S|M|L|XL|XXL)(?![\w'’])")


def exchange_wanted(text: str) -> str | None:
    """ "size" for the same item in another size ("can I swap them for a smaller size?"), "other" for an
    exchange for another piece ("exchange the sweater for the cardigan"), None when no exchange is asked."""
    if not _EXCHANGE_WORDS.search(text):
        return None
    if _SIZE_WORDS.search(text) or _SIZE_LETTERS.search(text) or not _FOR_ANOTHER.search(text):
        return "size"
    return "other"


def size_of(text: str) -> str | None:
    """The size in an answer to "which size?" ("waist 27 please" → 27, "an M" → M)."""
    found = _SIZE_NUMBER.search(text) or _SIZE_NAMED.search(text) or _SIZE_LETTER.search(text)
    return found.group(found.lastindex or 0).upper() if found else None


class ValidateReturnForm(OrderFormValidation):
    form_slots = RETURN_SLOTS

    def name(self) -> str:
        return "validate_return_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        events: Events = await super().run(dispatcher, tracker, domain)
        if any(e.get("event") == "active_loop" for e in events):
            return events  # the form ended (refused, not found)
        return events + self.exchange(dispatcher, tracker)

    def exchange(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
        """An exchange for another size asks which size once the items and the reason are known; an
        exchange for another piece is explained (return it and order the other one) and the return goes on."""
        events: Events = []
        wanted = exchange_wanted(latest_text(tracker))
        if wanted == "other":
            utter(dispatcher, "utter_exchange_other_item")
        elif wanted == "size" and not tracker.get_slot(EXCHANGE):
            tracker.slots[EXCHANGE] = True
            events.append({"event": "slot", "timestamp": None, "name": EXCHANGE, "value": True})
            named = [str(e.get("value")) for e in latest_entities(tracker, "size") if e.get("value")]
            if named and not tracker.get_slot(EXCHANGE_SIZE):  # "could I exchange it for an L?"
                tracker.slots[EXCHANGE_SIZE] = named[-1].upper()
                events.append({"event": "slot", "timestamp": None, "name": EXCHANGE_SIZE, "value": named[-1].upper()})
        ready = tracker.get_slot("return_items") and tracker.get_slot("return_reason")
        if tracker.get_slot(EXCHANGE) and ready and not tracker.get_slot(EXCHANGE_SIZE):
            events.append({"event": "slot", "timestamp": None, "name": "requested_slot", "value": EXCHANGE_SIZE})
        return events

    def validate_exchange_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        size = size_of(str(value or latest_text(tracker)))
        if size is None:
            utter(dispatcher, "utter_exchange_size_unknown")
        return {EXCHANGE_SIZE: size}

    def extract_exchange_size(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Nothing to extract here: the domain's slot mapping fills the size (from the answer's text)."""
        return {}

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """The form's questions, and the size to exchange for when the customer wants an exchange."""
        return [*domain_slots, EXCHANGE_SIZE] if tracker.get_slot(EXCHANGE) else domain_slots

    def check_order(
        self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, changed: set[Any]
    ) -> Events:
        wording = Wording(domain)
        refusal = order_refusal(order, self.deps.today(), RETURN_WINDOW_DAYS)
        if refusal is not None:
            utter(dispatcher, f"utter_return_refused_{refusal.value}", **_values(order, wording))
            return end_form(*RETURN_SLOTS)
        if all(item_refusal(i) is not None for i in order.items):
            utter(dispatcher, "utter_return_nothing_returnable", **_values(order, wording))
            return end_form(*RETURN_SLOTS)
        pending = tracker.get_slot("return_items")
        if not pending and "return_items" not in changed:  # "return the briefs and the tote bag from AN-10012"
            text = latest_text(tracker)
            pending = [ALL_ITEMS] if wants_everything(text) else mentioned_items(order, text)
        if "return_items" in changed or not pending or all(str(p).isdigit() for p in pending):
            return []
        # items named before the order was verified: check them now
        result = self._check_items(order, [str(p) for p in pending], dispatcher, wording)
        tracker.slots.update(result)
        return [{"event": "slot", "timestamp": None, "name": "return_items", "value": result["return_items"]}]

    def validate_return_items(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        wanted = [str(e.get("value")) for e in latest_entities(tracker, "item") if e.get("value")]
        if not wanted:
            wanted = [str(v) for v in value] if isinstance(value, list) else [str(value or latest_text(tracker))]
        wanted = without_kept(wanted, latest_text(tracker)) or wanted
        order = verified_order(self.deps, tracker)
        if order is None:
            return {"return_items": wanted}  # checked once the order is verified
        return self._check_items(order, wanted, dispatcher, Wording(domain))

    def _check_items(
        self, order: Order, wanted: list[str], dispatcher: CollectingDispatcher, wording: Wording
    ) -> dict[str, Any]:
        chosen = match_items(order, wanted)
        if any(w == ALL_ITEMS or _ALL_WORDS.search(w) for w in wanted):  # "all of them": what can go back,
            returnable = [i for i in chosen if item_refusal(i) is None]  # and why the others cannot
            chosen = chosen if not returnable else returnable + [i for i in chosen if i not in returnable]
        if not chosen:
            utter(dispatcher, "utter_return_item_unknown", given=wording.join(wanted), **_values(order, wording))
            return {"return_items": None}
        accepted: list[str] = []
        for item in chosen:
            refusal = item_refusal(item)
            if refusal is None:
                accepted.append(str(item.id))
            else:
                utter(
                    dispatcher,
                    f"utter_return_item_refused_{refusal.value}",
                    item=item.name,
                    category=item.category,
                    rma=item.return_rma or "",
                )
        return {"return_items": accepted or None}

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        candidates = [e.get("value") for e in latest_entities(tracker, "return_reason")] + [value]
        titles = Wording(domain).get("return_reasons")
        for candidate in candidates:
            text = str(candidate or "").strip().lower()
            if text in RETURN_REASONS:
                return {"return_reason": text}
            for code in RETURN_REASONS:
                if text and text == str(titles.get(code, "")).lower():
                    return {"return_reason": code}
        utter(dispatcher, "utter_return_reason_unknown")
        return {"return_reason": None}

    def validate_return_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"return_confirmed": value if isinstance(value, bool) else None}


def chosen_items(order: Order, tracker: Tracker) -> list[OrderItem]:
    """The items of the order in `return_items`."""
    ids = {str(i) for i in tracker.get_slot("return_items") or []}
    return [i for i in order.items if str(i.id) in ids]


class _ReturnQuestion(VerifiedQuestion[Order]):
    """A question about the order being returned; the form ends when it cannot be found any more."""

    form_slots = RETURN_SLOTS

    def find(self, tracker: Tracker) -> Order | None:
        return verified_order(self.deps, tracker)


class ActionAskReturnItems(_ReturnQuestion):
    """Lists the order's returnable items as buttons (payload: the item name as `item` entity)."""

    def name(self) -> str:
        return "action_ask_return_items"

    def ask(self, found: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
        wording = Wording(domain)
        returnable = [i for i in found.items if item_refusal(i) is None]
        buttons = [(i.name, '/inform{"item": "' + i.name + '"}') for i in returnable]
        if len(returnable) > 1:
            buttons.append((wording.title("return_all_items"), '/inform{"item": "' + ALL_ITEMS + '"}'))
        names = wording.join([i.name for i in returnable])
        utter_buttons(dispatcher, "utter_ask_return_items", buttons, **_values(found, wording), returnable=names)


class ActionAskReturnReason(ShopAction):
    """Asks why, naming the items chosen (the reason buttons come from the response)."""

    def name(self) -> str:
        return "action_ask_return_reason"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        order = verified_order(self.deps, tracker)
        items = chosen_items(order, tracker) if order is not None else []
        utter(dispatcher, "utter_ask_return_reason", return_items=Wording(domain).join([i.name for i in items]))
        return []


class ActionAskExchangeSize(_ReturnQuestion):
    """Asks which size the customer wants instead, naming the items."""

    def name(self) -> str:
        return "action_ask_exchange_size"

    def ask(self, found: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
        items = Wording(domain).join([i.name for i in chosen_items(found, tracker)])
        utter(dispatcher, "utter_ask_exchange_size", **_values(found, Wording(domain)), return_items=items)


class ActionAskReturnConfirmed(_ReturnQuestion):
    def name(self) -> str:
        return "action_ask_return_confirmed"

    def ask(self, found: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
        wording = Wording(domain)
        reason = str(wording.get("return_reasons").get(tracker.get_slot("return_reason"), ""))
        items = wording.join([i.name for i in chosen_items(found, tracker)])
        size = tracker.get_slot(EXCHANGE_SIZE)
        response = "utter_ask_exchange_confirmed" if size else "utter_ask_return_confirmed"
        utter(dispatcher, response, **_values(found, wording), return_items=items, reason=reason, size=size or "")


class ActionSubmitReturn(ShopAction):
    def name(self) -> str:
        return "action_submit_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        confirmed = tracker.get_slot("return_confirmed")
        if confirmed is False:
            utter(dispatcher, "utter_return_not_created")
        elif confirmed is True:
            self._create(dispatcher, tracker, Wording(domain))
        return reset_slots(*RETURN_SLOTS)

    def _create(self, dispatcher: CollectingDispatcher, tracker: Tracker, wording: Wording) -> None:
        order = verified_order(self.deps, tracker)
        if order is None:
            utter(dispatcher, "utter_order_not_found")
            return
        items = chosen_items(order, tracker)
        try:
            created = self.deps.backend.create_return(
                order.number,
                order.email,
                [i.id for i in items],
                str(tracker.get_slot("return_reason")),
                today=self.deps.today(),
            )
        except (OrderNotFoundError, ReturnNotAllowedError):
            utter(dispatcher, "utter_return_failed", order_number=order.number)
            return
        response = (
            "utter_return_created"
            if order.shipping_country in FREE_LABEL_COUNTRIES
            else "utter_return_created_paid_label"
        )
        size = tracker.get_slot(EXCHANGE_SIZE)
        utter(
            dispatcher,
            f"{response}_exchange" if size else response,
            **_values(order, wording),
            rma=created.rma,
            return_items=wording.join([i.name for i in items]),
            email=order.email,
            size=size or "",
        )
