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

from bot import intent_names
from bot.encoding import DEFAULT_LAYER_FEATURES, Encoded, parse_layer_feature
from bot.nlu._classifier_head import Head, HeadParams, Layers, fit_head, layer_array
from bot.nlu._classifier_threshold import bagged_threshold, fit_abstention, held_out_splits, top_gap

DEFAULT_OOS_LABELS = intent_names.OUT_OF_SCOPE_LABELS
FALLBACK_OOS_WEIGHT = 0.05
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
        None: on validation data, each held-out example counts once (the threshold maximises
        plain accuracy with oos as a class, so the data's own oos share is the weight); without
        validation data the held-out negatives are the generic corpus, whose size says nothing
        about traffic, and FALLBACK_OOS_WEIGHT (one message in 21 off-topic) is used.
    max_in_scope_rejection: without any out-of-scope examples to fit on, the threshold
        rejects at most this share of held-out in-scope examples.
    use_tfidf: use TF-IDF word (1-2) and char (2-5) n-grams beside the embedding.
    joint_tfidf: train the n-gram weights jointly with the head (default); False: add
        0.3 x a naive Bayes over the n-grams instead (half the training time, less recall).
    layer_features: pooled hidden states of the encoder's same forward pass used beside the
        embedding (`bot.encoding.layer_features`; used when the encoder can give them, () = embedding only).
    select_layer_features: train one head per subset of layer_features (the embedding alone
        included) and keep the one with the best held-out top-1 accuracy (val, else held-out
        folds); False: use all of layer_features.
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
    oos_weight: float | None = None
    max_in_scope_rejection: float = 0.02
    use_tfidf: bool = True
    joint_tfidf: bool = True
    layer_features: tuple[str, ...] = DEFAULT_LAYER_FEATURES
    select_layer_features: bool = True
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
    knn_vote: float = 0.2
    threshold_bootstrap: int = 201

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_in_scope_rejection < 1.0:
            raise ValueError(
                f"max_in_scope_rejection must be in [0, 1), got {self.max_in_scope_rejection}: "
                "use e.g. 0.02 to reject at most 2% of in-scope messages"
            )
        if self.oos_weight is not None and self.oos_weight < 0.0:
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

        `layers` are the configured layer features of the texts (`bot.encoding.layer_features`); without
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
        in_idx = np.flatnonzero(~is_oos)

        def train(rows: np.ndarray, use: tuple[str, ...]) -> Head:
            return fit_head(
                x[rows],
                list(txt[rows]),
                y[rows],
                neg.vectors,
                replace(cfg.head_params(), layers=use),
                cfg.seed,
                {n: lay[n][rows] for n in use},
                (neg.vectors, {n: neg.layers[n] for n in use}),
            )

        def scores(head: Head, rows: np.ndarray) -> dict[str, np.ndarray]:
            return head.raw_scores(x[rows], list(txt[rows]), {n: lay[n][rows] for n in head.layer_names})

        def negatives_held(head: Head, which: Encoded, which_texts: list[str]) -> dict[str, np.ndarray]:
            return head.raw_scores(which.vectors, which_texts, which.layers, in_negatives=True)

        # 1. held-out predictions (val, else held-out folds) for choosing the layer features, calibration
        #    and thresholds; the candidates are the subsets of the configured layer features
        candidates = _subsets(names) if cfg.select_layer_features else [names]
        choice: dict[tuple[str, ...], float] = {}
        if val is not None:
            vx = _check_inputs(val[0], val[1], "val")
            vy = np.asarray([str(label) for label in val[2]])
            if len(vy) != vx.shape[0]:
                raise ValueError(
                    f"val has {vx.shape[0]} embeddings but {len(vy)} labels: pass one label per embedding row"
                )
            v_oos = np.isin(vy, list(out_of_scope_labels))
            v_lay = _select(val_layers, names)
            tried: dict[tuple[str, ...], tuple[Head, dict[str, np.ndarray]]] = {}
            for use in candidates:
                head = train(in_idx, use)
                tried[use] = (head, head.raw_scores(vx, list(val[1]), {n: v_lay[n] for n in use}))
                choice[use] = _top1(head.labels, tried[use][1], vy, ~v_oos)
            use = _best(choice)
            head, held = tried[use]
            held_y = np.where(v_oos, "", vy)
            held_is_oos = v_oos
            if len(own_neg) and cfg.outlier_exposure == 0:
                # the head never trained on the data's own out-of-scope examples: more held-out oos
                held = _concat_scores([held, negatives_held(head, own_neg.only(use), neg_t[: len(own_neg)])])
                held_y = np.concatenate([held_y, np.full(len(own_neg), "")])
                held_is_oos = np.concatenate([held_is_oos, np.ones(len(own_neg), dtype=bool)])
            source = "val"
        else:
            splits = held_out_splits(y[in_idx], cfg.seed)
            fold_scores: dict[tuple[str, ...], list[dict[str, np.ndarray]]] = {}
            for use in candidates:
                fold_scores[use] = [scores(train(in_idx[tr], use), in_idx[te]) for tr, te in splits]
                if splits:
                    held_in = y[in_idx[np.concatenate([te for _, te in splits])]]
                    labels_in = tuple(sorted(set(y[in_idx].tolist())))  # every fold trains on every intent
                    choice[use] = _top1(
                        labels_in, _concat_scores(fold_scores[use]), held_in, np.ones(len(held_in), bool)
                    )
            use = _best(choice) if choice else candidates[-1]
            head = train(in_idx, use)
            if splits:
                held = _concat_scores(fold_scores[use])
                held_y = y[in_idx[np.concatenate([te for _, te in splits])]]
                held_is_oos = np.zeros(len(held_y), dtype=bool)
                if len(neg) and cfg.outlier_exposure == 0:
                    # the head never trained on the negatives: they are held-out oos
                    held = _concat_scores([held, negatives_held(head, neg.only(use), neg_t)])
                    held_y = np.concatenate([held_y, np.full(len(neg), "")])
                    held_is_oos = np.concatenate([held_is_oos, np.ones(len(neg), dtype=bool)])
            else:
                held = None
            source = "cross-validation" if held is not None else "defaults"
        # 2. calibration (temperature) and OOS-score normalisation on held-out in-scope
        report: dict[str, float] = {}
        if held is not None and (~held_is_oos).any():
            weight = cfg.oos_weight
            if weight is None:
                n_in, n_oos = int((~held_is_oos).sum()), int(held_is_oos.sum())
                weight = n_oos / n_in if source == "val" else FALLBACK_OOS_WEIGHT
            report["oos_weight"] = weight
            head.calibrate(held, held_y, held_is_oos)
            probs, oos = head.finish(held)
            pred = np.asarray(head.labels)[probs.argmax(1)]
            correct = (pred == held_y) & ~held_is_oos
            threshold, margin, fit_report = fit_abstention(
                probs,
                oos,
                correct,
                held_is_oos,
                oos_weight=weight,
                max_in_scope_rejection=cfg.max_in_scope_rejection,
                fixed_threshold=cfg.threshold,
                fixed_margin=cfg.ambiguity_margin,
            )
            if cfg.threshold_bootstrap > 0 and held_is_oos.any() and cfg.threshold is None:
                threshold = bagged_threshold(
                    oos, correct, held_is_oos, top_gap(probs) < margin, weight, cfg.threshold_bootstrap, cfg.seed
                )
                rejected = (oos < threshold) | (top_gap(probs) < margin)
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
                "n_layer_features": float(len(head.layer_names)),
                **{f"heldout_top1_{'+'.join(u) or 'embedding'}": a for u, a in choice.items()},
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


def _subsets(names: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every subset of `names`, fewest features first (the embedding alone first)."""
    from itertools import combinations

    return [c for k in range(len(names) + 1) for c in combinations(names, k)]


def _top1(labels: Sequence[str], held: dict[str, np.ndarray], truth: np.ndarray, mask: np.ndarray) -> float:
    """Share of the rows in `mask` whose highest logit is their true intent."""
    if not mask.any():
        return 0.0
    predicted = np.asarray(labels)[held["logits"][mask].argmax(1)]
    return float((predicted == truth[mask]).mean())


def _best(choice: dict[tuple[str, ...], float]) -> tuple[str, ...]:
    """The most accurate candidate; on a tie, the one with fewer features (listed first)."""
    return max(choice, key=lambda use: (choice[use], -len(use)))


def _select(layers: Layers | None, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The layer features `names` as float32 arrays; a clear error for a missing one."""
    return {name: layer_array(layers, name) for name in names}


def _concat_scores(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
