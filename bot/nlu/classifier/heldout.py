"""Held-out predictions: the head is trained on part of the labelled data and scores the rest, to
choose the layer features and to fit the calibration and the abstention on.

With validation data, one head per candidate set of layer features is trained on every in-scope
example and scores val; without, each candidate is trained on stratified folds and scores the
held-out fold. The data's known out-of-scope examples (and, without val, the generic corpus) join
the held-out data: the head never trains on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from bot.encoding import Encoded
from bot.nlu.classifier.config import ClassifierConfig
from bot.nlu.classifier.examples import Examples, Negatives
from bot.nlu.classifier.head import Head, RawScores, fit_head

MAX_FOLDS = 5
LARGE = 4000  # above this many examples one stratified 80/20 split replaces k-fold
LayerChoice = tuple[str, ...]


def held_out_splits(labels: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds (one 80/20 split for large data); [] when a class has < 2 examples."""
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    counts = Counter(labels.tolist())
    smallest = min(counts.values())
    if smallest < 2:
        return []
    dummy = np.zeros(len(labels))
    if len(labels) > LARGE and smallest >= 5:
        sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
        return [(a, b) for a, b in sss.split(dummy, labels)]
    k = min(MAX_FOLDS, smallest)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(a, b) for a, b in skf.split(dummy, labels)]


def candidates(names: LayerChoice, select: bool) -> list[LayerChoice]:
    """The layer-feature sets to try: with `select`, every subset of `names`, fewest features first
    (the embedding alone first); else `names` only."""
    if not select:
        return [names]
    return [c for k in range(len(names) + 1) for c in combinations(names, k)]


def top1(labels: Sequence[str], logits: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Share of the rows in `mask` whose highest logit is their true intent."""
    if not mask.any():
        return 0.0
    predicted = np.asarray(labels)[logits[mask].argmax(1)]
    return float((predicted == truth[mask]).mean())


def best(choice: dict[LayerChoice, float]) -> LayerChoice:
    """The most accurate candidate; on a tie, the one with fewer features (listed first)."""
    return max(choice, key=lambda use: (choice[use], -len(use)))


@dataclass(frozen=True, eq=False)
class HeldOut:
    """Held-out scores with their true intents ("" for out-of-scope examples)."""

    scores: RawScores
    labels: np.ndarray
    is_oos: np.ndarray

    def with_negatives(self, scores: RawScores) -> HeldOut:
        """These, then out-of-scope examples scored as `scores`."""
        n = len(scores)
        return HeldOut(
            RawScores.concat([self.scores, scores]),
            np.concatenate([self.labels, np.full(n, "")]),
            np.concatenate([self.is_oos, np.ones(n, dtype=bool)]),
        )


@dataclass(frozen=True, eq=False)
class Selection:
    """The head trained on every in-scope example with the chosen layer features, its held-out
    scores (None: too little data to hold any out), the held-out top-1 accuracy of each candidate,
    and where the held-out data came from ("val", "cross-validation" or "defaults": none)."""

    head: Head
    held: HeldOut | None
    choice: dict[LayerChoice, float]
    source: str


@dataclass(frozen=True, eq=False)
class HeadTrainer:
    """Trains heads on rows of the training data and scores rows with them."""

    data: Examples
    negatives: Negatives
    config: ClassifierConfig

    def train(self, rows: np.ndarray, use: LayerChoice) -> Head:
        d = self.data
        layers = {n: d.layers[n][rows] for n in use}
        return fit_head(d.x[rows], list(d.texts[rows]), d.y[rows], self.negatives.all.vectors, self.config, use, layers)

    def score(self, head: Head, rows: np.ndarray) -> RawScores:
        d = self.data
        return head.raw_scores(d.x[rows], list(d.texts[rows]), {n: d.layers[n][rows] for n in head.layer_names})

    @staticmethod
    def score_negatives(head: Head, which: Encoded, texts: list[str]) -> RawScores:
        """Scores of negatives (each one's own copy in the negative bank skipped)."""
        which = which.only(head.layer_names)
        return head.raw_scores(which.vectors, texts, which.layers, in_negatives=True)


def select_on_validation(trainer: HeadTrainer, val: Examples, tried: Sequence[LayerChoice]) -> Selection:
    """One head per candidate, trained on every in-scope example; the best on val's in-scope examples
    wins. Held out: val, then the training data's own out-of-scope examples."""
    in_idx = trainer.data.in_scope
    heads: dict[LayerChoice, tuple[Head, RawScores]] = {}
    choice: dict[LayerChoice, float] = {}
    for use in tried:
        head = trainer.train(in_idx, use)
        scores = head.raw_scores(val.x, list(val.texts), {n: val.layers[n] for n in use})
        heads[use] = (head, scores)
        choice[use] = top1(head.labels, scores.logits, val.y, ~val.is_oos)
    head, scores = heads[best(choice)]
    held = HeldOut(scores, np.where(val.is_oos, "", val.y), val.is_oos)
    own = trainer.negatives.own
    if len(own):
        held = held.with_negatives(trainer.score_negatives(head, own, trainer.negatives.own_texts))
    return Selection(head, held, choice, "val")


def select_on_folds(trainer: HeadTrainer, tried: Sequence[LayerChoice]) -> Selection:
    """Each candidate trained on stratified folds of the in-scope examples; the best on the held-out
    folds wins and is trained again on all of them. Held out: the folds, then every negative."""
    data, in_idx = trainer.data, trainer.data.in_scope
    splits = held_out_splits(data.y[in_idx], trainer.config.seed)
    fold_scores: dict[LayerChoice, RawScores] = {}
    choice: dict[LayerChoice, float] = {}
    held_y = data.y[in_idx[np.concatenate([te for _, te in splits])]] if splits else data.y[:0]
    labels_in = tuple(sorted(set(data.y[in_idx].tolist())))  # every fold trains on every intent
    for use in tried if splits else ():
        folds = [trainer.score(trainer.train(in_idx[tr], use), in_idx[te]) for tr, te in splits]
        fold_scores[use] = RawScores.concat(folds)
        choice[use] = top1(labels_in, fold_scores[use].logits, held_y, np.ones(len(held_y), bool))
    use = best(choice) if choice else tried[-1]
    head = trainer.train(in_idx, use)
    if not splits:
        return Selection(head, None, choice, "defaults")
    held = HeldOut(fold_scores[use], held_y, np.zeros(len(held_y), dtype=bool))
    negatives = trainer.negatives
    if len(negatives):
        held = held.with_negatives(trainer.score_negatives(head, negatives.all, negatives.texts))
    return Selection(head, held, choice, "cross-validation")
