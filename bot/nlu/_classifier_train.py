"""Training of the softmax head in numpy: minibatch AdamW with torch's one-cycle schedule.

Logits = alpha * embedding @ W + b [+ TF-IDF @ S when a CSR matrix is given]. The dense
part follows torch's AdamW + OneCycleLR exactly (zero init, decoupled weight decay, cosine
one-cycle learning rate and momentum); the sparse TF-IDF weights S are updated lazily, only
on the rows (n-grams) present in the minibatch, as torch's SparseAdam does, so a step costs
the batch's n-grams, not the whole vocabulary. No torch import (~2 s saved per training).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bot.nlu._classifier_head import HeadParams

_BETA2 = 0.999
_EPS = 1e-8


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(1, keepdims=True))


def _one_cycle(step: int, total: int, max_lr: float) -> tuple[float, float]:
    """torch OneCycleLR (cos, pct_start 0.3, div 25, final div 1e4): (lr, beta1) at `step`."""
    up = max(0.3 * total - 1.0, 1.0)
    lr0, lr_end = max_lr / 25.0, max_lr / 25.0 / 1e4
    if step <= up:
        c = (1.0 - float(np.cos(np.pi * step / up))) / 2.0
        return lr0 + (max_lr - lr0) * c, 0.95 - 0.1 * c
    c = (1.0 - float(np.cos(np.pi * min((step - up) / max(total - 1 - up, 1.0), 1.0)))) / 2.0
    return max_lr + (lr_end - max_lr) * c, 0.85 + 0.1 * c


def train_softmax(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    neg_x: np.ndarray,
    p: HeadParams,
    seed: int,
    tfidf: Any | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(dense (n_classes, dim), bias, sparse (width, n_classes) or None) of the trained head.

    Outlier exposure (p.outlier_exposure > 0) pushes the negatives' embedding logits
    towards uniform; it does not see their text.
    """
    rng = np.random.default_rng(seed)
    n, dim = x.shape
    xs = np.ascontiguousarray(x * p.alpha, dtype=np.float32)
    nxs = np.ascontiguousarray(neg_x * p.alpha, dtype=np.float32)
    w = np.zeros((dim + 1, n_classes), dtype=np.float32)  # last row: bias
    m1 = np.zeros_like(w)
    m2 = np.zeros_like(w)
    if tfidf is not None:
        width = tfidf.shape[1]
        s = np.zeros((width, n_classes), dtype=np.float32)
        s1 = np.zeros_like(s)
        s2 = np.zeros_like(s)
        # per-row Adam step counts, for lazy bias correction as in SparseAdam
        s_steps = np.zeros(width, dtype=np.int64)
    bs = min(p.batch_size, n)
    per_epoch = int(np.ceil(n / bs))
    total = max(p.epochs, int(np.ceil(p.min_steps / per_epoch))) * per_epoch
    use_oe = p.outlier_exposure > 0 and len(neg_x) > 0
    step = 0
    for _ in range(total // per_epoch):
        perm = rng.permutation(n)
        for i in range(0, n, bs):
            b = perm[i : i + bs]
            xb = xs[b]
            logits = xb @ w[:-1] + w[-1]
            if tfidf is not None:
                import scipy.sparse as sp

                mb = tfidf[b]
                rows, inv = np.unique(mb.indices, return_inverse=True)
                small = sp.csr_matrix((mb.data, inv.reshape(-1), mb.indptr), shape=(len(b), len(rows)))
                sr = s[rows]
                logits += small @ sr
            g = _softmax(logits)
            g[np.arange(len(b)), y[b]] -= 1.0
            g /= len(b)
            grad = np.vstack([xb.T @ g, g.sum(0, keepdims=True)])
            if use_oe:
                j = rng.integers(0, len(neg_x), size=min(32, len(neg_x)))
                pn = _softmax(nxs[j] @ w[:-1] + w[-1])
                gn = p.outlier_exposure * (pn - 1.0 / n_classes) / len(j)
                grad += np.vstack([nxs[j].T @ gn, gn.sum(0, keepdims=True)])
            lr, beta1 = _one_cycle(step, total, p.learning_rate)
            step += 1
            w *= 1.0 - lr * p.weight_decay
            m1 = beta1 * m1 + (1.0 - beta1) * grad
            m2 = _BETA2 * m2 + (1.0 - _BETA2) * grad * grad
            # torch's Adam bias-corrects with the current beta1 ** step
            w -= lr * (m1 / (1.0 - beta1**step)) / (np.sqrt(m2 / (1.0 - _BETA2**step)) + _EPS)
            if tfidf is not None:
                gs = np.asarray(small.T @ g, dtype=np.float32)
                s_steps[rows] += 1
                t = s_steps[rows][:, None].astype(np.float32)
                a1 = beta1 * s1[rows] + (1.0 - beta1) * gs
                a2 = _BETA2 * s2[rows] + (1.0 - _BETA2) * (gs * gs)
                s1[rows] = a1
                s2[rows] = a2
                corr1 = 1.0 - np.power(np.float32(beta1), t)
                corr2 = 1.0 - np.power(np.float32(_BETA2), t)
                sr *= 1.0 - lr * p.weight_decay
                sr -= lr * (a1 / corr1) / (np.sqrt(a2 / corr2) + _EPS)
                s[rows] = sr
    sparse = s if tfidf is not None else None
    return np.ascontiguousarray(w[:-1].T), w[-1].copy(), sparse
