"""The trainable part of the intent classifier and its OOS signals.

A softmax-linear head over [embedding, layer features, TF-IDF word + char n-grams], trained
in numpy (`_classifier_train`); prediction is pure numpy. Beside it a shared-covariance
Mahalanobis scorer on the embedding, the mean cosine similarity to the k nearest training
examples, and the similarity to the nearest known out-of-scope examples (the negative bank).
The OOS score is the sum of the z-normalised max probability, energy, negative Mahalanobis
distance, kNN similarity and negative-bank dissimilarity (z fitted on held-out in-scope examples).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.nlu._classifier_features import TfidfFeatures
from bot.nlu._classifier_train import train_softmax

_ARRAY_PREFIX = "head_"
_META_FILE = "head.json"
_NOT_SIGNALS = ("logits", "vote")  # raw scores that are not OOS signals
_LAYER_MEAN = "layer_mean_"  # array prefix: the training mean of a layer feature
Layers = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class HeadParams:
    alpha: float = 2.0
    epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 0.03
    weight_decay: float = 1e-4
    outlier_exposure: float = 0.0
    tfidf: bool = True  # a naive Bayes on TF-IDF n-grams added to the embedding logits
    joint_tfidf: bool = False  # train TF-IDF weights jointly instead of naive Bayes
    nb_alpha: float = 0.03
    nb_weight: float = 0.3
    char_min_df: int = 2
    min_steps: int = 150
    shrinkage: float = 0.1
    knn_k: int = 10  # 0: no kNN signal in the OOS score
    knn_classes: int = 5  # search neighbours among the top intents only (0: all examples)
    energy: bool = False  # add the energy (logsumexp of the logits) to the OOS score
    ensemble: int = 1  # heads trained with seeds seed..seed+ensemble-1, weights averaged
    knn_vote: float = 0.0  # weight of the kNN label vote blended into the probabilities
    knn_vote_temp: float = 0.05  # a neighbour's vote is exp(cosine / temp)
    layers: tuple[str, ...] = ()  # layer features beside the embedding in the dense block
    layer_weight: float = 1.0  # each layer feature, centred and L2-normalised, times this
    negative_k: int = 1  # OOS signal: mean cosine to the k nearest negatives (0 = off)


class Head:
    """Trained weights, text features, calibration and the Mahalanobis scorer."""

    def __init__(
        self,
        labels: tuple[str, ...],
        arrays: dict[str, np.ndarray],
        features: TfidfFeatures | None,
        meta: dict[str, Any],
    ) -> None:
        self.labels = labels
        self.arrays = arrays
        self.features = features
        self.meta = meta

    @property
    def temperature(self) -> float:
        return float(self.meta["temperature"])

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.meta.get("layers", ()))

    def dense_input(self, x: np.ndarray, layers: Layers | None) -> np.ndarray:
        """[alpha x embedding, each layer feature centred on the training mean, L2-normalised, x weight]."""
        return _dense_input(
            x,
            layers,
            self.layer_names,
            {n: self.arrays[_LAYER_MEAN + n] for n in self.layer_names},
            float(self.meta["alpha"]),
            float(self.meta.get("layer_weight", 1.0)),
        )

    def raw_scores(
        self, x: np.ndarray, texts: Sequence[str], layers: Layers | None = None, *, in_negatives: bool = False
    ) -> dict[str, np.ndarray]:
        """Logits and raw OOS signals. `in_negatives`: the rows are themselves in the negative bank
        (held-out scoring while fitting), so each one's own copy there is skipped."""
        a = self.arrays
        logits = self.dense_input(x, layers) @ a["dense"].T + a["bias"]
        if self.features is not None:
            logits = logits + self._text_logits(texts)
        z = x @ a["whiten"]
        means = a["means_w"]
        d2 = (z * z).sum(1)[:, None] - 2.0 * z @ means.T + (means * means).sum(1)[None, :]
        raw = {"logits": logits.astype(np.float32), "maha": -d2.min(1).astype(np.float32)}
        if self.meta.get("energy"):
            top = logits.max(1, keepdims=True)
            raw["energy"] = (top[:, 0] + np.log(np.exp(logits - top).sum(1))).astype(np.float32)
        if "bank" in a:
            vote_temp = float(self.meta.get("knn_vote_temp", 0.05)) if self.meta.get("knn_vote") else 0.0
            raw["knn"], vote = _knn_similarity(
                x,
                a["bank"],
                a["bank_start"],
                logits,
                int(self.meta["knn_k"]),
                int(self.meta["knn_classes"]),
                vote_temp,
            )
            if vote is not None:
                raw["vote"] = vote
        if "negatives" in a:
            raw["negatives"] = _negative_dissimilarity(x, a["negatives"], int(self.meta["negative_k"]), in_negatives)
        return raw

    def _text_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Logits of the TF-IDF block: per text, a weighted sum of the rows of its n-grams."""
        a = self.arrays
        parts: list[tuple[np.ndarray, np.ndarray | None, float]] = []
        if "sparse" in a:
            parts.append((a["sparse"], None, 1.0))
        if "nb_logp" in a:
            parts.append((a["nb_logp"], a["nb_prior"], float(self.meta["nb_weight"])))
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if self.features is None:
            return out
        for i, text in enumerate(texts):
            cols, vals = self.features.row(text)
            v = np.asarray(vals, dtype=np.float32)
            for weights, prior, scale in parts:
                s = v @ weights[cols] if cols else np.zeros(len(self.labels), dtype=np.float32)
                if prior is not None:
                    s = s + prior
                    s = s - s.max()
                out[i] += scale * s
        return out

    def softmax(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """Softmax of the logits / temperature."""
        lg = raw["logits"] / self.temperature
        lg = lg - lg.max(1, keepdims=True)
        e = np.exp(lg)
        return np.asarray(e / e.sum(1, keepdims=True))

    def probabilities(self, raw: dict[str, np.ndarray], plain: np.ndarray | None = None) -> np.ndarray:
        """The softmax (`plain`, when already computed), blended with the kNN vote when enabled: the
        intent ranking."""
        probs = self.softmax(raw) if plain is None else plain
        if "vote" in raw:
            lam = float(self.meta["knn_vote"])
            probs = (1.0 - lam) * probs + lam * raw["vote"]
        return probs

    def finish(self, raw: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Ranking probabilities and the OOS score (sum of z-normalised signals). The max-probability
        signal comes from the plain softmax: the kNN vote sharpens the ranking but blurs abstention."""
        plain = self.softmax(raw)
        probs = self.probabilities(raw, plain)
        signals = {"maxprob": plain.max(1), **{k: v for k, v in raw.items() if k not in _NOT_SIGNALS}}
        z = self.meta["z"]
        score = np.zeros(len(probs))
        for name, v in signals.items():
            mu, sd = z.get(name, (0.0, 1.0))
            score += (v - mu) / sd
        return probs, score

    def calibrate(self, held: dict[str, np.ndarray], held_y: np.ndarray, held_is_oos: np.ndarray) -> None:
        """Fit the temperature (NLL on held-out in-scope) and the z-normalisation of signals."""
        ins = ~held_is_oos & np.isin(held_y, self.labels)
        if not ins.any():
            return
        idx = np.searchsorted(np.asarray(self.labels), held_y[ins])
        self.meta["temperature"] = fit_temperature(held["logits"][ins], idx)
        probs = self.softmax({k: v[ins] for k, v in held.items()})
        signals = {"maxprob": probs.max(1), **{k: v[ins] for k, v in held.items() if k not in _NOT_SIGNALS}}
        self.meta["z"] = {name: (float(v.mean()), float(max(v.std(), 1e-6))) for name, v in signals.items()}

    def save(self, directory: Path) -> None:
        for name, array in self.arrays.items():
            np.save(directory / f"{_ARRAY_PREFIX}{name}.npy", array, allow_pickle=False)
        meta = dict(self.meta, labels=list(self.labels), tfidf=self.features is not None)
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if self.features is not None:
            self.features.save(directory)

    @classmethod
    def load(cls, directory: Path) -> Head:
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        labels = tuple(meta.pop("labels"))
        features = TfidfFeatures.load(directory) if meta.pop("tfidf") else None
        arrays = {
            p.stem[len(_ARRAY_PREFIX) :]: np.load(p, allow_pickle=False)
            for p in sorted(directory.glob(f"{_ARRAY_PREFIX}*.npy"))
        }
        return cls(labels, arrays, features, meta)


