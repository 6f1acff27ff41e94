"""Evaluation metrics: the Rasa intent report, errors, out-of-scope figures, the accuracy-coverage
curve of the abstention threshold, and retrieval metrics (Recall@k, MRR). Pure functions, no I/O.

Out-of-scope metrics follow Larson et al. (2019, CLINC150): an abstention or an out-of-scope
prediction is a *rejection*; in-scope accuracy counts a rejected in-scope query as an error; oos
recall is the share of out-of-scope queries rejected; oos precision the share of rejections that
were out of scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.evaluation.datasets import OOS_LABELS

FALLBACK = "nlu_fallback"
RECALL_AT = (1, 3, 5, 10)


@dataclass(frozen=True)
class Prediction:
    """One evaluated example. `predicted` already maps a rejection to the data's oos label
    (or to `nlu_fallback` when the data has none), as Rasa's FallbackClassifier would report."""

    text: str
    target: str
    predicted: str
    confidence: float  # probability of the top intent
    abstained: bool
    top_intent: str  # the best intent even when abstaining

    @property
    def correct(self) -> bool:
        return self.predicted == self.target

    @property
    def rejected(self) -> bool:
        return self.abstained or self.top_intent in OOS_LABELS

    @property
    def answer_confidence(self) -> float:
        """How sure the bot is when it answers; 0 when its best guess is itself out of scope."""
        return 0.0 if self.top_intent in OOS_LABELS else self.confidence


def make_prediction(
    text: str, target: str, ranking: Sequence[tuple[str, float]], abstained: bool, oos_label: str | None
) -> Prediction:
    top, confidence = ranking[0] if ranking else (FALLBACK, 0.0)
    predicted = top
    if abstained or top in OOS_LABELS:
        predicted = oos_label or (top if top in OOS_LABELS else FALLBACK)
    return Prediction(text, target, predicted, float(confidence), abstained, top)


# -- Rasa intent report ----------------------------------------------------------------------------
def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def confused_with(predictions: Sequence[Prediction], label: str, top: int = 3) -> dict[str, int]:
    wrong = Counter(p.predicted for p in predictions if p.target == label and p.predicted != label)
    return dict(wrong.most_common(top))


