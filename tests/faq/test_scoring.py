from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bot.faq.scoring import (
    Bm25Index,
    ScoredEntry,
    ScoringConfig,
    answer_lead,
    confidence_features,
    confidence_of,
)

DOCS = [["a", "b", "c"], ["a", "a", "d"], ["e", "f", "b", "b"], ["x"]]


def bm25_by_hand(query: list[str], doc: list[str], k1: float, b: float) -> float:
    n = len(DOCS)
    avg = sum(len(d) for d in DOCS) / n
    idf = {
        w: math.log(n - f + 0.5) - math.log(f + 0.5)
        for w in {w for d in DOCS for w in d}
        for f in [sum(w in d for d in DOCS)]
    }
    floor = 0.25 * sum(idf.values()) / len(idf)
    total = 0.0
    for w in query:
        if w not in idf:
            continue
        tf = doc.count(w)
        total += (idf[w] if idf[w] >= 0 else floor) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avg))
    return total


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (0.9, 0.4)])
@pytest.mark.parametrize("query", [["a", "b"], ["b", "b", "x"], ["unknown"]])
def test_bm25_matches_the_okapi_formula(k1: float, b: float, query: list[str]) -> None:
    index = Bm25Index(DOCS, k1, b)
    expected = [bm25_by_hand(query, DOCS[p], k1, b) for p in (2, 0, 3)]
    assert index.scores(query, [2, 0, 3]) == pytest.approx(expected)


def test_answer_lead_keeps_link_text_and_sentences() -> None:
    answer = "Use **Klarna** at [checkout](https://x.example). Pay in 3. Interest free. More text."
    assert answer_lead(answer, 500, 3) == "Use Klarna at checkout. Pay in 3. Interest free."
    assert answer_lead(answer, 10, 3) == "Use Klarna"


def test_logistic_confidence_is_a_probability_growing_with_score_and_margin() -> None:
    config = ScoringConfig()
    low = [ScoredEntry(0, 0.5, 0.5, 0.5, 1.0), ScoredEntry(1, 0.49, 0.49, 0.49, 0.5)]
    high = [ScoredEntry(0, 0.9, 0.9, 0.9, 1.0), ScoredEntry(1, 0.5, 0.5, 0.5, 0.5)]
    assert 0 < confidence_of(low, config) < 0.5 < confidence_of(high, config) < 1
    assert confidence_features(high) == pytest.approx((0.9, 0.4, 0.9, 0.9, 1.0))
    assert confidence_of([], config) == 0.0
    margin = replace(config, confidence="margin", margin_weight=0.5)
    assert confidence_of(high, margin) == pytest.approx(0.9 + 0.5 * 0.4)


def test_config_errors_quote_the_value() -> None:
    with pytest.raises(ValueError, match=r"Currently, it is \(1.0,\)"):
        ScoringConfig(confidence_weights=(1.0,))
    with pytest.raises(ValueError, match="Currently, candidates is 0"):
        ScoringConfig(candidates=0)
    assert np.isfinite(ScoringConfig().confidence_weights).all()
