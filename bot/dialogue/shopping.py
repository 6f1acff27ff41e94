"""Shopping in the dialogue: a product message goes to the `ProductAdvisor`, its answers are said with the
responses file's words, its products shown as cards, and what was shown is remembered for refinements.

The conversation's shopping context (the last search, the products shown, the product in focus) lives in
`ConversationState.shopping`, so "cheaper ones" or "the second one" work on the next message.
"""

from __future__ import annotations

import logging
import re
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
CONSTRAINT_ENTITIES = REFINE_ENTITIES - {"category", "sku"}
"""Entities that narrow a search without naming what is searched for ("in blue", "under 200", "in M")."""
PRODUCT_HINT = 0.15
"""How high a shopping intent must rank for a message the classifier took for a knowledge question to be
answered by product search instead (when the knowledge base has no confident answer)."""
FILLER_WORDS = frozenset(
    {"a", "an", "any", "some", "in", "size", "sz", "at", "the", "for", "and", "pls", "please", "with", "without", "no"}
    | {"fit", "waist", "leg", "length", "shop", "store"}  # "slim fit jeans", "jeans 32 waist", "London shop"
)
"""Words a message of product facts may hold besides them and the catalogue's tag words ("a wool coat in M pls",
"sustainable jeans", "mens shirt for the office")."""
PRODUCT_NAMING = frozenset({"category", "material", "sku", "item", "colour"})
"""Entities that name or describe a product: a comparison without any, and with nothing shown before, may be
a policy question in shopping words ("I'm between an M and an L, which should I pick?")."""
SUMMARY = "utter_product_summary"
"""Renders what a search looked for ("wool · coat · under €200"), given to the other responses as `summary`."""
PreferencesLookup = Callable[[ConversationState], ShopperPreferences | None]


ABSTAINED_SHOPPING_MIN = 0.5
"""An abstained-on message goes to product search only when its first-ranked shopping intent has at least this
confidence ("gift for my dad": 0.84; gibberish such as "blorp": 0.20)."""


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
        when it only adds product facts right after a product answer ("in blue?", "and in M"), or only
        constraints other than a shop while the conversation has a search ("in burgundy?" after a
        question about opening hours); `product_search` when it names a kind or a material ("red scarf",
        "soft alpaca"; the caller lets a confident knowledge answer win: "how do I wash cashmere") or
        when the classifier abstained on a message it ranks as shopping first ("gift for my dad");
        else None."""
        if self.advisor is None:
            return None
        named = {e.entity for e in turn.parse.entities}
        after_products = str(state.latest_action_name or "").startswith("utter_product_")
        if after_products and named and named <= REFINE_ENTITIES:
            return intent_names.PRODUCT_REFINE
        searched = bool((state.shopping or {}).get("query"))
        if searched and named and named <= CONSTRAINT_ENTITIES and named - {"shop"}:
            return intent_names.PRODUCT_REFINE  # "ok what about beige" after a question in between
        if named & SIGNAL_ENTITIES and (self._shopping_ranked(turn) or self.only_product_facts(turn)):
            return intent_names.PRODUCT_SEARCH
        if self._abstained_on_shopping(turn):
            return intent_names.PRODUCT_SEARCH
        return None

    def only_product_facts(self, turn: Turn) -> bool:
        """The message names a kind and is nothing but product facts and the catalogue's tag words ("wool
        coat", "red linen dress XS london", "sustainable jeans", "slim fit jeans in grey"): a search, whatever
        a knowledge article about wool, jeans or the London shop would say."""
        parse = turn.parse
        if not any(e.entity == "category" for e in parse.entities):
            return False
        rest = list(parse.text.lower())
        for e in parse.entities:
            rest[e.start : e.end] = " " * (e.end - e.start)
        tags = self.advisor.tag_words if self.advisor is not None else frozenset()
        return all(
            word in FILLER_WORDS or word in tags or word.removesuffix("s") in tags
            for word in re.findall(r"[^\W\d_]+", "".join(rest))
        )

    @staticmethod
    def names_nothing(state: ConversationState, turn: Turn) -> bool:
        """A comparison that names no product, colour or material, with no product shown before to refer to
        ("I'm between an M and an L, which should I pick?"): the caller lets a confident knowledge answer win."""
        if turn.parse.intent.name != intent_names.PRODUCT_COMPARE:
            return False
        if {e.entity for e in turn.parse.entities} & PRODUCT_NAMING:
            return False
        context = state.shopping or {}
        return not (context.get("shown") or context.get("focus"))

    @staticmethod
    def _shopping_ranked(turn: Turn) -> bool:
        """A knowledge question naming a product ("how do I stop my jumper from pilling") stays one unless
        the classifier gives the shopping intents together `PRODUCT_HINT` or more."""
        if turn.parse.intent.name != intent_names.FAQ:
            return True
        shopping = sum(s.confidence for s in turn.parse.intent_ranking if s.name in intent_names.PRODUCTS)
        return shopping >= PRODUCT_HINT

    @staticmethod
    def _abstained_on_shopping(turn: Turn) -> bool:
        """The classifier abstained on a message whose most likely intent is a shopping one ("gift for my
        dad": in scope, but unlike its examples); the caller still lets a confident knowledge answer win."""
        if turn.parse.intent.name != intent_names.FALLBACK:
            return False
        ranked = [s for s in turn.parse.intent_ranking if s.name != intent_names.FALLBACK]
        # gibberish ("blorp") also ranks something first, with little confidence: not a shopper
        return (
            bool(ranked) and ranked[0].name in intent_names.PRODUCTS and ranked[0].confidence >= ABSTAINED_SHOPPING_MIN
        )

    def answer(self, state: ConversationState, turn: Turn, intent: str | None = None) -> bool:
        """Answer a shopping message (as `intent`, default the classifier's); False without a catalogue."""
        if self.advisor is None:
            return False
        intent = self._refining(state, turn, intent or turn.parse.intent.name)
        if intent == intent_names.PRODUCT_PAIRING and self.only_product_facts(turn):
            intent = intent_names.PRODUCT_SEARCH  # "wide leg trousers black" says nothing of going with anything
        entities: dict[str, list[Any]] = {}
        for e in turn.parse.entities:
            entities.setdefault(e.entity, []).append(e.value)
        request = ProductRequest(
            intent=intent,
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

    @staticmethod
    def _refining(state: ConversationState, turn: Turn, intent: str) -> str:
        """`product_refine` for a search that names no kind and no product but only constraints, while
        the conversation has a search to refine ("under 200 pls" after the coats, "in burgundy?" after a
        question about opening hours); else `intent`."""
        if intent != intent_names.PRODUCT_SEARCH or not (state.shopping or {}).get("query"):
            return intent
        named = {e.entity for e in turn.parse.entities}
        if named and named <= CONSTRAINT_ENTITIES:
            return intent_names.PRODUCT_REFINE
        return intent

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
