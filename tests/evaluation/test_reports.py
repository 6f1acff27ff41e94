"""Report shapes against `rasa test nlu` (docs/rasa-interop §4) and sklearn's classification_report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import classification_report

from bot.evaluation.metrics import (
    Prediction,
    coverage_curve,
    intent_errors,
    intent_report,
    make_prediction,
    oos_report,
    retrieval_metrics,
    top1_accuracy,
)
from bot.evaluation.reports import write_intent_reports

RASA_ROW_KEYS = {"precision", "recall", "f1-score", "support", "confused_with"}
RASA_AVG_KEYS = {"precision", "recall", "f1-score", "support"}


def p(text: str, target: str, predicted: str, confidence: float = 0.9, abstained: bool = False) -> Prediction:
    return Prediction(text, target, predicted, confidence, abstained, predicted)


PREDICTIONS = [
    p("hi", "greet", "greet"),
    p("see you", "goodbye", "greet", 0.61),
    p("bye", "goodbye", "goodbye"),
    p("hello", "greet", "greet"),
    p("ciao", "goodbye", "goodbye"),
    p("yo", "greet", "nlu_fallback", 0.2, abstained=True),
]


def test_intent_report_matches_rasa_shape_and_sklearn() -> None:
    report = intent_report(PREDICTIONS)
    assert list(report)[-4:] == ["accuracy", "micro avg", "macro avg", "weighted avg"]
    for label in ("greet", "goodbye"):
        assert set(report[label]) == RASA_ROW_KEYS
        assert isinstance(report[label]["support"], int)
    for avg in ("micro avg", "macro avg", "weighted avg"):
        assert set(report[avg]) == RASA_AVG_KEYS
    assert report["goodbye"]["confused_with"] == {"greet": 1}
    assert report["greet"]["confused_with"] == {"nlu_fallback": 1}
    targets = [x.target for x in PREDICTIONS]
    predicted = [x.predicted for x in PREDICTIONS]
    expected = classification_report(targets, predicted, labels=["goodbye", "greet"], output_dict=True, zero_division=0)
    for key in ("goodbye", "greet", "macro avg", "weighted avg", "micro avg"):
        for metric in ("precision", "recall", "f1-score"):
            assert report[key][metric] == pytest.approx(expected[key][metric])
        assert report[key]["support"] == int(expected[key]["support"])
    assert report["accuracy"] == pytest.approx(4 / 6)


def test_errors_have_rasa_shape_most_confident_first() -> None:
    errors = intent_errors(PREDICTIONS)
    assert errors[0] == {
        "text": "see you",
        "intent": "goodbye",
        "intent_prediction": {"name": "greet", "confidence": 0.61},
    }
    assert [e["text"] for e in errors] == ["see you", "yo"]


def test_written_files(tmp_path: Path) -> None:
    written = write_intent_reports(tmp_path, PREDICTIONS, successes=True)
    assert {p.name for p in written.values()} == {"intent_report.json", "intent_errors.json", "intent_successes.json"}
    successes = json.loads((tmp_path / "intent_successes.json").read_text())
    assert set(successes[0]) == {"text", "intent", "intent_prediction"}


def test_rejections_count_as_the_oos_label() -> None:
    ranking = (("greet", 0.3), ("goodbye", 0.2))
    assert make_prediction("x", "oos", ranking, True, "oos").predicted == "oos"
    assert make_prediction("x", "greet", ranking, True, None).predicted == "nlu_fallback"
    assert make_prediction("x", "oos", (("out_of_scope", 0.8),), False, "oos").predicted == "oos"
    assert make_prediction("x", "greet", ranking, False, "oos").predicted == "greet"


def test_oos_report_on_a_tiny_fixture() -> None:
    predictions = [
        Prediction("hi", "greet", "greet", 0.9, False, "greet"),
        Prediction("bye", "goodbye", "goodbye", 0.8, False, "goodbye"),
        Prediction("hey", "greet", "oos", 0.3, True, "greet"),  # in scope, rejected: an error
        Prediction("capital of peru", "oos", "oos", 0.2, True, "goodbye"),  # rejected: right
        Prediction("weather", "oos", "greet", 0.7, False, "greet"),  # answered: wrong
    ]
    report = oos_report(predictions, "oos", points=11)
    assert report["in_scope_accuracy"] == pytest.approx(2 / 3)
    assert report["oos_recall"] == pytest.approx(1 / 2)
    assert report["oos_precision"] == pytest.approx(1 / 2)
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["support"] == {"in_scope": 3, "out_of_scope": 2}
    assert report["operating_point"] == {"coverage": pytest.approx(3 / 5), "accuracy": pytest.approx(2 / 3)}
    curve = report["coverage_curve"]
    assert curve[0] == {"threshold": 0.0, "coverage": 1.0, "accuracy": pytest.approx(3 / 5)}
    at_075 = next(c for c in curve if c["threshold"] == 0.8)
    assert at_075["coverage"] == pytest.approx(2 / 5) and at_075["accuracy"] == 1.0
    assert [c["coverage"] for c in curve] == sorted((c["coverage"] for c in curve), reverse=True)
    assert coverage_curve([], "oos", points=3)[0]["coverage"] == 0.0


def test_top1_accuracy_ignores_abstention_and_oos_examples() -> None:
    predictions = [
        Prediction("hi", "greet", "greet", 0.9, False, "greet"),
        Prediction("hey", "greet", "oos", 0.3, True, "greet"),  # abstained, but its best intent is right
        Prediction("bye", "goodbye", "greet", 0.6, False, "greet"),
        Prediction("capital of peru", "oos", "oos", 0.2, True, "goodbye"),  # not in scope: not counted
    ]
    assert top1_accuracy(predictions, "oos") == pytest.approx(2 / 3)
    assert top1_accuracy(predictions[:3], None) == pytest.approx(2 / 3)
    assert top1_accuracy([], None) == 0.0


def test_retrieval_metrics() -> None:
    report = retrieval_metrics([1, 2, None, 5])
    assert report["recall@1"] == 0.25
    assert report["recall@3"] == 0.5
    assert report["recall@5"] == 0.75
    assert report["mrr"] == pytest.approx((1 + 0.5 + 0.2) / 4)
    assert report["support"] == 4
