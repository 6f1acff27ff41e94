"""The trained head: a softmax-linear layer over [embedding, layer features, TF-IDF n-grams] and
the out-of-scope signals, with its calibration.

The dense input is [embedding_scale x embedding, each layer feature centred on its training mean,
L2-normalised, x layer_weight]; the TF-IDF block's weights are trained jointly (`training`).
Prediction is pure numpy. `RawScores` are the logits and raw signals of some messages; `finish`
turns them into ranking probabilities and the OOS score with the fitted `Calibration`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.nlu.classifier.config import ClassifierConfig
from bot.nlu.classifier.features import TfidfFeatures
from bot.nlu.classifier.signals import (
    Mahalanobis,
    NeighbourBank,
    ZScores,
    energy,
    fit_z,
    negative_dissimilarity,
    oos_score,
)
from bot.nlu.classifier.training import softmax, train_softmax

Layers = Mapping[str, np.ndarray]
_META_FILE = "head.json"
_ARRAY = "head_{}.npy"  # the head's arrays, one file each (names below)
_LAYER_MEAN = "layer_mean_"  # array prefix: the training mean of a layer feature
_REMOVED_NAIVE_BAYES = "nb_logp"  # an array of models trained with the naive Bayes text head


@dataclass(frozen=True)
class Calibration:
    """The softmax temperature and each OOS signal's (mean, sd) on held-out in-scope examples."""

    temperature: float = 1.0
    z: ZScores = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class RawScores:
    """Logits and raw OOS signals of some messages, row i = message i. `signals` keeps the order in
    which the OOS score sums them; `vote` is the kNN neighbours' intent distribution (or None)."""

    logits: np.ndarray
    signals: dict[str, np.ndarray]
    vote: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.logits.shape[0])

    def rows(self, mask: np.ndarray) -> RawScores:
        vote = self.vote[mask] if self.vote is not None else None
        return RawScores(self.logits[mask], {k: v[mask] for k, v in self.signals.items()}, vote)

    @staticmethod
    def concat(parts: Sequence[RawScores]) -> RawScores:
        """Rows of `parts` one after another (all scored by heads of the same configuration)."""
        first = parts[0]
        vote = np.concatenate([p.vote for p in parts if p.vote is not None]) if first.vote is not None else None
        return RawScores(
            np.concatenate([p.logits for p in parts]),
            {k: np.concatenate([p.signals[k] for p in parts]) for k in first.signals},
            vote,
        )


@dataclass(frozen=True, eq=False)
class LinearWeights:
    """The softmax-linear layer: logits = dense_input @ dense.T + bias [+ TF-IDF row @ sparse]."""

    dense: np.ndarray  # (n_intents, dense width)
    bias: np.ndarray  # (n_intents,)
    sparse: np.ndarray | None  # (TF-IDF width, n_intents)
    centres: dict[str, np.ndarray]  # the training mean of each layer feature of the dense input


def layer_array(layers: Layers | None, name: str) -> np.ndarray:
    """Layer feature `name` as float32; a clear error naming the fix when it was not given."""
    if layers is None or name not in layers:
        raise ValueError(
            f"the classifier uses the layer feature {name!r} but it was not given: encode the texts with "
            "encode_with_layers(encoder, texts, classifier.layer_names) and pass layers=encoded.layers"
        )
    return np.asarray(layers[name], dtype=np.float32)


