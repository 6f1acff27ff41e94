"""The report files `supportbot evaluate` writes, in the shapes `rasa test nlu` writes them.

intent_report.json          per intent precision, recall, f1-score, support, confused_with;
                            accuracy, micro avg, macro avg, weighted avg
intent_errors.json          [{"text", "intent", "intent_prediction": {"name", "confidence"}}]
intent_successes.json       same shape (only with --successes)
oos_report.json             when the test data has `oos`/`out_of_scope` examples
retrieval_report.json       Recall@k and MRR of the knowledge tests
crossval_report.json        per-fold train/test Accuracy, F1-score, Precision (cross-validation)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.evaluation.metrics import Prediction, intent_errors, intent_report, intent_successes

INTENT_REPORT = "intent_report.json"
INTENT_ERRORS = "intent_errors.json"
INTENT_SUCCESSES = "intent_successes.json"
OOS_REPORT = "oos_report.json"
RETRIEVAL_REPORT = "retrieval_report.json"
CROSSVAL_REPORT = "crossval_report.json"


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_intent_reports(
    out: Path, predictions: Sequence[Prediction], *, errors: bool = True, successes: bool = False
) -> dict[str, Path]:
    written = {"report": write_json(out / INTENT_REPORT, intent_report(predictions))}
    if errors:
        written["errors"] = write_json(out / INTENT_ERRORS, intent_errors(predictions))
    if successes:
        written["successes"] = write_json(out / INTENT_SUCCESSES, intent_successes(predictions))
    return written
