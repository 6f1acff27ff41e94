"""Intent classification on frozen sentence embeddings, with out-of-scope abstention.

`EmbeddingIntentClassifier` takes the embedding the encoder already computed for a
message (the same one FAQ retrieval uses) and returns every intent ranked by a
calibrated probability, plus an out-of-scope score and an abstain flag with Rasa's
``nlu_fallback`` semantics. Nothing here loads the encoder: embeddings come in.

Thresholds are fitted on labelled examples: on ``val`` when given, otherwise on
held-out folds of the training data. Labels named in ``out_of_scope_labels`` are
explicit out-of-scope examples and are used as negatives, never as an intent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from bot.layer_features import DEFAULT_LAYER_FEATURES, Encoded, parse_layer_feature
from bot.nlu._classifier_head import Head, HeadParams, Layers, fit_head
from bot.nlu._classifier_threshold import fit_abstention, held_out_splits

DEFAULT_OOS_LABELS = frozenset({"out_of_scope", "oos"})
Embed = Callable[[Sequence[str]], Encoded]
_CONFIG_FILE = "config.json"
_STATE_FILE = "state.json"


@dataclass(frozen=True)
class IntentPrediction:
    """One message's intents, best first, and whether the bot should fall back."""

    ranking: tuple[tuple[str, float], ...]
    abstain: bool
    oos_score: float

    @property
    def intent(self) -> str:
        return self.ranking[0][0]

    @property
    def confidence(self) -> float:
        return self.ranking[0][1]


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyperparameters of `EmbeddingIntentClassifier`; every field has a default.

    threshold: abstain when the OOS score is below it (None = fitted).
    ambiguity_margin: abstain when top1 - top2 probability is below it (None = fitted).
    oos_weight: when fitting the threshold, one point of oos recall is worth this many
        points of in-scope accuracy (= expected oos share / in-scope share of traffic).
    max_in_scope_rejection: without any out-of-scope examples to fit on, the threshold
        rejects at most this share of held-out in-scope examples.
    use_tfidf: use TF-IDF word (1-2) and char (2-5) n-grams beside the embedding.
    joint_tfidf: train the n-gram weights jointly with the head (default); False: add
        0.3 x a naive Bayes over the n-grams instead (half the training time, less recall).
    layer_features: pooled hidden states of the encoder's same forward pass used beside the
        embedding (`bot.layer_features`; used when the encoder can give them, () = embedding only).
    layer_weight: each layer feature enters centred on its training mean, L2-normalised, x this.
    embedding_scale: weight of the embedding block against the TF-IDF block.
    epochs, batch_size, learning_rate, weight_decay: AdamW training of the linear head
        (epochs=10: +0.4 in-scope, -2 points of oos recall on CLINC150, twice the time).
    outlier_exposure: weight of the loss pushing negatives to a uniform distribution.
    use_generic_oos: embed the shipped generic off-topic corpus as negatives (needs `embed`);
        sentences closer than generic_oos_max_similarity to a training example are dropped.
    negative_k: add minus the mean cosine similarity to the k nearest negatives (the generic
        corpus and the training data's own out-of-scope examples) to the OOS score (0 = off).
    knn_k: add the mean cosine similarity to the k nearest training examples to the OOS
        score (keeps the training embeddings in the model; 0 = off).
    knn_classes: search those neighbours among the examples of the top knn_classes intents
        only (0 = all examples; a full scan costs ~1 ms per message on CLINC150).
    oos_energy: add the z-normalised energy (logsumexp of the logits) to the OOS score
        (helps the joint head; not the naive Bayes one, whose logits are shifted per message).
    ensemble: train this many heads (seeds seed, seed+1, ...) and average their weights: the
        head is linear, so this averages their logits at no prediction cost (training x n).
    knn_vote: blend the intents of the knn_k neighbours (the kNN signal's own neighbours,
        votes weighted by exp(cosine / 0.05)) into the ranking probabilities with this weight
        (0 = off); the OOS score keeps the plain softmax's max probability.
    threshold_bootstrap: with out-of-scope examples to fit on, the threshold is the median of
        the best thresholds of this many bootstrap resamples of the held-out data (steadier
        than the single best threshold of ~100 oos examples; 0 = the single best).
    """

    threshold: float | None = None
    ambiguity_margin: float | None = None
    seed: int = 0
    oos_weight: float = 0.05
    max_in_scope_rejection: float = 0.02
    use_tfidf: bool = True
    joint_tfidf: bool = True
    layer_features: tuple[str, ...] = DEFAULT_LAYER_FEATURES
    layer_weight: float = 1.0
    embedding_scale: float = 2.0
    epochs: int = 5
    batch_size: int = 512
    learning_rate: float = 0.03
    weight_decay: float = 1e-4
    outlier_exposure: float = 0.0
    use_generic_oos: bool = True
    generic_oos_max_similarity: float = 0.7
    negative_k: int = 1
    knn_k: int = 10
    knn_classes: int = 5
    oos_energy: bool = True
    ensemble: int = 1
    knn_vote: float = 0.0
    threshold_bootstrap: int = 201

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_in_scope_rejection < 1.0:
            raise ValueError(
                f"max_in_scope_rejection must be in [0, 1), got {self.max_in_scope_rejection}: "
                "use e.g. 0.02 to reject at most 2% of in-scope messages"
            )
        if self.oos_weight < 0.0:
            raise ValueError(f"oos_weight must be >= 0, got {self.oos_weight}")
        object.__setattr__(self, "layer_features", tuple(self.layer_features))  # a list from JSON
        for name in self.layer_features:
            parse_layer_feature(name)
        if self.negative_k < 0:
            raise ValueError(f"negative_k must be >= 0 (0 turns the negative-bank signal off), got {self.negative_k}")
        if self.knn_k < 0:
            raise ValueError(f"knn_k must be >= 0 (0 turns the kNN signal off), got {self.knn_k}")
        if not 0.0 <= self.knn_vote <= 1.0:
            raise ValueError(f"knn_vote must be in [0, 1] (a blending weight), got {self.knn_vote}")
        if self.threshold_bootstrap < 0:
            raise ValueError(f"threshold_bootstrap must be >= 0 (0 = off), got {self.threshold_bootstrap}")
        for name in ("epochs", "batch_size", "ensemble"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def head_params(self) -> HeadParams:
        return HeadParams(
            alpha=self.embedding_scale,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            outlier_exposure=self.outlier_exposure,
            tfidf=self.use_tfidf,
            joint_tfidf=self.joint_tfidf,
            knn_k=self.knn_k,
            knn_classes=self.knn_classes,
            energy=self.oos_energy,
            ensemble=self.ensemble,
            knn_vote=self.knn_vote,
            layer_weight=self.layer_weight,
            negative_k=self.negative_k,
        )


def _check_inputs(embeddings: np.ndarray, texts: Sequence[str], what: str) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(
            f"{what} embeddings must be a 2-d array (n_messages, dim), got shape {x.shape}: "
            "pass encoder.encode(texts) for a list of texts"
        )
    if len(texts) != x.shape[0]:
        raise ValueError(
            f"{what} has {x.shape[0]} embeddings but {len(texts)} texts: "
            "pass one text per embedding row, in the same order"
        )
    return x


class EmbeddingIntentClassifier:
    """A linear head plus an OOS scorer on frozen, L2-normalised sentence embeddings."""

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()
        self._head: Head | None = None
        self._threshold = -np.inf
        self._margin = 0.0

    @property
    def labels(self) -> tuple[str, ...]:
        if self._head is None:
            return ()
        return self._head.labels

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layer features `predict` needs (those the model was trained with)."""
        return self._head.layer_names if self._head is not None else ()

    def fit(
        self,
        embeddings: np.ndarray,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        layers: Layers | None = None,
        val: tuple[np.ndarray, Sequence[str], Sequence[str]] | None = None,
        val_layers: Layers | None = None,
        out_of_scope_labels: frozenset[str] = DEFAULT_OOS_LABELS,
        embed: Embed | None = None,
    ) -> dict[str, float]:
        """Train the head, then fit the abstention threshold and margin. Returns a report.

        `layers` are the configured layer features of the texts (`bot.layer_features`); without
        them the head uses the embedding only. `embed` encodes more texts (the generic negatives)
        with the same layer features.
        """
        start = time.perf_counter()
        x = _check_inputs(embeddings, texts, "training data")
        if len(labels) != x.shape[0]:
            raise ValueError(
                f"training data has {x.shape[0]} embeddings but {len(labels)} labels: pass one label per embedding row"
            )
        y = np.asarray([str(label) for label in labels])
        is_oos = np.isin(y, list(out_of_scope_labels))
        counts = Counter(y[~is_oos].tolist())
        if len(counts) < 2:
            raise ValueError(
                f"an intent classifier needs at least 2 intents with examples, got {len(counts)} "
                f"({', '.join(sorted(counts)) or 'none'}): add examples for another intent, or "
                "route every message to the single intent without a classifier"
            )
        cfg = self.config
        names = cfg.layer_features if layers is not None else ()
        if names and val is not None and val_layers is None:
            raise ValueError("layers were given for the training data but not for val: pass val_layers too")
        lay = _select(layers, names)
        txt = np.asarray(list(texts), dtype=object)
        # negatives: the data's own out-of-scope examples, then the generic corpus
        own_neg = Encoded(x[is_oos], {n: v[is_oos] for n, v in lay.items()})
        neg_t = list(txt[is_oos])
        generic = Encoded.stack([], names, x.shape[1])
        if embed is not None and cfg.use_generic_oos:
            from bot.nlu._classifier_data import generic_oos_texts

            gen_t = generic_oos_texts()
            encoded = embed(gen_t)
            # drop generic sentences that look like one of this bot's own intents
            keep = (encoded.vectors @ x[~is_oos].T).max(1) < cfg.generic_oos_max_similarity
            generic = encoded.only(names).rows(np.flatnonzero(keep))
            neg_t += [t for t, k in zip(gen_t, keep, strict=True) if k]
        neg = Encoded.stack([own_neg, generic], names, x.shape[1])
        hp = replace(cfg.head_params(), layers=names)

        def train(rows: np.ndarray) -> Head:
            return fit_head(
                x[rows],
                list(txt[rows]),
                y[rows],
                neg.vectors,
                hp,
                cfg.seed,
                {n: v[rows] for n, v in lay.items()},
                (neg.vectors, neg.layers),
            )

        def negatives_held(head: Head, which: Encoded, which_texts: list[str]) -> dict[str, np.ndarray]:
            return head.raw_scores(which.vectors, which_texts, which.layers, in_negatives=True)

        # 1. held-out predictions for calibration and thresholds
        in_idx = np.flatnonzero(~is_oos)
        if val is not None:
            vx = _check_inputs(val[0], val[1], "val")
            vy = np.asarray([str(label) for label in val[2]])
            if len(vy) != vx.shape[0]:
                raise ValueError(
                    f"val has {vx.shape[0]} embeddings but {len(vy)} labels: pass one label per embedding row"
                )
            v_oos = np.isin(vy, list(out_of_scope_labels))
            head = train(in_idx)
            held = head.raw_scores(vx, list(val[1]), _select(val_layers, names))
            held_y = np.where(v_oos, "", vy)
            held_is_oos = v_oos
            if len(own_neg) and cfg.outlier_exposure == 0:
                # the head never trained on the data's own out-of-scope examples: more held-out oos
                held = _concat_scores([held, negatives_held(head, own_neg, neg_t[: len(own_neg)])])
                held_y = np.concatenate([held_y, np.full(len(own_neg), "")])
                held_is_oos = np.concatenate([held_is_oos, np.ones(len(own_neg), dtype=bool)])
            source = "val"
        else:
            parts_scores = []
            parts_y = []
            for tr_idx, te_idx in held_out_splits(y[in_idx], cfg.seed):
                h = train(in_idx[tr_idx])
                rows = in_idx[te_idx]
                parts_scores.append(h.raw_scores(x[rows], list(txt[rows]), {n: v[rows] for n, v in lay.items()}))
                parts_y.append(y[rows])
            head = train(in_idx)
            if parts_scores:
                held = _concat_scores(parts_scores)
                held_y = np.concatenate(parts_y)
                held_is_oos = np.zeros(len(held_y), dtype=bool)
                if len(neg) and cfg.outlier_exposure == 0:
                    # the head never trained on the negatives: they are held-out oos
                    held = _concat_scores([held, negatives_held(head, neg, neg_t)])
                    held_y = np.concatenate([held_y, np.full(len(neg), "")])
                    held_is_oos = np.concatenate([held_is_oos, np.ones(len(neg), dtype=bool)])
            else:
                held = None
            source = "cross-validation" if held is not None else "defaults"
        # 2. calibration (temperature) and OOS-score normalisation on held-out in-scope
        report: dict[str, float] = {}
        if held is not None and (~held_is_oos).any():
            head.calibrate(held, held_y, held_is_oos)
            probs, oos = head.finish(held)
            pred = np.asarray(head.labels)[probs.argmax(1)]
            correct = (pred == held_y) & ~held_is_oos
            threshold, margin, fit_report = fit_abstention(
                probs,
                oos,
                correct,
                held_is_oos,
                oos_weight=cfg.oos_weight,
                max_in_scope_rejection=cfg.max_in_scope_rejection,
                fixed_threshold=cfg.threshold,
                fixed_margin=cfg.ambiguity_margin,
            )
            if cfg.threshold_bootstrap > 0 and held_is_oos.any() and cfg.threshold is None:
                threshold = bagged_threshold(
                    oos, correct, held_is_oos, _gap(probs) < margin, cfg.oos_weight, cfg.threshold_bootstrap, cfg.seed
                )
                rejected = (oos < threshold) | (_gap(probs) < margin)
                fit_report = {
                    "heldout_in_scope_acc": float((correct & ~rejected)[~held_is_oos].mean()),
                    "heldout_oos_recall": float(rejected[held_is_oos].mean()),
                }
            report.update(fit_report)
        else:
            threshold = cfg.threshold if cfg.threshold is not None else -np.inf
            margin = cfg.ambiguity_margin if cfg.ambiguity_margin is not None else 0.0
        self._head = head
        self._threshold = float(threshold)
        self._margin = float(margin)
        report.update(
            {
                "threshold": self._threshold,
                "ambiguity_margin": self._margin,
                "n_intents": float(len(head.labels)),
                "n_negatives": float(len(neg)),
                "n_layer_features": float(len(names)),
                "fitted_on_val": float(source == "val"),
                "fitted_on_defaults": float(source == "defaults"),
                "temperature": head.temperature,
                "train_seconds": time.perf_counter() - start,
            }
        )
        return report

    def predict(
        self, embeddings: np.ndarray, texts: Sequence[str], layers: Layers | None = None
    ) -> list[IntentPrediction]:
        """Rank every intent for each message and decide whether to fall back. `layers`: the
        messages' layer features `layer_names` (from the pass that gave `embeddings`)."""
        if self._head is None:
            raise ValueError(
                "EmbeddingIntentClassifier.predict was called before fit: call fit(...) or "
                "EmbeddingIntentClassifier.load(directory) first"
            )
        x = _check_inputs(embeddings, texts, "predict input")
        probs, oos = self._head.finish(self._head.raw_scores(x, texts, layers))
        labels = self._head.labels
        order = np.argsort(-probs, axis=1, kind="stable")
        out = []
        for i in range(x.shape[0]):
            ranking = tuple((labels[j], float(probs[i, j])) for j in order[i])
            gap = ranking[0][1] - (ranking[1][1] if len(ranking) > 1 else 0.0)
            abstain = bool(oos[i] < self._threshold or gap < self._margin)
            out.append(IntentPrediction(ranking, abstain, float(oos[i])))
        return out

    def save(self, directory: Path) -> None:
        """Write plain .npy/.json files into `directory` (created if missing)."""
        if self._head is None:
            raise ValueError("cannot save an untrained EmbeddingIntentClassifier: call fit first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2), encoding="utf-8")
        state = {"threshold": self._threshold, "ambiguity_margin": self._margin}
        (directory / _STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
        self._head.save(directory)

    @classmethod
    def load(cls, directory: Path) -> EmbeddingIntentClassifier:
        """Load a classifier written by `save`."""
        directory = Path(directory)
        cfg_path = directory / _CONFIG_FILE
        if not cfg_path.exists():
            raise ValueError(
                f"{cfg_path} is missing: {directory} is not a saved intent classifier; "
                "train one and call save(directory)"
            )
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(ClassifierConfig)}
        config = ClassifierConfig(**{k: v for k, v in raw.items() if k in known})
        state = json.loads((directory / _STATE_FILE).read_text(encoding="utf-8"))
        clf = cls(config)
        clf._head = Head.load(directory)
        clf._threshold = float(state["threshold"])
        clf._margin = float(state["ambiguity_margin"])
        return clf


def _select(layers: Layers | None, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The layer features `names` as float32 arrays; a clear error for a missing one."""
    out = {}
    for name in names:
        if layers is None or name not in layers:
            raise ValueError(
                f"the layer feature {name!r} is missing: encode with "
                f"encode_with_layers(encoder, texts, {list(names)!r}) and pass its .layers"
            )
        out[name] = np.asarray(layers[name], dtype=np.float32)
    return out


def _gap(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability (1 with a single intent)."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top2 = np.sort(probs, axis=1)[:, -2:]
    return np.asarray(top2[:, 1] - top2[:, 0])


def bagged_threshold(
    score: np.ndarray,
    correct: np.ndarray,
    is_oos: np.ndarray,
    ambiguous: np.ndarray,
    oos_weight: float,
    n_boot: int,
    seed: int,
) -> float:
    """Median over bootstrap resamples (in-scope and oos resampled separately) of the threshold
    maximising in-scope accuracy + oos_weight * oos recall; same candidate grid as
    `fit_abstention` (-inf and the 0-60% quantiles of the scores).

    Examples are rejected when score < threshold or they are ambiguous (fixed margin).
    """
    rng = np.random.default_rng(seed)
    cand = np.concatenate([[-np.inf], np.unique(np.quantile(score, np.linspace(0.0, 0.6, 301)))])
    # per example: the first candidate index that rejects it (score < cand[j] for j >= pos)
    pos = np.searchsorted(cand, score, side="right")
    n_c = len(cand)
    kept_ok = correct & ~ambiguous & ~is_oos  # counted while not rejected by the threshold
    oos_amb = is_oos & ambiguous  # rejected whatever the threshold
    oos_free = is_oos & ~ambiguous  # rejected once the threshold passes its score
    ins, oos = np.flatnonzero(~is_oos), np.flatnonzero(is_oos)
    picks = []
    for _ in range(n_boot):
        r = np.concatenate([rng.choice(ins, len(ins)), rng.choice(oos, len(oos))])
        w = np.bincount(r, minlength=len(score)).astype(np.float64)
        # accuracy at candidate j: kept_ok examples with pos > j (not yet rejected)
        acc_hist = np.bincount(pos, weights=w * kept_ok, minlength=n_c + 1)
        acc = acc_hist[::-1].cumsum()[::-1][1:] / len(ins)
        rec_hist = np.bincount(pos, weights=w * oos_free, minlength=n_c + 1)
        rec = (rec_hist.cumsum()[:n_c] + float((w * oos_amb).sum())) / len(oos)
        value = acc + oos_weight * rec
        picks.append(cand[int(np.argmax(value > value.max() - 1e-12))])
    return float(np.sort(picks)[len(picks) // 2])


def _concat_scores(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
