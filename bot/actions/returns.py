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

RETURN_SLOTS = (*ORDER_SLOTS, "return_items", "return_reason", "return_confirmed")
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


def mentioned_items(order: Order, text: str) -> list[str]:
    """The phrases of a message that name items of the order ("the briefs and the tote bag")."""
    names = {t for i in order.items for t in _tokens(i.name) | {i.category}} - _NOT_ITEM_WORDS
    return [p.strip() for p in _PHRASES.split(text) if _tokens(p) & names]


def _values(order: Order, wording: Wording) -> dict[str, str]:
    deadline = return_deadline(order, RETURN_WINDOW_DAYS)
    return {
        **order_values(order, wording),
        "deadline": wording.date(deadline) if deadline else "",
        "window_days": str(RETURN_WINDOW_DAYS),
    }


class ValidateReturnForm(OrderFormValidation):
    form_slots = RETURN_SLOTS

    def name(self) -> str:
        return "validate_return_form"

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
            pending = mentioned_items(order, latest_text(tracker))
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
        order = verified_order(self.deps, tracker)
        if order is None:
            return {"return_items": wanted}  # checked once the order is verified
        return self._check_items(order, wanted, dispatcher, Wording(domain))

    def _check_items(
        self, order: Order, wanted: list[str], dispatcher: CollectingDispatcher, wording: Wording
    ) -> dict[str, Any]:
        chosen = match_items(order, wanted)
        if any(w == ALL_ITEMS or _ALL_WORDS.search(w) for w in wanted):  # "all of them": what can go back
            chosen = [i for i in chosen if item_refusal(i) is None] or chosen
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


class ActionAskReturnConfirmed(_ReturnQuestion):
    def name(self) -> str:
        return "action_ask_return_confirmed"

    def ask(self, found: Order, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
        wording = Wording(domain)
        reason = str(wording.get("return_reasons").get(tracker.get_slot("return_reason"), ""))
        items = wording.join([i.name for i in chosen_items(found, tracker)])
        utter(dispatcher, "utter_ask_return_confirmed", **_values(found, wording), return_items=items, reason=reason)


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
        utter(
            dispatcher,
            response,
            **_values(order, wording),
            rma=created.rma,
            return_items=wording.join([i.name for i in items]),
            email=order.email,
        )
