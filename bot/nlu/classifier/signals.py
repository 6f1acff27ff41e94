"""The out-of-scope signals and the OOS score that sums them.

Beside the head's max probability (`maxprob`): a shared-covariance Mahalanobis scorer on the
embedding (`maha`), the energy of the logits (`energy`), the mean cosine similarity to the k nearest
training examples (`knn`, whose neighbours also vote on the ranking) and minus the similarity to the
nearest known out-of-scope messages (`negatives`, the negative bank). The OOS score is the sum of the
signals, each z-normalised on held-out in-scope examples (higher = more in scope).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

ZScores = Mapping[str, tuple[float, float]]
"""Signal name -> (mean, standard deviation) on held-out in-scope examples."""


def whitening(centered: np.ndarray, shrinkage: float) -> np.ndarray:
    """Inverse square root of the shared covariance, shrunk towards a scaled identity."""
    c = centered.astype(np.float32)
    cov = (c.T @ c).astype(np.float64) / max(len(c), 1)
    scale = float(np.trace(cov)) / len(cov)
    cov = (1.0 - shrinkage) * cov + shrinkage * scale * np.eye(len(cov))
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, max(1e-6 * float(vals.max()), 1e-8))
    return np.asarray((vecs / np.sqrt(vals)) @ vecs.T)


@dataclass(frozen=True, eq=False)
class Mahalanobis:
    """Minus the smallest Mahalanobis distance to an intent's mean (shared, shrunk covariance)."""

    whiten: np.ndarray  # (dim, dim) float32
    means_w: np.ndarray  # (n_intents, dim) float32: the intents' means, whitened

    @classmethod
    def fit(cls, x: np.ndarray, idx: np.ndarray, n_classes: int, shrinkage: float) -> Mahalanobis:
        means = np.stack([x[idx == c].mean(0) for c in range(n_classes)])
        whiten = whitening(x - means[idx], shrinkage)
        return cls(whiten.astype(np.float32), (means @ whiten).astype(np.float32))

    def score(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.whiten
        means = self.means_w
        d2 = (z * z).sum(1)[:, None] - 2.0 * z @ means.T + (means * means).sum(1)[None, :]
        return np.asarray(-d2.min(1).astype(np.float32))


def energy(logits: np.ndarray) -> np.ndarray:
    """logsumexp of each row of logits."""
    top = logits.max(1, keepdims=True)
    return np.asarray((top[:, 0] + np.log(np.exp(logits - top).sum(1))).astype(np.float32))


@dataclass(frozen=True, eq=False)
class NeighbourBank:
    """The training examples' unit embeddings sorted by intent: `start[c]:start[c + 1]` are intent c's."""

    vectors: np.ndarray  # (n, dim) float32
    start: np.ndarray  # (n_intents + 1,) int64

    @classmethod
    def build(cls, x: np.ndarray, idx: np.ndarray, n_classes: int) -> NeighbourBank:
        order = np.argsort(idx, kind="stable")
        start = np.searchsorted(idx[order], np.arange(n_classes + 1)).astype(np.int64)
        return cls(np.ascontiguousarray(x[order], dtype=np.float32), start)

    def similarity(
        self, x: np.ndarray, logits: np.ndarray, k: int, n_classes: int, vote_temp: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`knn_similarity` over this bank."""
        return knn_similarity(x, self.vectors, self.start, logits, k, n_classes, vote_temp)


def knn_similarity(
    x: np.ndarray,
    bank: np.ndarray,
    start: np.ndarray,
    logits: np.ndarray,
    k: int,
    n_classes: int,
    vote_temp: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean cosine similarity of each row to its k nearest training examples (unit vectors),
    and with vote_temp > 0 the distribution of those neighbours' intents (votes weighted by
    exp(cosine / vote_temp)), else None.

    With n_classes > 0 the neighbours are searched among the examples of the n_classes
    intents with the highest logits only: a full scan reads every training embedding (23 MB
    for CLINC150, ~1 ms per message, memory bound); the nearest ones almost always belong to
    the top intents.
    """
    n_labels = len(start) - 1
    votes = np.zeros((len(x), n_labels), dtype=np.float32) if vote_temp > 0 else None
    bank_y = np.repeat(np.arange(n_labels), np.diff(start))
    if n_classes <= 0 or n_classes >= n_labels:
        out = _knn_full_scan(x, bank, bank_y, k, votes, vote_temp)
    else:
        out = np.empty(len(x), dtype=np.float32)
        top = np.argpartition(-logits, n_classes - 1, axis=1)[:, :n_classes]
        for i in range(len(x)):
            rows = np.concatenate([np.arange(start[c], start[c + 1]) for c in top[i]])
            sims = bank[rows] @ x[i]
            kk = min(k, len(sims))
            nn = np.argpartition(sims, len(sims) - kk)[len(sims) - kk :]
            near = sims[nn]
            out[i] = near.mean()
            if votes is not None:
                np.add.at(votes[i], bank_y[rows[nn]], np.exp((near - near.max()) / vote_temp))
    if votes is not None:
        votes /= votes.sum(1, keepdims=True)
    return out, votes


def _knn_full_scan(
    x: np.ndarray, bank: np.ndarray, bank_y: np.ndarray, k: int, votes: np.ndarray | None, vote_temp: float
) -> np.ndarray:
    """`knn_similarity` over every training example, 256 messages at a time (fills `votes`)."""
    out = np.empty(len(x), dtype=np.float32)
    n = bank.shape[0]
    kk = min(k, n)
    for i in range(0, len(x), 256):
        sims = x[i : i + 256] @ bank.T
        nn = np.argpartition(sims, n - kk, axis=1)[:, n - kk :]
        near = np.take_along_axis(sims, nn, axis=1)
        out[i : i + 256] = near.mean(1)
        if votes is not None:
            w = np.exp((near - near.max(1, keepdims=True)) / vote_temp)
            for j in range(len(near)):
                np.add.at(votes[i + j], bank_y[nn[j]], w[j])
    return out


def negative_dissimilarity(x: np.ndarray, negatives: np.ndarray, k: int, skip_self: bool) -> np.ndarray:
    """Minus the mean cosine similarity of each row to its k nearest known out-of-scope messages
    (higher = less like them). With skip_self, a row's own copy in the bank (cosine ~1) is skipped."""
    sims = x @ negatives.T
    if skip_self:
        sims = np.where(sims > 0.9999, -1.0, sims)
    kk = min(k, sims.shape[1])
    near = np.partition(sims, sims.shape[1] - kk, axis=1)[:, sims.shape[1] - kk :]
    return np.asarray(-near.mean(1), dtype=np.float32)


def fit_z(signals: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Each signal's mean and standard deviation (at least 1e-6) over held-out in-scope examples."""
    return {name: (float(v.mean()), float(max(v.std(), 1e-6))) for name, v in signals.items()}


def oos_score(signals: Mapping[str, np.ndarray], z: ZScores) -> np.ndarray:
    """The sum of the z-normalised signals, in the order given (a signal without statistics counts as is)."""
    score = np.zeros(len(next(iter(signals.values()))))
    for name, v in signals.items():
        mu, sd = z.get(name, (0.0, 1.0))
        score += (v - mu) / sd
    return score
