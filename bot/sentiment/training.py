"""Training and loading the sentiment head, under `.supportbot/models/sentiment-<hash>/` like the NLU model.

The training set is the repository's support messages (`intents/sentiment/support.csv`) and, when a
path is configured (`SUPPORTBOT_SENTIMENT_GENERAL_DATA`), a general corpus such as the TweetEval
validation split. The model folder is keyed by a hash of both sets, the head's options and the encoder,
so unchanged data is never retrained; `current-sentiment` points at the last good model, which keeps
serving when training fails. Texts are encoded through the caller's (cached) encoder, with the layer
features the head reads, in the same pass as the embeddings.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot import model_store
from bot.encoding import Encoder, ProgressCallback, encode_with_layers, layer_names_for
from bot.errors import ModelError, NotTrainedError
from bot.sentiment.data import SentimentExample, examples_fingerprint
from bot.sentiment.features import VaderScorer, text_features
from bot.sentiment.head import HeadConfig, LinearSentimentHead, fit_head, head_input
from bot.sentiment.model import LexiconEmbeddingSentimentModel
from bot.sentiment.types import LABELS

SENTIMENT_FORMAT = "sentiment-1"
POINTER = "current-sentiment"
PREFIX = "sentiment-"


@dataclass(frozen=True)
class SentimentTrainingConfig:
    """head: the head's options; support_weight: how much one support message weighs against one message
    of the general corpus (there are fewer of them, and they are the domain the bot serves)."""

    head: HeadConfig = field(default_factory=HeadConfig)
    support_weight: float = 2.0


@dataclass(frozen=True)
class SentimentTrainResult:
    path: Path
    fingerprint: str
    trained: bool  # False when an up-to-date model already existed
    seconds: float
    report: Mapping[str, float]


def sentiment_fingerprint(
    support: Sequence[SentimentExample],
    general: Sequence[SentimentExample],
    config: SentimentTrainingConfig,
    encoder: Encoder,
) -> str:
    payload = {
        "format": SENTIMENT_FORMAT,
        "support": examples_fingerprint(support),
        "general": examples_fingerprint(general) if general else "",
        "config": json.dumps(asdict(config), sort_keys=True, default=str),
        "encoder": encoder.fingerprint,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def train_sentiment(
    support: Sequence[SentimentExample],
    encoder: Encoder,
    models_dir: Path,
    *,
    general: Sequence[SentimentExample] = (),
    config: SentimentTrainingConfig | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    store: Path | None = None,
) -> SentimentTrainResult:
    """Train (or reuse) the head for these examples; the new model becomes current only on success. With a
    `store` (`bot.model_store`), a head trained elsewhere from the same examples is copied, not trained."""
    config = config or SentimentTrainingConfig()
    start = time.perf_counter()
    fingerprint = sentiment_fingerprint(support, general, config, encoder)
    target = models_dir / f"{PREFIX}{fingerprint[:16]}"
    if not force and model_store.fetch(store, models_dir, target.name):
        _point_current(models_dir, target)
        saved = json.loads((target / "meta.json").read_text())
        return SentimentTrainResult(target, fingerprint, False, time.perf_counter() - start, saved.get("report", {}))
    examples = [*general, *support]
    if len({e.label for e in examples}) < 2:
        raise ModelError(
            "the sentiment training data needs messages of at least two labels — add negative, neutral and positive "
            "rows to intents/sentiment/support.csv"
        )
    names = layer_names_for(encoder, config.head.layer_names)
    head_config = replace(config.head, layer_names=names)
    texts = [e.text for e in examples]
    encoded = encode_with_layers(encoder, texts, names, progress=progress)
    x = head_input(text_features(VaderScorer(), texts), encoded.vectors, encoded.layers, head_config)
    y = np.asarray([LABELS.index(e.label) for e in examples], dtype=np.int64)
    weights = np.asarray([1.0] * len(general) + [config.support_weight] * len(support), dtype=np.float64)
    head, report = fit_head(x, y, head_config, sample_weight=weights)
    report = {**report, "n_support": float(len(support)), "n_general": float(len(general))}
    tmp = models_dir / f".tmp-{PREFIX}{fingerprint[:16]}"
    if tmp.exists():
        shutil.rmtree(tmp)
    head.save(tmp)
    meta: dict[str, Any] = {
        "format": SENTIMENT_FORMAT,
        "fingerprint": fingerprint,
        "encoder": encoder.fingerprint,
        "sources": sorted({e.source for e in examples}),
        "trained_at": time.time(),
        "report": report,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    _point_current(models_dir, target)
    model_store.publish(store, target)
    return SentimentTrainResult(target, fingerprint, True, time.perf_counter() - start, report)


def _point_current(models_dir: Path, target: Path) -> None:
    tmp = models_dir / f".{POINTER}.tmp"
    tmp.write_text(target.name)
    tmp.replace(models_dir / POINTER)


def find_sentiment_model(models_dir: Path, fingerprint: str | None = None) -> Path:
    """The model for this fingerprint if trained, else the last good (`current-sentiment`) one."""
    if fingerprint:
        exact = models_dir / f"{PREFIX}{fingerprint[:16]}"
        if (exact / "meta.json").exists():
            return exact
    pointer = models_dir / POINTER
    if pointer.exists():
        path = models_dir / pointer.read_text().strip()
        if (path / "meta.json").exists():
            return path
    raise NotTrainedError(f"no trained sentiment model in {models_dir} — run `supportbot train` first")


def load_sentiment_model(path: Path, encoder: Encoder | None = None) -> LexiconEmbeddingSentimentModel:
    """The model saved in `path`; with `encoder`, checks it was trained on that encoder's embeddings."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise ModelError(
            f"the sentiment model in {path} cannot be loaded ({e}) — run `supportbot train --force`"
        ) from e
    if encoder is not None and meta.get("encoder") != encoder.fingerprint:
        raise ModelError(
            f"the sentiment model in {path} was trained with another encoder — run `supportbot train` to train it "
            "for the configured model"
        )
    return LexiconEmbeddingSentimentModel(LinearSentimentHead.load(path))