def dense_input(
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


@dataclass(eq=False)
class Head:
    """What `fit_head` trains and `EmbeddingIntentClassifier` saves: the intents, the layer features
    the dense input uses, the weights, the OOS signals' state and the calibration."""

    labels: tuple[str, ...]
    config: ClassifierConfig
    layer_names: tuple[str, ...]
    weights: LinearWeights
    features: TfidfFeatures | None
    mahalanobis: Mahalanobis
    neighbours: NeighbourBank | None  # the kNN signal (config.knn_k > 0)
    negatives: np.ndarray | None  # the negative bank (config.negative_k > 0 and negatives given)
    calibration: Calibration = field(default_factory=Calibration)

    @property
    def temperature(self) -> float:
        return self.calibration.temperature

    def dense_input(self, x: np.ndarray, layers: Layers | None) -> np.ndarray:
        cfg = self.config
        return dense_input(x, layers, self.layer_names, self.weights.centres, cfg.embedding_scale, cfg.layer_weight)

    def raw_scores(
        self, x: np.ndarray, texts: Sequence[str], layers: Layers | None = None, *, in_negatives: bool = False
    ) -> RawScores:
        """Logits and raw OOS signals. `in_negatives`: the rows are themselves in the negative bank
        (held-out scoring while fitting), so each one's own copy there is skipped."""
        cfg, w = self.config, self.weights
        logits = self.dense_input(x, layers) @ w.dense.T + w.bias
        if self.features is not None:
            logits = logits + self._text_logits(texts)
        signals = {"maha": self.mahalanobis.score(x)}
        if cfg.oos_energy:
            signals["energy"] = energy(logits)
        vote = None
        if self.neighbours is not None:
            vote_temp = cfg.knn_vote_temp if cfg.knn_vote > 0 else 0.0
            signals["knn"], vote = self.neighbours.similarity(x, logits, cfg.knn_k, cfg.knn_classes, vote_temp)
        if self.negatives is not None:
            signals["negatives"] = negative_dissimilarity(x, self.negatives, cfg.negative_k, in_negatives)
        return RawScores(logits.astype(np.float32), signals, vote)

    def _text_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Logits of the TF-IDF block: per text, a weighted sum of the rows of its n-grams."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        sparse = self.weights.sparse
        if self.features is None or sparse is None:
            return out
        for i, text in enumerate(texts):
            cols, vals = self.features.row(text)
            if cols:
                out[i] += np.asarray(vals, dtype=np.float32) @ sparse[cols]
        return out

    def softmax(self, logits: np.ndarray) -> np.ndarray:
        """Softmax of the logits / temperature."""
        return softmax(logits / self.temperature)

    def probabilities(self, raw: RawScores, plain: np.ndarray | None = None) -> np.ndarray:
        """The softmax (`plain`, when already computed), blended with the kNN vote when enabled: the
        intent ranking."""
        probs = self.softmax(raw.logits) if plain is None else plain
        if raw.vote is not None:
            lam = self.config.knn_vote
            probs = (1.0 - lam) * probs + lam * raw.vote
        return probs

    def finish(self, raw: RawScores) -> tuple[np.ndarray, np.ndarray]:
        """Ranking probabilities and the OOS score (sum of z-normalised signals). The max-probability
        signal comes from the plain softmax: the kNN vote sharpens the ranking but blurs abstention."""
        plain = self.softmax(raw.logits)
        probs = self.probabilities(raw, plain)
        return probs, oos_score({"maxprob": plain.max(1), **raw.signals}, self.calibration.z)

    def calibrate(self, held: RawScores, held_y: np.ndarray, held_is_oos: np.ndarray) -> None:
        """Fit the temperature (NLL on held-out in-scope) and the z-normalisation of signals."""
        ins = ~held_is_oos & np.isin(held_y, self.labels)
        if not ins.any():
            return
        idx = np.searchsorted(np.asarray(self.labels), held_y[ins])
        self.calibration = Calibration(fit_temperature(held.logits[ins], idx))
        probs = self.softmax(held.logits[ins])
        self.calibration = Calibration(
            self.calibration.temperature,
            fit_z({"maxprob": probs.max(1), **{k: v[ins] for k, v in held.signals.items()}}),
        )

    def save(self, directory: Path) -> None:
        """The arrays as head_*.npy, the state as head.json (the options are the classifier's config.json)."""
        for name, array in self._arrays().items():
            np.save(directory / _ARRAY.format(name), array, allow_pickle=False)
        meta = {
            "labels": list(self.labels),
            "tfidf": self.features is not None,
            "layers": list(self.layer_names),
            "temperature": self.calibration.temperature,
            "z": {name: list(stats) for name, stats in self.calibration.z.items()},
        }
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if self.features is not None:
            self.features.save(directory)

    def _arrays(self) -> dict[str, np.ndarray]:
        w = self.weights
        arrays = {
            "dense": w.dense,
            "bias": w.bias,
            "whiten": self.mahalanobis.whiten,
            "means_w": self.mahalanobis.means_w,
        }
        if w.sparse is not None:
            arrays["sparse"] = w.sparse
        arrays.update({_LAYER_MEAN + name: centre for name, centre in w.centres.items()})
        if self.negatives is not None:
            arrays["negatives"] = self.negatives
        if self.neighbours is not None:
            arrays["bank"], arrays["bank_start"] = self.neighbours.vectors, self.neighbours.start
        return arrays

    @classmethod
    def load(cls, directory: Path, config: ClassifierConfig) -> Head:
        """A head written by `save` (or by the versions before the typed head: same files, extra keys
        in head.json are ignored) for the classifier options `config`."""
        if (directory / _ARRAY.format(_REMOVED_NAIVE_BAYES)).exists():
            raise ValueError(
                f"{directory} holds a model with the naive Bayes text head, which was removed: "
                "retrain it with `supportbot train --force`"
            )
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        names = tuple(meta.get("layers", ()))

        def array(name: str) -> np.ndarray:
            return np.asarray(np.load(directory / _ARRAY.format(name), allow_pickle=False))

        def optional(name: str) -> np.ndarray | None:
            return array(name) if (directory / _ARRAY.format(name)).exists() else None

        sparse = optional("sparse")
        weights = LinearWeights(array("dense"), array("bias"), sparse, {n: array(_LAYER_MEAN + n) for n in names})
        bank = optional("bank")
        return cls(
            labels=tuple(meta["labels"]),
            config=config,
            layer_names=names,
            weights=weights,
            features=TfidfFeatures.load(directory) if meta["tfidf"] else None,
            mahalanobis=Mahalanobis(array("whiten"), array("means_w")),
            neighbours=NeighbourBank(bank, array("bank_start")) if bank is not None else None,
            negatives=optional("negatives"),
            calibration=Calibration(
                float(meta["temperature"]), {k: (float(a), float(b)) for k, (a, b) in meta["z"].items()}
            ),
        )


def fit_head(
    x: np.ndarray,
    texts: Sequence[str],
    y: np.ndarray,
    negatives: np.ndarray,
    config: ClassifierConfig,
    layer_names: tuple[str, ...] = (),
    layers: Layers | None = None,
) -> Head:
    """Train the head on in-scope examples `x` (unit embeddings), their texts, intents `y` and layer
    features `layer_names` (from `layers`). `negatives` (unit embeddings of known out-of-scope
    messages) form the negative bank. Uncalibrated: see `Head.calibrate`."""
    labels = tuple(sorted(set(y.tolist())))
    idx = np.searchsorted(np.asarray(labels), y)
    features, m = TfidfFeatures.fit_transform(texts, config.char_min_df) if config.use_tfidf else (None, None)
    if features is None or not features.vectorizers:
        features = m = None
    centres = {n: layer_array(layers, n).mean(0).astype(np.float32) for n in layer_names}
    dense_x = dense_input(x, layers, layer_names, centres, config.embedding_scale, config.layer_weight)
    dense, bias, sparse = train_softmax(dense_x, idx, len(labels), config, m)
    use_negatives = config.negative_k > 0 and len(negatives) > 0
    return Head(
        labels=labels,
        config=config,
        layer_names=layer_names,
        weights=LinearWeights(dense, bias, sparse, centres),
        features=features,
        mahalanobis=Mahalanobis.fit(x, idx, len(labels), config.shrinkage),
        neighbours=NeighbourBank.build(x, idx, len(labels)) if config.knn_k > 0 else None,
        negatives=np.ascontiguousarray(negatives, dtype=np.float32) if use_negatives else None,
    )
