"""Shared helpers for the intent-classifier experiments: cached data and metrics.

Metrics follow Larson et al. (2019): in-scope accuracy counts an abstention on an
in-scope query as an error; oos recall is the share of out-of-scope queries that
were rejected; oos precision is the share of rejections that were out of scope.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from embed_cache import REPO_ROOT, load_split

OOS = "oos"


@dataclass
class Split:
    x: np.ndarray
    texts: list[str]
    labels: list[str]

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels)

    @property
    def is_oos(self) -> np.ndarray:
        return self.y == OOS

    def subset(self, mask: np.ndarray) -> Split:
        idx = np.flatnonzero(mask)
        return Split(self.x[idx], [self.texts[i] for i in idx], [self.labels[i] for i in idx])


def parser(doc: str | None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--data", type=Path, default=REPO_ROOT / ".." / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/embcache"))
    return ap


def load(args: argparse.Namespace, dataset: str, split: str) -> Split:
    x, texts, labels = load_split(args.data, args.cache, dataset, split)
    return Split(x, texts, labels)


def oos_metrics(pred: np.ndarray, score: np.ndarray, threshold: float, split: Split) -> dict[str, float]:
    """In-scope accuracy, oos recall and precision when abstaining below `threshold`."""
    y = split.y
    is_oos = split.is_oos
    rejected = (score < threshold) | (pred == OOS)
    correct = (pred == y) & ~rejected
    n_rej = max(int(rejected.sum()), 1)
    return {
        "in_acc": float(correct[~is_oos].mean()),
        "oos_rec": float(rejected[is_oos].mean()),
        "oos_prec": float((rejected & is_oos).sum() / n_rej),
    }


def fit_threshold(pred: np.ndarray, score: np.ndarray, split: Split, oos_weight: float = 0.25) -> float:
    """Threshold maximising in-scope accuracy + oos_weight * oos recall on `split`.

    oos_weight = prior / (1 - prior): 0.25 is the accuracy on traffic that is 20% out of scope.
    """
    best_t, best = -np.inf, -1.0
    for t in np.unique(np.quantile(score, np.linspace(0, 0.5, 501))):
        m = oos_metrics(pred, score, float(t), split)
        v = m["in_acc"] + oos_weight * m["oos_rec"]
        if v > best:
            best, best_t = v, float(t)
    return best_t


def recall_at_in_acc(pred: np.ndarray, score: np.ndarray, split: Split, target: float) -> float:
    """Best oos recall with in-scope accuracy >= target (an oracle threshold on `split`)."""
    best = 0.0
    for t in np.unique(np.quantile(score, np.linspace(0, 0.5, 1001))):
        m = oos_metrics(pred, score, float(t), split)
        if m["in_acc"] >= target:
            best = max(best, m["oos_rec"])
    return best


def holdout_mask(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """The training side (True) of the stratified 80/20 split used as BANKING77's "holdout" (the
    same split the classifier's own held-out fold uses: StratifiedShuffleSplit, random_state 0)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    train, _ = next(sss.split(np.zeros(len(labels)), labels))
    mask = np.zeros(len(labels), dtype=bool)
    mask[train] = True
    return mask
