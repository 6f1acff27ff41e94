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

from bot import intent_names
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
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
SIGNAL_ENTITIES = frozenset({"category", "material"})
"""Entities that make a message a product search whatever the classifier said (unless the knowledge base
answers it confidently)."""
REFINE_ENTITIES = frozenset(
    {"category", "colour", "size", "material", "price_min", "price_max", "shop", "ordinal", "refinement", "sku"}
)
"""Entities a refinement of the last product answer may carry."""
PRODUCT_HINT = 0.15
"""How high a shopping intent must rank for a message the classifier took for a knowledge question to be
answered by product search instead (when the knowledge base has no confident answer)."""
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

    @property
    def available(self) -> bool:
        return self.advisor is not None

    def route(self, state: ConversationState, turn: Turn) -> str | None:
        """The shopping intent for a message the classifier did not take for shopping: `product_refine`
        when it only adds product facts right after a product answer ("in blue?", "and in M"),
        `product_search` when it names a kind or a material ("red scarf", "soft alpaca"; the caller lets
        a confident knowledge answer win: "how do I wash cashmere"), else None."""
        if self.advisor is None:
            return None
        named = {e.entity for e in turn.parse.entities}
        after_products = str(state.latest_action_name or "").startswith("utter_product_")
        if after_products and named and named <= REFINE_ENTITIES:
            return intent_names.PRODUCT_REFINE
        if named & SIGNAL_ENTITIES and self._shopping_ranked(turn):
            return intent_names.PRODUCT_SEARCH
        return None

    @staticmethod
    def _shopping_ranked(turn: Turn) -> bool:
        """A knowledge question naming a product ("how do I stop my jumper from pilling") stays one unless
        the classifier also ranks a shopping intent at `PRODUCT_HINT` or more."""
        if turn.parse.intent.name != intent_names.FAQ:
            return True
        return any(s.name in intent_names.PRODUCTS and s.confidence >= PRODUCT_HINT for s in turn.parse.intent_ranking)

    def answer(self, state: ConversationState, turn: Turn, intent: str | None = None) -> bool:
        """Answer a shopping message (as `intent`, default the classifier's); False without a catalogue."""
        if self.advisor is None:
            return False
        entities: dict[str, list[Any]] = {}
        for e in turn.parse.entities:
            entities.setdefault(e.entity, []).append(e.value)
        request = ProductRequest(
            intent=intent or turn.parse.intent.name,
            text=turn.parse.text,
            entities=entities,
            embedding=turn.embedding,
            context=ShoppingContext.from_json(state.shopping),
            preferences=self.preferences(state) if self.preferences else None,
            spans=tuple((e.entity, e.value, e.start) for e in turn.parse.entities),
        )
        outcome = self.advisor.answer(request)
        state.shopping = outcome.context.to_json()
        speech = self.engine.speech
        shop = outcome.context.query.shop if outcome.context.query else None
        for answer in outcome.answers:
            values = self._with_summary(state, turn, answer.values)
            reply = speech.render(answer.response, state, turn, values, "products")
            if reply is None:
                log.warning("response %s is not defined or failed to render", answer.response)
                continue
            state.run_action(answer.response)
            cards = tuple(product_card(p, self._buttons(p, shop, state, turn), self.links) for p in answer.products)
            speech.emit(state, turn, replace(reply, cards=cards), values)
        return True

    def _with_summary(self, state: ConversationState, turn: Turn, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values, with `summary`: what was looked for, in the words of `utter_product_summary`."""
        out = dict(values)
        if "kinds" in out and self.engine.renderer.has(SUMMARY):
            summary = self.engine.speech.render(SUMMARY, state, turn, out, "products")
            out["summary"] = " ".join(summary.text.split()) if summary is not None else ""
        return out

    def _buttons(self, product: Product, shop: str | None, state: ConversationState, turn: Turn) -> tuple[Button, ...]:
        values = {"sku": product.sku, "name": product.name, "shop": shop or "", "shop_name": (shop or "").title()}
        name = f"{CARD_BUTTONS}_shop" if shop and self.engine.renderer.has(f"{CARD_BUTTONS}_shop") else CARD_BUTTONS
        reply = self.engine.renderer.render(name, state.slots, values, channel=turn.input_channel)
        return reply.buttons if reply is not None else ()