def fit_head(
    x: np.ndarray,
    texts: Sequence[str],
    y: np.ndarray,
    negatives: np.ndarray,
    params: HeadParams,
    seed: int,
    layers: Layers | None = None,
    oe: tuple[np.ndarray, Layers | None] | None = None,
) -> Head:
    """Train the head on in-scope examples. `negatives` (unit embeddings of known out-of-scope
    messages) form the negative bank; `oe` (their embeddings and layer features) feeds outlier
    exposure when params.outlier_exposure > 0."""
    labels = tuple(sorted(set(y.tolist())))
    idx = np.searchsorted(np.asarray(labels), y)
    features, m = TfidfFeatures.fit_transform(texts, params.char_min_df) if params.tfidf else (None, None)
    if features is None or not features.vectorizers:
        features = m = None
    names = params.layers
    centres = {n: layer_array(layers, n).mean(0).astype(np.float32) for n in names}
    dense_x = _dense_input(x, layers, names, centres, params.alpha, params.layer_weight)
    if oe is not None and params.outlier_exposure > 0:
        neg_dense = _dense_input(oe[0], oe[1], names, centres, params.alpha, params.layer_weight)
    else:
        neg_dense = np.zeros((0, dense_x.shape[1]), dtype=np.float32)
    unit = replace(params, alpha=1.0)  # the dense input is already scaled
    joint = m if params.joint_tfidf else None
    dense, bias, sparse = train_softmax(dense_x, idx, len(labels), neg_dense, unit, seed, joint)
    for k in range(1, params.ensemble):
        # a linear model: averaging the heads' weights = averaging their logits
        d, b, s = train_softmax(dense_x, idx, len(labels), neg_dense, unit, seed + k, joint)
        dense, bias = dense + d, bias + b
        sparse = sparse + s if sparse is not None and s is not None else sparse
    if params.ensemble > 1:
        dense, bias = dense / params.ensemble, bias / params.ensemble
        sparse = sparse / params.ensemble if sparse is not None else None
    means = np.stack([x[idx == c].mean(0) for c in range(len(labels))])
    whiten = _whitening(x - means[idx], params.shrinkage)
    arrays = {
        "dense": dense,
        "bias": bias,
        "whiten": whiten.astype(np.float32),
        "means_w": (means @ whiten).astype(np.float32),
    }
    if sparse is not None:
        arrays["sparse"] = sparse
    for name, centre in centres.items():
        arrays[_LAYER_MEAN + name] = centre
    meta: dict[str, Any] = {
        "temperature": 1.0,
        "z": {},
        "alpha": params.alpha,
        "energy": params.energy,
        "layers": list(names),
        "layer_weight": params.layer_weight,
    }
    if params.negative_k > 0 and len(negatives):
        arrays["negatives"] = np.ascontiguousarray(negatives, dtype=np.float32)
        meta["negative_k"] = params.negative_k
    if params.knn_k > 0:
        order = np.argsort(idx, kind="stable")
        arrays["bank"] = np.ascontiguousarray(x[order], dtype=np.float32)
        arrays["bank_start"] = np.searchsorted(idx[order], np.arange(len(labels) + 1)).astype(np.int64)
        meta["knn_k"] = params.knn_k
        meta["knn_classes"] = params.knn_classes
        if params.knn_vote > 0:
            meta["knn_vote"] = params.knn_vote
            meta["knn_vote_temp"] = params.knn_vote_temp
    if features is not None and m is not None and not params.joint_tfidf:
        arrays["nb_logp"], arrays["nb_prior"] = _naive_bayes(m, idx, len(labels), params.nb_alpha)
        meta["nb_weight"] = params.nb_weight
    return Head(labels, arrays, features, meta)


