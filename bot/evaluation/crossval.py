"""Train-and-predict runs for evaluation: a held-out split, stratified k-fold cross-validation, and
a fixed train/test pair. Works on embeddings computed once; the classifier comes from a factory.

As in `rasa test nlu --cross-validation`, intents with fewer examples than folds are left out, and
each fold reports train and test accuracy, F1-score and precision (weighted averages).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.encoding import Encoded
from bot.evaluation.datasets import has_out_of_scope
from bot.evaluation.metrics import Prediction, intent_report, make_prediction
from bot.nlu.classifier import EmbeddingIntentClassifier

ClassifierFactory = Callable[[], EmbeddingIntentClassifier]
Embed = Callable[[Sequence[str]], Encoded]
FoldProgress = Callable[[int], None]


@dataclass(frozen=True)
class Labelled:
    """Texts, labels, their embeddings and layer features (row i belongs to texts[i]; no layer
    features = the classifier uses the embeddings only)."""

    texts: list[str]
    labels: list[str]
    embeddings: np.ndarray
    layers: Mapping[str, np.ndarray] = field(default_factory=dict)

    def subset(self, index: Sequence[int] | np.ndarray) -> Labelled:
        idx = [int(i) for i in index]
        return Labelled(
            [self.texts[i] for i in idx],
            [self.labels[i] for i in idx],
            self.embeddings[idx],
            {k: v[idx] for k, v in self.layers.items()},
        )

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class CrossValidation:
    predictions: list[Prediction]
    folds: int
    dropped: dict[str, int]  # intent -> examples, left out for having fewer examples than folds
    train: dict[str, list[float]] = field(default_factory=dict)  # metric -> one value per fold
    test: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{"train"|"test": {"Accuracy"|"F1-score"|"Precision": {"mean", "std"}}} (Rasa's log lines)."""
        return {
            part: {name: {"mean": statistics.fmean(v), "std": statistics.pstdev(v)} for name, v in values.items()}
            for part, values in (("train", self.train), ("test", self.test))
        }


def fit(
    make: ClassifierFactory, train: Labelled, *, val: Labelled | None = None, embed: Embed | None = None
) -> EmbeddingIntentClassifier:
    classifier = make()
    val_data = (val.embeddings, val.texts, val.labels) if val is not None else None
    classifier.fit(
        train.embeddings,
        train.texts,
        train.labels,
        layers=train.layers or None,
        val=val_data,
        val_layers=val.layers or None if val is not None else None,
        embed=embed,
    )
    return classifier


def predict(classifier: EmbeddingIntentClassifier, data: Labelled, oos_label: str | None = None) -> list[Prediction]:
    """Predictions for `data`; a rejection counts as `oos_label` (default: the data's own oos label)."""
    oos = oos_label if oos_label is not None else has_out_of_scope(data.labels)
    results = classifier.predict(data.embeddings, data.texts, data.layers or None)
    return [
        make_prediction(text, target, r.ranking, r.abstain, oos)
        for text, target, r in zip(data.texts, data.labels, results, strict=True)
    ]


def holdout_split(labels: Sequence[str], fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """A stratified split: `fraction` of each intent's examples to test (at least one, and never
    an intent's only example)."""
    if not 0 < fraction < 1:
        raise ValueError(f"the test fraction must be between 0 and 1 — got {fraction}")
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train: list[int] = []
    test: list[int] = []
    for label in sorted(by_label):
        idx = list(rng.permutation(by_label[label]))
        n_test = min(max(1, round(len(idx) * fraction)), len(idx) - 1)
        test.extend(int(i) for i in idx[:n_test])
        train.extend(int(i) for i in idx[n_test:])
    return sorted(train), sorted(test)


def _scores(predictions: Sequence[Prediction]) -> dict[str, float]:
    report = intent_report(predictions)
    return {
        "Accuracy": float(report["accuracy"]),
        "F1-score": float(report["weighted avg"]["f1-score"]),
        "Precision": float(report["weighted avg"]["precision"]),
    }


def cross_validate(
    make: ClassifierFactory,
    data: Labelled,
    folds: int,
    *,
    embed: Embed | None = None,
    seed: int = 0,
    on_fold: FoldProgress | None = None,
) -> CrossValidation:
    """Stratified k-fold cross-validation; test predictions of every fold are accumulated."""
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds — got {folds}")
    counts = Counter(data.labels)
    dropped = {label: n for label, n in sorted(counts.items()) if n < folds}
    kept = data.subset([i for i, label in enumerate(data.labels) if label not in dropped])
    if len(set(kept.labels)) < 2:
        raise ValueError(
            f"with {folds} folds fewer than 2 intents have enough examples — use fewer folds or add examples"
        )
    result = CrossValidation([], folds, dropped)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oos = has_out_of_scope(kept.labels)
    for number, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(kept)), kept.labels), 1):
        train, test = kept.subset(train_idx), kept.subset(test_idx)
        classifier = fit(make, train, embed=embed)
        for part, rows in (("train", predict(classifier, train, oos)), ("test", predict(classifier, test, oos))):
            target = result.train if part == "train" else result.test
            for name, value in _scores(rows).items():
                target.setdefault(name, []).append(value)
            if part == "test":
                result.predictions.extend(rows)
        if on_fold:
            on_fold(number)
    return result
