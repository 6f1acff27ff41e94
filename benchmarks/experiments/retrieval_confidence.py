"""Fit the logistic confidence (`bot.faq.scoring.CONFIDENCE_WEIGHTS`) and the thresholds on StackFAQ.

The abstention split of `benchmarks/retrieval.py` (75% of entries indexed, SEED 13): for every query the
ranked entries of the shipped scorer give the features of `confidence_features` (top score, margin,
phrasing, context, lexical); the label is "the top entry is the right one". Everything is fitted on
query group 1 only: the L2 strength C by 5-fold out-of-fold predictions within group 1 (3 fold seeds),
scored by the task (answered share with >= 93 % right and >= 75 % abstained; log-loss is printed too),
then the weights on all of group 1, then the thresholds with `fit_thresholds`. Group 2 and all are printed.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/retrieval_confidence.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from retrieval import DATA, SEED, build_service, read_jsonl, real_encoder  # noqa: E402

from bot.faq.scoring import ScoringConfig, confidence_features  # noqa: E402
from bot.faq.thresholds import abstention_report, fit_thresholds  # noqa: E402


def main() -> None:
    faq = read_jsonl(DATA / "stackfaq" / "faq.jsonl")
    queries = read_jsonl(DATA / "stackfaq" / "queries.jsonl")
    enc = real_encoder()
    order = np.random.default_rng(SEED).permutation(len(faq))
    kept = {str(faq[i]["id"]) for i in order[: int(round(0.75 * len(faq)))]}
    vectors = enc.encode([str(q["query"]) for q in queries])
    features, top_ids = [], []
    with tempfile.TemporaryDirectory() as tmp:
        service = build_service([f for f in faq if str(f["id"]) in kept], enc, Path(tmp), ScoringConfig())
        responder = service.snapshot.responder
        for q, v in zip(queries, vectors, strict=True):
            ranked = responder.scorer.score(v, str(q["query"]), 10)
            features.append(confidence_features(ranked))
            top_ids.append(responder.entries[ranked[0].position].id)
    x = np.asarray(features)
    answerable = np.array([str(q["faq_id"]) in kept for q in queries])
    correct = np.array([t == q["faq_id"] for t, q in zip(top_ids, queries, strict=True)]) & answerable
    g1 = np.array([q["group"] == 1 for q in queries])
    g2 = ~g1

    losses, answered = {}, {}
    y = correct[g1]
    for c in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0):
        values = []
        for seed in (SEED, SEED + 1, SEED + 2):
            folds = StratifiedKFold(5, shuffle=True, random_state=seed)
            p = cross_val_predict(LogisticRegression(C=c, max_iter=5000), x[g1], y, cv=folds, method="predict_proba")[
                :, 1
            ]
            reports = [abstention_report(p, y, answerable[g1], float(t)) for t in np.unique(np.round(p, 3))]
            values.append(max((r.answered for r in reports if r.right >= 0.93 and r.abstained >= 0.75), default=0.0))
            if seed == SEED:
                p = np.clip(p, 1e-6, 1 - 1e-6)
                losses[c] = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
        answered[c] = float(np.mean(values))
    best_c = max(answered, key=lambda c: answered[c])
    model = LogisticRegression(C=best_c, max_iter=5000).fit(x[g1], correct[g1])
    weights = (float(model.intercept_[0]), *(float(w) for w in model.coef_[0]))
    config = replace(ScoringConfig(), confidence_weights=tuple(round(w, 4) for w in weights))
    z = config.confidence_weights[0] + x @ np.asarray(config.confidence_weights[1:])
    confidence = 1 / (1 + np.exp(-z))
    fitted = fit_thresholds(confidence[g1], correct[g1], answerable[g1])
    margin = x[:, 0] + 0.5 * x[:, 1]
    margin_t = fit_thresholds(margin[g1], correct[g1], answerable[g1])
    out = {
        "cv_log_loss_group_1": {str(c): round(v, 4) for c, v in losses.items()},
        "cv_answered_group_1": {str(c): round(v, 4) for c, v in answered.items()},
        "C": best_c,
        "confidence_weights": config.confidence_weights,
        "fitted_on_group_1": {"answer": fitted.answer, "suggest": fitted.suggest},
        "logistic_all": abstention_report(confidence, correct, answerable, fitted.answer).as_dict(),
        "logistic_group_2": abstention_report(confidence[g2], correct[g2], answerable[g2], fitted.answer).as_dict(),
        "margin_fitted_on_group_1": margin_t.answer,
        "margin_all": abstention_report(margin, correct, answerable, margin_t.answer).as_dict(),
        "margin_group_2": abstention_report(margin[g2], correct[g2], answerable[g2], margin_t.answer).as_dict(),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
