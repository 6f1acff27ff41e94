"""Training of the softmax head in numpy: minibatch AdamW with torch's one-cycle schedule.

Logits = x @ W + b [+ TF-IDF @ S when a CSR matrix is given], x the head's dense input (already
scaled). The dense part follows torch's AdamW + OneCycleLR exactly (zero init, decoupled weight
decay, cosine one-cycle learning rate and momentum); the sparse TF-IDF weights S are updated
lazily, only on the rows (n-grams) present in the minibatch, as torch's SparseAdam does, so a
step costs the batch's n-grams, not the whole vocabulary. No torch import (~2 s saved per training).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.nlu.classifier.config import ClassifierConfig

_BETA2 = 0.999
_EPS = 1e-8


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(1, keepdims=True))


def one_cycle(step: int, total: int, max_lr: float) -> tuple[float, float]:
    """torch OneCycleLR (cos, pct_start 0.3, div 25, final div 1e4): (lr, beta1) at `step`."""
    up = max(0.3 * total - 1.0, 1.0)
    lr0, lr_end = max_lr / 25.0, max_lr / 25.0 / 1e4
    if step <= up:
        c = (1.0 - float(np.cos(np.pi * step / up))) / 2.0
        return lr0 + (max_lr - lr0) * c, 0.95 - 0.1 * c
    c = (1.0 - float(np.cos(np.pi * min((step - up) / max(total - 1 - up, 1.0), 1.0)))) / 2.0
    return max_lr + (lr_end - max_lr) * c, 0.85 + 0.1 * c


def train_softmax(
    x: np.ndarray, y: np.ndarray, n_classes: int, config: ClassifierConfig, tfidf: Any | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(dense (n_classes, dim), bias, sparse (width, n_classes) or None) of the head trained on the
    rows of `x` (intent indices `y`) and, when given, their TF-IDF CSR matrix `tfidf`.

    Uses config.seed, epochs, batch_size, learning_rate, weight_decay and min_steps.
    """
    rng = np.random.default_rng(config.seed)
    n, dim = x.shape
    xs = np.ascontiguousarray(x, dtype=np.float32)
    w = np.zeros((dim + 1, n_classes), dtype=np.float32)  # last row: bias
    m1 = np.zeros_like(w)
    m2 = np.zeros_like(w)
    sparse = _LazySparseAdam(tfidf, n_classes) if tfidf is not None else None
    bs = min(config.batch_size, n)
    per_epoch = int(np.ceil(n / bs))
    total = max(config.epochs, int(np.ceil(config.min_steps / per_epoch))) * per_epoch
    step = 0
    for _ in range(total // per_epoch):
        perm = rng.permutation(n)
        for i in range(0, n, bs):
            b = perm[i : i + bs]
            xb = xs[b]
            logits = xb @ w[:-1] + w[-1]
            if sparse is not None:
                logits += sparse.gather(b)
            g = softmax(logits)
            g[np.arange(len(b)), y[b]] -= 1.0
            g /= len(b)
            grad = np.vstack([xb.T @ g, g.sum(0, keepdims=True)])
            lr, beta1 = one_cycle(step, total, config.learning_rate)
            step += 1
            w *= 1.0 - lr * config.weight_decay
            m1 = beta1 * m1 + (1.0 - beta1) * grad
            m2 = _BETA2 * m2 + (1.0 - _BETA2) * grad * grad
            # torch's Adam bias-corrects with the current beta1 ** step
            w -= lr * (m1 / (1.0 - beta1**step)) / (np.sqrt(m2 / (1.0 - _BETA2**step)) + _EPS)
            if sparse is not None:
                sparse.step(g, lr, beta1, config.weight_decay)
    return np.ascontiguousarray(w[:-1].T), w[-1].copy(), sparse.weights if sparse is not None else None


class _LazySparseAdam:
    """The TF-IDF weights (width, n_classes) for the CSR matrix `tfidf` and their AdamW moments,
    updated only on the rows (n-grams) of the current minibatch, with per-row step counts for the
    bias correction."""

    def __init__(self, tfidf: Any, n_classes: int) -> None:
        width = tfidf.shape[1]
        self._tfidf = tfidf
        self.weights = np.zeros((width, n_classes), dtype=np.float32)
        self._m1 = np.zeros_like(self.weights)
        self._m2 = np.zeros_like(self.weights)
        self._steps = np.zeros(width, dtype=np.int64)
        self._rows = np.zeros(0, dtype=np.int64)
        self._small: Any = None
        self._w_rows = self.weights[:0]

    def gather(self, b: np.ndarray) -> np.ndarray:
        """The TF-IDF logits of the examples `b`; remembers their n-grams for `step`."""
        import scipy.sparse as sp

        batch = self._tfidf[b]
        rows, inv = np.unique(batch.indices, return_inverse=True)
        self._rows = rows
        self._small = sp.csr_matrix((batch.data, inv.reshape(-1), batch.indptr), shape=(batch.shape[0], len(rows)))
        self._w_rows = self.weights[rows]
        return np.asarray(self._small @ self._w_rows)

    def step(self, g: np.ndarray, lr: float, beta1: float, weight_decay: float) -> None:
        """One AdamW step on the rows of the last `gather`, given the logits' gradient `g`."""
        rows, sr = self._rows, self._w_rows
        gs = np.asarray(self._small.T @ g, dtype=np.float32)
        self._steps[rows] += 1
        t = self._steps[rows][:, None].astype(np.float32)
        a1 = beta1 * self._m1[rows] + (1.0 - beta1) * gs
        a2 = _BETA2 * self._m2[rows] + (1.0 - _BETA2) * (gs * gs)
        self._m1[rows] = a1
        self._m2[rows] = a2
        corr1 = 1.0 - np.power(np.float32(beta1), t)
        corr2 = 1.0 - np.power(np.float32(_BETA2), t)
        sr *= 1.0 - lr * weight_decay
        sr -= lr * (a1 / corr1) / (np.sqrt(a2 / corr2) + _EPS)
        self.weights[rows] = sr
