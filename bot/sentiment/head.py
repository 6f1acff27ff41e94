"""`LinearSentimentHead`: a multinomial logistic regression over [text features, embedding, layer features].

The input of one message is its text features (`bot.sentiment.features`, times `text_scale`) beside its
sentence embedding and, optionally, layer features of the same encoder pass (each L2-normalised, so every
block weighs the same whatever its raw scale). Fitting uses scikit-learn with balanced class weights, which
raises macro-averaged recall (the official TweetEval metric: every class counts the same, however rare)
over the plain fit. Prediction is one small matrix product in numpy; the weights are saved as a compact
`.npz`. Class offsets tuned by cross-validation on top were tried and dropped: they gained on the folds and
lost on held-out data (docs/sentiment.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import ModelError
from bot.sentiment.types import LABELS

HEAD_FORMAT = "sentiment-head-1"
Layers = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class HeadConfig:
    """Options of the head. c: inverse regularisation strength of the logistic regression; text_scale:
    weight of the text-feature block against the unit-length embedding; layer_names: layer features of the
    same encoder pass to use beside the embedding (`bot.encoding.layer_features`); folds: cross-validation
    folds for the cross-validated figure of the training report (0 = none)."""

    c: float = 0.5
    text_scale: float = 1.0
    layer_names: tuple[str, ...] = ("mean_layer4",)
    folds: int = 5
    seed: int = 0


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit: np.ndarray = x / np.maximum(norms, 1e-12)
    return unit


def head_input(
    text_features: np.ndarray, embeddings: np.ndarray, layers: Layers | None, config: HeadConfig
) -> np.ndarray:
    """The (n, d) input rows of the head."""
    blocks = [np.asarray(text_features, dtype=np.float32).reshape(len(text_features), -1) * config.text_scale]
    blocks.append(_unit_rows(embeddings))
    for name in config.layer_names:
        if layers is None or name not in layers:
            raise ModelError(
                f"the sentiment head uses the layer feature {name!r} but it was not given: encode the message with "
                "the layer features of SentimentModel.layer_names in the same pass and pass them to predict()"
            )
        blocks.append(_unit_rows(layers[name]))
    return np.hstack(blocks)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def macro_recall(y: np.ndarray, predicted: np.ndarray, n_classes: int = len(LABELS)) -> float:
    """Mean over classes of the share of that class's rows predicted right (classes absent from `y` skipped)."""
    recalls = [float(np.mean(predicted[y == k] == k)) for k in range(n_classes) if np.any(y == k)]
    return float(np.mean(recalls)) if recalls else 0.0


@dataclass(frozen=True, eq=False)
class LinearSentimentHead:
    """weights (3, d) and bias (3,) of the logits."""

    config: HeadConfig
    weights: np.ndarray
    bias: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = x @ self.weights.T + self.bias
        return out

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to 1)."""
        return softmax(self.logits(x))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "head.npz", weights=self.weights, bias=self.bias)
        meta = {
            "format": HEAD_FORMAT,
            "labels": list(LABELS),
            "c": self.config.c,
            "text_scale": self.config.text_scale,
            "layer_names": list(self.config.layer_names),
            "folds": self.config.folds,
            "seed": self.config.seed,
        }
        (directory / "head.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path) -> LinearSentimentHead:
        try:
            meta = json.loads((directory / "head.json").read_text())
            if meta.get("format") != HEAD_FORMAT or tuple(meta.get("labels", ())) != LABELS:
                raise ValueError(f"format {meta.get('format')!r}, expected {HEAD_FORMAT!r}")
            with np.load(directory / "head.npz") as arrays:
                weights, bias = arrays["weights"], arrays["bias"]
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(
                f"the sentiment head in {directory} cannot be loaded ({e}) — run `supportbot train --force`"
            ) from e
        config = HeadConfig(
            c=float(meta["c"]),
            text_scale=float(meta["text_scale"]),
            layer_names=tuple(meta["layer_names"]),
            folds=int(meta["folds"]),
            seed=int(meta["seed"]),
        )
        return cls(config, weights.astype(np.float32), bias.astype(np.float32))


def _fit_lr(
    x: np.ndarray, y: np.ndarray, config: HeadConfig, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=config.c, max_iter=3000, class_weight="balanced")
    model.fit(x, y, sample_weight=sample_weight)
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # scikit-learn gives one row for two classes: the same softmax as +-half
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    weights = np.zeros((len(LABELS), x.shape[1]), dtype=np.float32)
    bias = np.full(len(LABELS), -1e4, dtype=np.float32)  # a class without training examples is never predicted
    for row, k in enumerate(model.classes_):
        weights[int(k)] = coef[row]
        bias[int(k)] = intercept[row]
    return weights, bias


def fit_head(
    x: np.ndarray, y: np.ndarray, config: HeadConfig, sample_weight: np.ndarray | None = None
) -> tuple[LinearSentimentHead, dict[str, float]]:
    """Fit the head on input rows `x` (`head_input`) and labels `y` (indices into LABELS), each row weighing
    `sample_weight` (default 1). Returns the head and a report (the cross-validated macro recall when
    `config.folds` > 1 and every class has that many examples)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise ValueError("the sentiment head needs examples of at least two labels")
    counts = np.bincount(y, minlength=len(LABELS))
    report: dict[str, float] = {"n_examples": float(len(y))}
    if config.folds > 1 and counts.min() >= config.folds:
        held = np.zeros(len(y), dtype=np.int64)
        splits = StratifiedKFold(config.folds, shuffle=True, random_state=config.seed).split(x, y)
        for train, test in splits:
            w, b = _fit_lr(x[train], y[train], config, None if sample_weight is None else sample_weight[train])
            held[test] = np.argmax(x[test] @ w.T + b, axis=1)
        report["cv_macro_recall"] = macro_recall(y, held)
    weights, bias = _fit_lr(x, y, config, sample_weight)
    return LinearSentimentHead(config, weights, bias), report
