"""`EmbeddingIntentClassifier`: intents ranked on frozen sentence embeddings, with out-of-scope abstention.

It takes the embedding the encoder already computed for a message (the same one FAQ retrieval
uses) and returns every intent ranked by a calibrated probability, plus an out-of-scope score and an
abstain flag with Rasa's ``nlu_fallback`` semantics. Nothing here loads the encoder: embeddings come in.

Training is four steps: check the examples; collect the negatives (the data's own out-of-scope
examples and the generic corpus); train the head on the layer features that do best on held-out
data (`heldout`); fit the calibration and the abstention on those held-out predictions
(`abstention`). Thresholds are fitted on ``val`` when given, otherwise on held-out folds of the
training data. Labels named in ``out_of_scope_labels`` are explicit out-of-scope examples and are
used as negatives, never as an intent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from bot import intent_names
from bot.nlu.classifier.abstention import fit_thresholds
from bot.nlu.classifier.config import FALLBACK_OOS_WEIGHT, ClassifierConfig
from bot.nlu.classifier.corpus import Embed
from bot.nlu.classifier.examples import Examples, Negatives, check_embeddings
from bot.nlu.classifier.head import Head, Layers
from bot.nlu.classifier.heldout import HeadTrainer, Selection, candidates, select_on_folds, select_on_validation

DEFAULT_OOS_LABELS = intent_names.OUT_OF_SCOPE_LABELS
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

    @property
    def head(self) -> Head | None:
        """The trained head (None before `fit` or `load`): its raw scores, for experiments."""
        return self._head

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
        cfg = self.config
        names = cfg.layer_features if layers is not None else ()
        data = Examples.check("training data", embeddings, texts, labels, layers, names, out_of_scope_labels)
        _require_two_intents(data)
        if names and val is not None and val_layers is None:
            raise ValueError("layers were given for the training data but not for val: pass val_layers too")
        trainer = HeadTrainer(data, Negatives.collect(data, cfg, embed), cfg)
        tried = candidates(names, cfg.select_layer_features)
        if val is not None:
            held_val = Examples.check("val", *val, val_layers, names, out_of_scope_labels)
            selection = select_on_validation(trainer, held_val, tried)
        else:
            selection = select_on_folds(trainer, tried)
        threshold, margin, report = self._fit_abstention(selection)
        head = self._head = selection.head
        self._threshold, self._margin = float(threshold), float(margin)
        report.update(
            {
                "threshold": self._threshold,
                "ambiguity_margin": self._margin,
                "n_intents": float(len(head.labels)),
                "n_negatives": float(len(trainer.negatives)),
                "n_layer_features": float(len(head.layer_names)),
                **{f"heldout_top1_{'+'.join(u) or 'embedding'}": a for u, a in selection.choice.items()},
                "fitted_on_val": float(selection.source == "val"),
                "fitted_on_defaults": float(selection.source == "defaults"),
                "temperature": head.temperature,
                "train_seconds": time.perf_counter() - start,
            }
        )
        return report

    def _fit_abstention(self, selection: Selection) -> tuple[float, float, dict[str, float]]:
        """Calibrate the head on its held-out scores, then fit (threshold, margin); the config's
        values (or no abstention) without held-out in-scope examples."""
        cfg, head, held = self.config, selection.head, selection.held
        if held is None or not (~held.is_oos).any():
            threshold = cfg.threshold if cfg.threshold is not None else -np.inf
            margin = cfg.ambiguity_margin if cfg.ambiguity_margin is not None else 0.0
            return threshold, margin, {}
        weight = cfg.oos_weight
        if weight is None:
            n_in, n_oos = int((~held.is_oos).sum()), int(held.is_oos.sum())
            weight = n_oos / n_in if selection.source == "val" else FALLBACK_OOS_WEIGHT
        head.calibrate(held.scores, held.labels, held.is_oos)
        probs, oos = head.finish(held.scores)
        correct = (np.asarray(head.labels)[probs.argmax(1)] == held.labels) & ~held.is_oos
        threshold, margin, fitted = fit_thresholds(probs, oos, correct, held.is_oos, weight, cfg)
        return threshold, margin, {"oos_weight": weight, **fitted}

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
        x = check_embeddings(embeddings, texts, "predict input")
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
        """Load a classifier written by `save` (options that no longer exist are ignored)."""
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
        clf._head = Head.load(directory, config)
        clf._threshold = float(state["threshold"])
        clf._margin = float(state["ambiguity_margin"])
        return clf


def _require_two_intents(data: Examples) -> None:
    intents = data.intents()
    if len(intents) < 2:
        raise ValueError(
            f"an intent classifier needs at least 2 intents with examples, got {len(intents)} "
            f"({', '.join(intents) or 'none'}): add examples for another intent, or "
            "route every message to the single intent without a classifier"
        )
