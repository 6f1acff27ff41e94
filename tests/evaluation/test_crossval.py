"""Cross-validation, the held-out split and a whole `run_evaluation` on tiny fixtures with the FakeEncoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.encoding import FakeEncoder
from bot.errors import DataError
from bot.evaluation.crossval import Labelled, cross_validate, holdout_split
from bot.evaluation.datasets import read_examples
from bot.evaluation.evaluate import EvaluationOptions, run_evaluation
from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier

EXAMPLES = {
    "greet": ["hi", "hello", "hello there", "hey", "good morning", "hi friend"],
    "order_status": [
        "where is my order",
        "track my order",
        "order status please",
        "where is my parcel",
        "has my order shipped",
        "status of my order",
    ],
    "ask_hours": [
        "opening hours",
        "when do you open",
        "are you open today",
        "what are your hours",
        "when do you close",
        "opening times",
    ],
    "rare": ["only two", "of these"],
}


def labelled() -> Labelled:
    texts = [t for items in EXAMPLES.values() for t in items]
    labels = [label for label, items in EXAMPLES.items() for _ in items]
    return Labelled(texts, labels, FakeEncoder().encode(texts))


def make() -> EmbeddingIntentClassifier:
    return EmbeddingIntentClassifier(ClassifierConfig(threshold=0.0))


def test_cross_validation_is_stratified_and_drops_small_intents() -> None:
    folds = []
    result = cross_validate(make, labelled(), 3, on_fold=folds.append)
    assert folds == [1, 2, 3]
    assert result.dropped == {"rare": 2}
    assert len(result.predictions) == 18  # every kept example is tested exactly once
    assert sorted(p.text for p in result.predictions) == sorted(
        t for k, v in EXAMPLES.items() if k != "rare" for t in v
    )
    summary = result.summary()
    assert set(summary["test"]) == {"Accuracy", "F1-score", "Precision"}
    assert 0 <= summary["test"]["Accuracy"]["mean"] <= 1
    assert summary["train"]["Accuracy"]["mean"] >= summary["test"]["Accuracy"]["mean"] - 1e-9


def test_cross_validation_needs_two_folds() -> None:
    with pytest.raises(ValueError, match="at least 2 folds"):
        cross_validate(make, labelled(), 1)


def test_holdout_split_keeps_every_intent_in_training() -> None:
    data = labelled()
    train, test = holdout_split(data.labels, 0.34, seed=1)
    assert not set(train) & set(test)
    assert sorted(train + test) == list(range(len(data)))
    assert {data.labels[i] for i in train} == set(EXAMPLES)
    assert sum(1 for i in test if data.labels[i] == "greet") == 2


def test_readers(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "intent": "greet"}\n\n{"text": "x", "intent": "oos"}\n')
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: order_status\n  examples: |\n    - track [AN-12345](order_number)\n'
    )
    assert [(e.text, e.intent) for e in read_examples(tmp_path / "a.jsonl")] == [("hi", "greet"), ("x", "oos")]
    assert [(e.text, e.intent) for e in read_examples(tmp_path / "a.yml")] == [("track AN-12345", "order_status")]
    (tmp_path / "bad.jsonl").write_text('{"text": "hi"}\nnot json\n')
    with pytest.raises(DataError) as e:
        read_examples(tmp_path / "bad.jsonl")
    assert [p.line for p in e.value.problems] == [1, 2]


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in rows))
    return path


def test_run_evaluation_on_external_files_writes_every_report(tmp_path: Path) -> None:
    rows = [(t, k) for k, v in EXAMPLES.items() if k != "rare" for t in v]
    train = write_jsonl(tmp_path / "train.jsonl", [*rows, ("what is the weather", "oos"), ("tell a joke", "oos")])
    test = write_jsonl(
        tmp_path / "test.jsonl",
        [
            ("hello hello", "greet"),
            ("where is the order", "order_status"),
            ("open hours today", "ask_hours"),
            ("play music", "oos"),
        ],
    )
    out = tmp_path / "results"
    settings = Settings(project_dir=tmp_path)
    result = run_evaluation(settings, FakeEncoder(), EvaluationOptions(out=out, train=train, test=test))
    names = {p.name for p in out.iterdir()}
    assert names == {
        "intent_report.json",
        "intent_errors.json",
        "oos_report.json",
        "intent_confusion_matrix.png",
        "intent_histogram.png",
        "oos_coverage.png",
        "report.html",
    }
    oos = json.loads((out / "oos_report.json").read_text())
    assert {"in_scope_accuracy", "oos_recall", "oos_precision", "accuracy", "coverage_curve"} <= set(oos)
    assert result.report["macro avg"]["support"] == 4
    html = (out / "report.html").read_text()
    assert "in-scope accuracy" in html and "intent_confusion_matrix.png" in html


def test_run_evaluation_cross_validation_on_project_intents(tmp_path: Path) -> None:
    nlu = ['version: "3.1"', "nlu:"]
    for intent, texts in EXAMPLES.items():
        if intent != "rare":
            nlu += [f"- intent: {intent}", "  examples: |", *(f"    - {t}" for t in texts)]
    (tmp_path / "intents").mkdir()
    (tmp_path / "intents" / "nlu.yml").write_text("\n".join(nlu) + "\n")
    settings = Settings(project_dir=tmp_path, knowledge_dir=Path("no-knowledge"))
    options = EvaluationOptions(out=tmp_path / "cv", cross_validation=True, folds=3, plot=False)
    result = run_evaluation(settings, FakeEncoder(), options)
    assert result.crossval is not None and result.crossval.folds == 3
    assert len(result.predictions) == 18
    assert (tmp_path / "cv" / "crossval_report.json").exists()
    assert not (tmp_path / "cv" / "intent_histogram.png").exists()


def test_options_are_checked() -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="--train needs --test"):
        EvaluationOptions(out=Path("x"), train=Path("t.jsonl")).check()
    with pytest.raises(ConfigError, match="--val"):
        EvaluationOptions(out=Path("x"), val=Path("v.jsonl")).check()


def test_labelled_subset() -> None:
    data = labelled()
    part = data.subset(np.array([0, 6]))
    assert part.texts == ["hi", "where is my order"] and part.embeddings.shape[0] == 2
