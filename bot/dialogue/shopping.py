"""Shopping in the dialogue: a product message goes to the `ProductAdvisor`, its answers are said with the
responses file's words, its products shown as cards, and what was shown is remembered for refinements.

The conversation's shopping context (the last search, the products shown, the product in focus) lives in
`ConversationState.shopping`, so "cheaper ones" or "the second one" work on the next message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.errors import TemplateError
from bot.products.advisor import ProductAdvisor, ProductRequest, ShoppingContext
from bot.products.cards import CardLinks, product_card
from bot.products.catalogue import Product
from bot.products.ranking import ShopperPreferences
from bot.types import Button

if TYPE_CHECKING:
    from bot.dialogue.engine import DialogueEngine

log = logging.getLogger(__name__)

CARD_BUTTONS = "utter_product_card"
"""The response whose buttons every card carries (`{sku}`, `{name}` filled); `_shop` when a shop is known."""
SUMMARY = "utter_product_summary"
"""Renders what a search looked for ("wool · coat · under €200"), given to the other responses as `summary`."""
PreferencesLookup = Callable[[ConversationState], ShopperPreferences | None]


class Shopping:
    def __init__(
        self,
        engine: DialogueEngine,
        advisor: ProductAdvisor | None = None,
        links: CardLinks | None = None,
        preferences: PreferencesLookup | None = None,
    ) -> None:
        self.engine = engine
        self.advisor = advisor
        self.links = links or CardLinks()
        self.preferences = preferences

    def answer(self, state: ConversationState, turn: Turn) -> bool:
        """Answer a shopping message; False when the bot has no catalogue."""
        if self.advisor is None:
            return False
        entities: dict[str, list[Any]] = {}
        for e in turn.parse.entities:
            entities.setdefault(e.entity, []).append(e.value)
        request = ProductRequest(
            intent=turn.parse.intent.name,
            text=turn.parse.text,
            entities=entities,
            embedding=turn.embedding,
            context=ShoppingContext.from_json(state.shopping),
            preferences=self.preferences(state) if self.preferences else None,
        )
        outcome = self.advisor.answer(request)
        state.shopping = outcome.context.to_json()
        speech = self.engine.speech
        shop = outcome.context.query.shop if outcome.context.query else None
        for answer in outcome.answers:
            values = self._with_summary(state, answer.values)
            try:
                reply = speech.renderer.render(
                    answer.response, state.slots, values, channel=turn.input_channel, kind="products"
                )
            except TemplateError:
                log.exception("response %s failed to render", answer.response)
                reply = None
            if reply is None:
                log.warning("response %s is not defined", answer.response)
                continue
            state.run_action(answer.response)
            cards = tuple(product_card(p, self._buttons(p, shop, state, turn), self.links) for p in answer.products)
            speech.emit(state, turn, replace(reply, cards=cards), values)
        return True

    def _with_summary(self, state: ConversationState, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values, with `summary`: what was looked for, in the words of `utter_product_summary`."""
        out = dict(values)
        if "kinds" in out and self.engine.renderer.has(SUMMARY):
            try:
                summary = self.engine.renderer.render(SUMMARY, state.slots, out)
            except TemplateError:
                log.exception("response %s failed to render", SUMMARY)
                summary = None
            out["summary"] = " ".join(summary.text.split()) if summary is not None else ""
        return out

    def _buttons(self, product: Product, shop: str | None, state: ConversationState, turn: Turn) -> tuple[Button, ...]:
        values = {"sku": product.sku, "name": product.name, "shop": shop or "", "shop_name": (shop or "").title()}
        name = f"{CARD_BUTTONS}_shop" if shop and self.engine.renderer.has(f"{CARD_BUTTONS}_shop") else CARD_BUTTONS
        reply = self.engine.renderer.render(name, state.slots, values, channel=turn.input_channel)
        return reply.buttons if reply is not None else ()