def intent_report(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """sklearn's `classification_report(output_dict=True, labels=<target labels>)` plus Rasa's
    `confused_with` per intent and both `accuracy` and `micro avg` (support as int, as Rasa 3.x)."""
    labels = sorted({p.target for p in predictions})
    counts = {label: {"tp": 0, "fp": 0, "fn": 0, "support": 0} for label in labels}
    for p in predictions:
        counts[p.target]["support"] += 1
        if p.correct:
            counts[p.target]["tp"] += 1
        else:
            counts[p.target]["fn"] += 1
            if p.predicted in counts:
                counts[p.predicted]["fp"] += 1
    report: dict[str, Any] = {}
    rows = []
    for label in labels:
        c = counts[label]
        precision, recall, f1 = _prf(c["tp"], c["fp"], c["fn"])
        rows.append((precision, recall, f1, c["support"]))
        report[label] = {
            "precision": precision,
            "recall": recall,
            "f1-score": f1,
            "support": c["support"],
            "confused_with": confused_with(predictions, label),
        }
    total = sum(r[3] for r in rows)
    tp = sum(c["tp"] for c in counts.values())
    fp = sum(c["fp"] for c in counts.values())
    fn = sum(c["fn"] for c in counts.values())
    micro = _prf(tp, fp, fn)
    report["accuracy"] = tp / total if total else 0.0
    report["micro avg"] = {"precision": micro[0], "recall": micro[1], "f1-score": micro[2], "support": total}
    n = len(rows) or 1
    report["macro avg"] = {
        "precision": sum(r[0] for r in rows) / n,
        "recall": sum(r[1] for r in rows) / n,
        "f1-score": sum(r[2] for r in rows) / n,
        "support": total,
    }
    weight = total or 1
    report["weighted avg"] = {
        "precision": sum(r[0] * r[3] for r in rows) / weight,
        "recall": sum(r[1] * r[3] for r in rows) / weight,
        "f1-score": sum(r[2] * r[3] for r in rows) / weight,
        "support": total,
    }
    return report


def intent_errors(predictions: Sequence[Prediction]) -> list[dict[str, Any]]:
    """Rasa's intent_errors.json: the wrong predictions, the most confident mistakes first."""
    wrong = sorted((p for p in predictions if not p.correct), key=lambda p: -p.confidence)
    return [_example(p) for p in wrong]


def intent_successes(predictions: Sequence[Prediction]) -> list[dict[str, Any]]:
    return [_example(p) for p in predictions if p.correct]


def _example(p: Prediction) -> dict[str, Any]:
    return {
        "text": p.text,
        "intent": p.target,
        "intent_prediction": {"name": p.predicted, "confidence": round(p.confidence, 6)},
    }


# -- out of scope ----------------------------------------------------------------------------------
def top1_accuracy(predictions: Sequence[Prediction], oos_label: str | None) -> float:
    """Share of in-scope examples whose best intent is right, abstention ignored: the closed-set
    accuracy published results report (BANKING77, CLINC150's "in-scope accuracy, no oos")."""
    in_scope = [p for p in predictions if p.target != oos_label]
    return sum(1 for p in in_scope if p.top_intent == p.target) / len(in_scope) if in_scope else 0.0


def oos_report(predictions: Sequence[Prediction], oos_label: str, *, points: int = 21) -> dict[str, Any]:
    in_scope = [p for p in predictions if p.target != oos_label]
    out = [p for p in predictions if p.target == oos_label]
    rejected = [p for p in predictions if p.rejected]
    in_scope_correct = sum(1 for p in in_scope if p.correct and not p.rejected)
    correct = in_scope_correct + sum(1 for p in out if p.rejected)
    coverage_now = 1 - len(rejected) / len(predictions) if predictions else 0.0
    answered = [p for p in predictions if not p.rejected]
    return {
        "oos_label": oos_label,
        "in_scope_accuracy": in_scope_correct / len(in_scope) if in_scope else 0.0,
        "oos_recall": sum(1 for p in out if p.rejected) / len(out) if out else 0.0,
        "oos_precision": sum(1 for p in rejected if p.target == oos_label) / len(rejected) if rejected else 0.0,
        "accuracy": correct / len(predictions) if predictions else 0.0,
        "support": {"in_scope": len(in_scope), "out_of_scope": len(out)},
        "operating_point": {
            "coverage": coverage_now,
            "accuracy": sum(1 for p in answered if p.correct) / len(answered) if answered else 0.0,
        },
        "coverage_curve": coverage_curve(predictions, oos_label, points=points),
    }


def coverage_curve(
    predictions: Sequence[Prediction], oos_label: str | None, *, points: int = 21
) -> list[dict[str, float]]:
    """Accuracy on the answered examples against coverage (the share answered) as the abstention
    threshold on the top intent's confidence moves from 0 to 1. An answered oos example is wrong."""
    curve = []
    for step in range(points):
        threshold = step / (points - 1)
        answered = [p for p in predictions if p.answer_confidence >= threshold and p.answer_confidence > 0]
        good = sum(1 for p in answered if p.top_intent == p.target and p.target != oos_label)
        curve.append(
            {
                "threshold": round(threshold, 4),
                "coverage": len(answered) / len(predictions) if predictions else 0.0,
                "accuracy": good / len(answered) if answered else 1.0,
            }
        )
    return curve


# -- retrieval -------------------------------------------------------------------------------------
def retrieval_metrics(ranks: Sequence[int | None], ks: Sequence[int] = RECALL_AT) -> dict[str, Any]:
    """`ranks[i]` = 1-based rank of the expected entry for query i (None: not retrieved)."""
    n = len(ranks)
    report: dict[str, Any] = {
        f"recall@{k}": (sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0) for k in ks
    }
    report["mrr"] = sum(1.0 / r for r in ranks if r) / n if n else 0.0
    report["support"] = n
    return report
