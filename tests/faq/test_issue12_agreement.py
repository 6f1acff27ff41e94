"""Issue 12: a shop named in a question filters the knowledge base's entries, it does not lift one.

"can I pick up my online order at the Berlin shop?" was answered with the Berlin shop's page (its
`Shop: Berlin` line earned the agreement bonus) instead of click & collect; "can I get the VAT back
in your Paris shop?" with the Paris page instead of tax-free shopping. A named country or product still
lifts its own entry ("delivery to Austria" gets the rest-of-the-EU entry over the general table).
Scores are exact: hand-made unit vectors, plain cosine, confidence = top score (as test_agreement.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.faq.agreement import agreement
from bot.faq.entry import KnowledgeEntry
from bot.faq.index import NumpyIndex
from bot.faq.responder import KnowledgeResponder, KnowledgeResult
from bot.faq.scoring import EntryScorer, ScoringConfig
from bot.faq.templates import ReplyTemplates
from bot.faq.thresholds import Thresholds
from bot.types import KnowledgeQuery

DIM = 6


def entry(entry_id: str, **about: tuple[str, ...]) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=entry_id,
        question=f"question {entry_id}",
        answer=f"answer {entry_id}",
        file="knowledge/stores.md",
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


def ask(bot: KnowledgeResponder, **named: list[str]) -> KnowledgeResult:
    query = KnowledgeQuery(
        "can I pick up my order at the shop", at_cosine(1.0, 1), entities={k: frozenset(v) for k, v in named.items()}
    )
    return bot.answer(query)


def top(result: KnowledgeResult) -> str:
    assert result.hits
    return result.hits[0].entry.id


SHOPS = [
    (entry("berlin-shop", shop=("berlin",)), at_cosine(0.70, 1)),
    (entry("paris-shop", shop=("paris",)), at_cosine(0.72, 2)),
    (entry("click-and-collect"), at_cosine(0.72, 3)),
]


def test_a_named_shop_does_not_lift_its_page_over_the_topic() -> None:
    result = ask(responder(SHOPS), shop=["berlin"])
    assert top(result) == "click-and-collect"
    assert "paris-shop" not in [h.entry.id for h in result.hits]  # another shop's page stays out
    assert abs(result.hits[0].score - 0.72) < 1e-5


def test_a_shop_match_counts_as_agreement_without_a_bonus() -> None:
    berlin = entry("berlin-shop", shop=("berlin",))
    assert agreement(berlin, {"shop": frozenset({"berlin"})}) == 0
    assert agreement(berlin, {"shop": frozenset({"paris"})}) is None


def test_a_named_country_still_lifts_its_entry() -> None:
    items = [
        (entry("delivery-prices"), at_cosine(0.85, 1)),
        (entry("delivery-eu", country=("austria",)), at_cosine(0.82, 2)),
    ]
    assert top(ask(responder(items), country=["austria"])) == "delivery-eu"
