"""The trainable part of the intent classifier: a linear head and the OOS scorers.

Pure numpy at prediction time; sklearn only while training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

_ARRAY_PREFIX = "head_"
_META_FILE = "head.json"


class Head:
    """Softmax-linear intent head, temperature and a shared-covariance Mahalanobis scorer."""

    def __init__(
        self,
        labels: tuple[str, ...],
        arrays: dict[str, np.ndarray],
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.labels = labels
        self.arrays = arrays
        self.meta: dict[str, Any] = meta or {"temperature": 1.0, "z": {}}

    @property
    def temperature(self) -> float:
        return float(self.meta["temperature"])

    def raw_scores(self, x: np.ndarray) -> dict[str, np.ndarray]:
        a = self.arrays
        logits = x @ a["coef"].T + a["intercept"]
        z = x @ a["whiten"]
        means = a["means_w"]
        d2 = (z * z).sum(1)[:, None] - 2.0 * z @ means.T + (means * means).sum(1)[None, :]
        return {"logits": logits.astype(np.float32), "maha": -d2.min(1).astype(np.float32)}

    def probabilities(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        lg = raw["logits"] / self.temperature
        lg = lg - lg.max(1, keepdims=True)
        e = np.exp(lg)
        return np.asarray(e / e.sum(1, keepdims=True))

    def finish(self, raw: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and the OOS score (sum of z-normalised signals)."""
        probs = self.probabilities(raw)
        signals = {"maxprob": probs.max(1), "maha": raw["maha"]}
        z = self.meta["z"]
        score = np.zeros(len(probs))
        for name, v in signals.items():
            mu, sd = z.get(name, (0.0, 1.0))
            score += (v - mu) / sd
        return probs, score

    def calibrate(
        self, held: dict[str, np.ndarray], held_y: np.ndarray, held_is_oos: np.ndarray
    ) -> None:
        """Fit the temperature (NLL on held-out in-scope) and the z-normalisation of signals."""
        ins = ~held_is_oos & np.isin(held_y, self.labels)
        logits = held["logits"][ins]
        idx = np.searchsorted(np.asarray(self.labels), held_y[ins])
        best_t, best_nll = 1.0, np.inf
        for t in np.exp(np.linspace(np.log(0.05), np.log(20.0), 61)):
            lg = logits / t
            lg = lg - lg.max(1, keepdims=True)
            nll = float(-(lg[np.arange(len(idx)), idx] - np.log(np.exp(lg).sum(1))).mean())
            if nll < best_nll:
                best_t, best_nll = float(t), nll
        self.meta["temperature"] = best_t
        probs = self.probabilities({k: v[ins] for k, v in held.items()})
        signals = {"maxprob": probs.max(1), "maha": held["maha"][ins]}
        self.meta["z"] = {
            name: (float(v.mean()), float(max(v.std(), 1e-6))) for name, v in signals.items()
        }

    def save(self, directory: Path) -> None:
        for name, array in self.arrays.items():
            np.save(directory / f"{_ARRAY_PREFIX}{name}.npy", array, allow_pickle=False)
        meta = dict(self.meta, labels=list(self.labels))
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Head:
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        labels = tuple(meta.pop("labels"))
        arrays = {
            p.stem[len(_ARRAY_PREFIX) :]: np.load(p, allow_pickle=False)
            for p in sorted(directory.glob(f"{_ARRAY_PREFIX}*.npy"))
        }
        return cls(labels, arrays, meta)


def fit_head(
    x: np.ndarray, y: np.ndarray, negatives: np.ndarray, regularization: float, seed: int
) -> Head:
    """Train the linear head and the Mahalanobis scorer on in-scope examples."""
    from sklearn.linear_model import LogisticRegression

    labels = tuple(sorted(set(y.tolist())))
    lr = LogisticRegression(C=regularization, max_iter=1000, random_state=seed)
    lr.fit(x, y)
    assert tuple(lr.classes_) == labels
    idx = np.searchsorted(np.asarray(labels), y)
    means = np.stack([x[idx == c].mean(0) for c in range(len(labels))])
    whiten = _whitening(x - means[idx])
    arrays = {
        "coef": lr.coef_.astype(np.float32),
        "intercept": lr.intercept_.astype(np.float32),
        "whiten": whiten.astype(np.float32),
        "means_w": (means @ whiten).astype(np.float32),
    }
    if len(labels) == 2:  # sklearn's binary LR has one row: make it a 2-way softmax
        c, b = arrays["coef"][0], arrays["intercept"][0]
        arrays["coef"] = np.stack([-c / 2, c / 2])
        arrays["intercept"] = np.asarray([-b / 2, b / 2], dtype=np.float32)
    _ = negatives
    return Head(labels, arrays)


def _whitening(centered: np.ndarray) -> np.ndarray:
    """Inverse square root of a shrunk (Ledoit-Wolf) shared covariance."""
    from sklearn.covariance import ledoit_wolf

    cov, _ = ledoit_wolf(centered.astype(np.float64))
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, max(1e-6 * float(vals.max()), 1e-8))
    return np.asarray((vecs / np.sqrt(vals)) @ vecs.T)
