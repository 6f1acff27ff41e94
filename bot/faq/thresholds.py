"""Answer/suggest thresholds: the shipped defaults and the fitting procedure that produced them.

`DEFAULT_THRESHOLDS` were fitted by `benchmarks/experiments/retrieval_confidence.py` (the same fit as
`benchmarks/retrieval.py --abstention`) on the abstention split (75% of entries indexed, queries of
group 1). They apply to the logistic confidence of `bot.faq.scoring` (a probability that the top entry
is right). Settings `kb_answer_threshold` and `kb_suggest_threshold` override them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Thresholds:
    answer: float
    suggest: float

    def __post_init__(self) -> None:
        if not 0 <= self.suggest <= self.answer <= 1.5:
            raise ValueError(
                f"thresholds must satisfy 0 <= suggest <= answer; got suggest={self.suggest}, answer={self.answer}"
            )

    def decide(self, confidence: float) -> str:
        if confidence >= self.answer:
            return "answer"
        if confidence >= self.suggest:
            return "suggest"
        return "unknown"


DEFAULT_THRESHOLDS = Thresholds(answer=0.62, suggest=0.30)


def resolve_thresholds(
    answer: float | None, suggest: float | None, fitted: Thresholds = DEFAULT_THRESHOLDS
) -> Thresholds:
    """Settings win over the fitted values; a suggest threshold above the answer one is clipped."""
    a = fitted.answer if answer is None else answer
    s = fitted.suggest if suggest is None else suggest
    return Thresholds(answer=a, suggest=min(s, a))


@dataclass(frozen=True)
class AbstentionReport:
    threshold: float
    right: float  # share of given answers that are right
    answered: float  # share of answerable queries answered
    abstained: float  # share of unanswerable queries not answered

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in vars(self).items()}


def abstention_report(
    confidence: np.ndarray, correct: np.ndarray, answerable: np.ndarray, t: float
) -> AbstentionReport:
    given = confidence >= t
    right = float((given & correct).sum() / max(int(given.sum()), 1))
    answered = float((given & answerable).sum() / max(int(answerable.sum()), 1))
    abstained = float((~given & ~answerable).sum() / max(int((~answerable).sum()), 1))
    return AbstentionReport(t, right, answered, abstained)


def fit_thresholds(
    confidence: np.ndarray,
    correct: np.ndarray,
    answerable: np.ndarray,
    *,
    min_right: float = 0.94,
    min_abstained: float = 0.75,
    suggest_abstain_share: float = 0.5,
) -> Thresholds:
    """Answer threshold: the one answering the most answerable queries while >= `min_right` of the
    answers are right and >= `min_abstained` of unanswerable queries get no answer (ties: the higher
    threshold). The targets are 93 % right and 75 % abstained; `min_right` keeps one point of margin
    because the fit sees ~600 queries. Without a threshold meeting both: maximise answered + abstained
    among those with >= `min_right` right, else overall.

    Suggest threshold: the confidence below which `suggest_abstain_share` of unanswerable queries fall,
    so "Did you mean…" is offered to at most half of the questions the base cannot answer.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    answerable = np.asarray(answerable, dtype=bool)
    candidates = np.unique(np.round(confidence, 3))
    best_t, best_value = float(candidates.max()), -1.0
    right_t, right_value = best_t, -1.0
    fallback_t, fallback_value = best_t, -1.0
    for t in candidates:
        r = abstention_report(confidence, correct, answerable, float(t))
        value = r.answered + r.abstained
        if value > fallback_value:
            fallback_t, fallback_value = float(t), value
        if r.right >= min_right and value > right_value:
            right_t, right_value = float(t), value
        if r.right >= min_right and r.abstained >= min_abstained and r.answered >= best_value:
            best_t, best_value = float(t), r.answered
    if best_value < 0:
        best_t, best_value = (right_t, right_value) if right_value >= 0 else (fallback_t, fallback_value)
    answer = best_t
    unanswerable = confidence[~answerable]
    suggest = float(np.quantile(unanswerable, suggest_abstain_share)) if len(unanswerable) else answer - 0.1
    return Thresholds(answer=round(answer, 3), suggest=round(min(suggest, answer), 3))