def _naive_bayes(m: Any, y: np.ndarray, n_classes: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial naive Bayes: log P(feature | class) as (width, n_classes), log priors."""
    onehot = np.zeros((len(y), n_classes), dtype=np.float64)
    onehot[np.arange(len(y)), y] = 1.0
    counts = np.asarray(m.T @ onehot) + alpha
    logp = np.log(counts) - np.log(counts.sum(0, keepdims=True))
    prior = np.log(np.maximum(onehot.sum(0), 1e-12) / len(y))
    return logp.astype(np.float32), prior.astype(np.float32)


def layer_array(layers: Layers | None, name: str) -> np.ndarray:
    """Layer feature `name` as float32; a clear error naming the fix when it was not given."""
    if layers is None or name not in layers:
        raise ValueError(
            f"the classifier uses the layer feature {name!r} but it was not given: encode the texts with "
            "encode_with_layers(encoder, texts, classifier.layer_names) and pass layers=encoded.layers"
        )
    return np.asarray(layers[name], dtype=np.float32)


def _dense_input(
    x: np.ndarray,
    layers: Layers | None,
    names: Sequence[str],
    centres: Mapping[str, np.ndarray],
    alpha: float,
    weight: float,
) -> np.ndarray:
    """[alpha x embedding, weight x normalise(layer - centre) for each layer feature] (float32)."""
    parts = [alpha * np.asarray(x, dtype=np.float32)]
    for name in names:
        f = layer_array(layers, name) - centres[name]
        if f.shape[0] != x.shape[0]:
            raise ValueError(f"layer feature {name!r} has {f.shape[0]} rows for {x.shape[0]} embeddings")
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        parts.append(weight * f / np.maximum(norms, 1e-12))
    if len(parts) == 1:
        return parts[0]
    return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def _negative_dissimilarity(x: np.ndarray, negatives: np.ndarray, k: int, skip_self: bool) -> np.ndarray:
    """Minus the mean cosine similarity of each row to its k nearest known out-of-scope messages
    (higher = less like them). With skip_self, a row's own copy in the bank (cosine ~1) is skipped."""
    sims = x @ negatives.T
    if skip_self:
        sims = np.where(sims > 0.9999, -1.0, sims)
    kk = min(k, sims.shape[1])
    near = np.partition(sims, sims.shape[1] - kk, axis=1)[:, sims.shape[1] - kk :]
    return np.asarray(-near.mean(1), dtype=np.float32)


def fit_temperature(logits: np.ndarray, idx: np.ndarray) -> float:
    """The softmax temperature (on a log grid, 0.05-20) minimising the NLL of the true labels `idx`."""
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.05), np.log(20.0), 61)):
        lg = logits / t
        lg = lg - lg.max(1, keepdims=True)
        nll = float(-(lg[np.arange(len(idx)), idx] - np.log(np.exp(lg).sum(1))).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _knn_similarity(
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
    out = np.empty(len(x), dtype=np.float32)
    n_labels = len(start) - 1
    votes = np.zeros((len(x), n_labels), dtype=np.float32) if vote_temp > 0 else None
    bank_y = np.repeat(np.arange(n_labels), np.diff(start)) if votes is not None else None
    if n_classes <= 0 or n_classes >= n_labels:
        n = bank.shape[0]
        kk = min(k, n)
        for i in range(0, len(x), 256):
            sims = x[i : i + 256] @ bank.T
            nn = np.argpartition(sims, n - kk, axis=1)[:, n - kk :]
            near = np.take_along_axis(sims, nn, axis=1)
            out[i : i + 256] = near.mean(1)
            if votes is not None and bank_y is not None:
                w = np.exp((near - near.max(1, keepdims=True)) / vote_temp)
                for j in range(len(near)):
                    np.add.at(votes[i + j], bank_y[nn[j]], w[j])
    else:
        top = np.argpartition(-logits, n_classes - 1, axis=1)[:, :n_classes]
        for i in range(len(x)):
            rows = np.concatenate([np.arange(start[c], start[c + 1]) for c in top[i]])
            sims = bank[rows] @ x[i]
            kk = min(k, len(sims))
            nn = np.argpartition(sims, len(sims) - kk)[len(sims) - kk :]
            near = sims[nn]
            out[i] = near.mean()
            if votes is not None and bank_y is not None:
                np.add.at(votes[i], bank_y[rows[nn]], np.exp((near - near.max()) / vote_temp))
    if votes is not None:
        votes /= votes.sum(1, keepdims=True)
    return out, votes


def _whitening(centered: np.ndarray, shrinkage: float) -> np.ndarray:
    """Inverse square root of the shared covariance, shrunk towards a scaled identity."""
    c = centered.astype(np.float32)
    cov = (c.T @ c).astype(np.float64) / max(len(c), 1)
    scale = float(np.trace(cov)) / len(cov)
    cov = (1.0 - shrinkage) * cov + shrinkage * scale * np.eye(len(cov))
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, max(1e-6 * float(vals.max()), 1e-8))
    return np.asarray((vecs / np.sqrt(vals)) @ vecs.T)
