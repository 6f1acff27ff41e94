"""Issue 12: a follow-up that moves the previous answer to another country (or shop), and "the shop"
while the conversation is about one.

"what about the US then?" right after the answer about countries we don't deliver to (an entry specific
to Canada, Australia …) asks the same thing for the US: the entry specific to the US answers, not the
general list of countries that the follow-up query (message + previous question) is closest to. "what
about Japan?" after the same answer moves it to a country it also covers: that entry may answer again.
Scores are exact: hand-made unit vectors, plain cosine, confidence = top score (as test_agreement.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.dialogue.knowledge_context import KnowledgeContext, current_shop
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.faq.agreement import switched_kinds
from bot.faq.entry import KnowledgeEntry
from bot.faq.index import NumpyIndex
from bot.faq.responder import KnowledgeResponder, KnowledgeResult
from bot.faq.scoring import EntryScorer, ScoringConfig
from bot.faq.templates import ReplyTemplates
from bot.faq.thresholds import Thresholds
from bot.types import Entity, IntentScore, KnowledgeQuery, Parse, Reply

DIM = 6


def entry(entry_id: str, **about: tuple[str, ...]) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=entry_id,
        question=f"question {entry_id}",
        answer=f"answer {entry_id}",
        file="knowledge/shipping.md",
        line=1,
        about=tuple(sorted(about.items())),
    )


def at_cosine(cosine: float, rest: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[0], vector[rest] = cosine, math.sqrt(1 - cosine * cosine)
    return vector


def responder(items: Sequence[tuple[KnowledgeEntry, np.ndarray]]) -> KnowledgeResponder:
    entries = [e for e, _ in items]
    config = ScoringConfig(context_weight=0.0, bm25_weight=0.0, confidence="margin", margin_weight=0.0)
    index = NumpyIndex(DIM)
    scorer = EntryScorer([v.reshape(1, -1) for _, v in items], [1] * len(items), index, config)
    index.add(scorer.vector_ids(), scorer.matrix())
    return KnowledgeResponder(
        entries, {e.id: e.answer for e in entries}, scorer, Thresholds(answer=0.5, suggest=0.2), ReplyTemplates()
    )


def top(result: KnowledgeResult) -> str:
    assert result.hits
    return result.hits[0].entry.id


NOT_DELIVERED = entry("no-delivery", country=("canada", "japan"))
ITEMS = [
    (NOT_DELIVERED, at_cosine(0.95, 1)),
    (entry("delivery-countries"), at_cosine(0.90, 2)),
    (entry("delivery-us", country=("united states",)), at_cosine(0.60, 3)),
    (entry("delivery-uk", country=("united kingdom",)), at_cosine(0.58, 4)),
]


def follow_up(country: str) -> KnowledgeQuery:
    return KnowledgeQuery(
        "what about it then?",
        at_cosine(1.0, 5),
        entities={"country": frozenset({country})},
        follow_up="no-delivery",
        previous="no-delivery",
        continues=True,
    )


def test_switched_kinds_are_the_named_kinds_the_previous_entry_is_about() -> None:
    named = {"country": frozenset({"united states"}), "shop": frozenset({"paris"})}
    assert switched_kinds(NOT_DELIVERED, named) == frozenset({"country"})
    assert switched_kinds(entry("delivery-countries"), named) == frozenset()


def test_a_follow_up_to_another_country_keeps_the_entries_about_that_country() -> None:
    result = responder(ITEMS).answer(follow_up("united states"))
    assert top(result) == "delivery-us"
    assert [h.entry.id for h in result.hits] == ["delivery-us"]  # the general list and other countries are out


def test_a_follow_up_to_a_country_the_previous_entry_covers_may_get_it_again() -> None:
    result = responder(ITEMS).answer(follow_up("japan"))
    assert top(result) == "no-delivery"


def test_a_continuation_that_names_no_country_still_gets_another_entry() -> None:
    query = KnowledgeQuery("and why?", at_cosine(1.0, 5), follow_up="no-delivery", continues=True)
    result = responder(ITEMS).answer(query)
    assert "no-delivery" not in [h.entry.id for h in result.hits]
    assert top(result) == "delivery-countries"


def turn(text: str, *entities: Entity) -> Turn:
    return Turn(Parse(text, IntentScore("faq", 0.9), entities), np.ones(4, dtype=np.float32))


def state_with_shop(shop: str | None) -> ConversationState:
    state = ConversationState("c1")
    if shop is not None:
        state.set_slot("shop", shop)
    return state


def test_the_shop_of_the_conversation_is_the_shop_a_question_speaks_of() -> None:
    assert current_shop(state_with_shop("berlin"), turn("remind me where the shop is?")) == {
        "shop": frozenset({"berlin"})
    }
    assert current_shop(state_with_shop(None), turn("remind me where the shop is?")) == {}
    assert current_shop(state_with_shop("customer_service"), turn("where is the shop?")) == {}
    assert current_shop(state_with_shop("berlin"), turn("how do I wash wool?")) == {}
    paris = Entity("shop", "paris", 19, 24, "test")
    assert current_shop(state_with_shop("berlin"), turn("where is the shop in Paris?", paris)) == {}


@dataclass(frozen=True)
class Outcome:
    decision: str
    replies: tuple[Reply, ...] = ()


class Unsure:
    """Sure only of a question with the Berlin shop written into it; records every query."""

    def __init__(self) -> None:
        self.queries: list[KnowledgeQuery] = []

    def __call__(self, query: KnowledgeQuery) -> Outcome:
        self.queries.append(query)
        return Outcome("answer" if "(berlin shop)" in query.text.lower() else "suggest")


def test_an_unsure_question_about_the_shop_is_asked_with_the_conversations_shop() -> None:
    answerer = Unsure()
    outcome = KnowledgeContext(answerer).in_context(state_with_shop("berlin"), turn("where is the shop?"), record=True)
    assert isinstance(outcome, Outcome) and outcome.decision == "answer"
    assert answerer.queries[-1].text == "where is the shop? (Berlin shop)"
    assert answerer.queries[-1].entities["shop"] == frozenset({"berlin"})
