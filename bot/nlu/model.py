"""The trained NLU model: intent classifier + entity pipeline, persisted under `.supportbot/models/`
keyed by a hash of data, settings and encoder, so unchanged data is never retrained."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot import model_store
from bot.encoding import Encoded, Encoder, ProgressCallback, encode_with_layers, layer_names_for
from bot.errors import ModelError, NotTrainedError, TrainingDataError
from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier, IntentPrediction
from bot.nlu.entities import EntityPipeline
from bot.nlu.language import LanguageDetector
from bot.nlu.training_data import TrainingData
from bot.types import FALLBACK_INTENT, Entity, IntentScore, Parse

MODEL_FORMAT = "nlu-1"
CURRENT_POINTER = "current"
_RASA_INTENT_PAYLOAD = "/"


@dataclass(frozen=True)
class TrainResult:
    path: Path
    fingerprint: str
    trained: bool  # False when an up-to-date model already existed
    seconds: float
    report: Mapping[str, Any]


def model_fingerprint(
    data: TrainingData, extra: Mapping[str, Sequence[str]], config: ClassifierConfig, encoder: Encoder
) -> str:
    payload = {
        "format": MODEL_FORMAT,
        "data": data.fingerprint(),
        "extra": {k: sorted(v) for k, v in sorted(extra.items())},
        "config": repr(config),
        "encoder": encoder.fingerprint,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def training_set(data: TrainingData, extra: Mapping[str, Sequence[str]]) -> tuple[list[str], list[str]]:
    """(texts, labels); an extra example that repeats a real intent's example is left out."""
    texts = [e.text for e in data.examples]
    labels = [e.intent for e in data.examples]
    known = {t.strip().lower() for t in texts}
    for intent, examples in sorted(extra.items()):
        for text in examples:
            key = text.strip().lower()
            if key and key not in known:
                known.add(key)
                texts.append(text.strip())
                labels.append(intent)
    return texts, labels


def train_nlu(
    data: TrainingData,
    encoder: Encoder,
    models_dir: Path,
    *,
    config: ClassifierConfig,
    extra: Mapping[str, Sequence[str]] | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    on_stage: Callable[[str], None] | None = None,
    store: Path | None = None,
) -> TrainResult:
    """Train (or reuse) the model for this data; the new model becomes `current` only on success. With a
    `store` (`bot.model_store`), a model trained elsewhere from the same data is copied instead of trained,
    and a model trained here is published there."""
    extra = extra or {}
    start = time.perf_counter()
    fingerprint = model_fingerprint(data, extra, config, encoder)
    target = models_dir / f"nlu-{fingerprint[:16]}"
    if not force and model_store.fetch(store, models_dir, target.name):
        _point_current(models_dir, target)
        meta = json.loads((target / "meta.json").read_text())
        return TrainResult(target, fingerprint, False, time.perf_counter() - start, meta.get("report", {}))
    texts, labels = training_set(data, extra)
    if len(set(labels)) < 2:
        raise TrainingDataError([])  # validation reports the details before we get here
    if on_stage:
        on_stage("encoding")
    # layer features come from the same pass as the embeddings, when the encoder can give them
    names = layer_names_for(encoder, config.layer_features)
    encoded = encode_with_layers(encoder, texts, names, progress=progress)
    if on_stage:
        on_stage("training")
    classifier = EmbeddingIntentClassifier(config)

    def embed(more: Sequence[str]) -> Encoded:
        return encode_with_layers(encoder, list(more), names)

    report = classifier.fit(encoded.vectors, texts, labels, layers=encoded.layers if names else None, embed=embed)
    tmp = models_dir / f".tmp-{fingerprint[:16]}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    classifier.save(tmp / "classifier")
    meta = {
        "format": MODEL_FORMAT,
        "fingerprint": fingerprint,
        "encoder": encoder.fingerprint,
        "intents": sorted(set(labels)),
        "n_examples": len(texts),
        "trained_at": time.time(),
        "report": {k: float(v) for k, v in report.items()},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    _point_current(models_dir, target)
    model_store.publish(store, target)
    return TrainResult(target, fingerprint, True, time.perf_counter() - start, meta["report"])


def _point_current(models_dir: Path, target: Path) -> None:
    pointer = models_dir / CURRENT_POINTER
    tmp = models_dir / f".{CURRENT_POINTER}.tmp"
    tmp.write_text(target.name)
    tmp.replace(pointer)


def find_model(models_dir: Path, fingerprint: str | None = None) -> Path:
    """The model for this fingerprint if trained, else the last good (`current`) one."""
    if fingerprint:
        exact = models_dir / f"nlu-{fingerprint[:16]}"
        if (exact / "meta.json").exists():
            return exact
    pointer = models_dir / CURRENT_POINTER
    if pointer.exists():
        path = models_dir / pointer.read_text().strip()
        if (path / "meta.json").exists():
            return path
    raise NotTrainedError(f"no trained model in {models_dir} — run `supportbot train` first")


class NluModel:
    """Parses one message from its text and its (already computed) embedding."""

    def __init__(
        self,
        classifier: EmbeddingIntentClassifier,
        entities: EntityPipeline,
        meta: Mapping[str, Any],
        language: LanguageDetector | None = None,
    ):
        self.classifier = classifier
        self.entities = entities
        self.meta = dict(meta)
        self.language = language

    @classmethod
    def load(cls, path: Path, entities: EntityPipeline, language: LanguageDetector | None = None) -> NluModel:
        try:
            meta = json.loads((path / "meta.json").read_text())
            classifier = EmbeddingIntentClassifier.load(path / "classifier")
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"the model in {path} cannot be loaded ({e}) — run `supportbot train --force`") from e
        return cls(classifier, entities, meta, language)

    @property
    def intents(self) -> list[str]:
        return list(self.classifier.labels)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layer features (`bot.encoding.layer_features`) to encode a message with for `parse`."""
        return self.classifier.layer_names

    def parse(self, text: str, embedding: np.ndarray, layers: Mapping[str, np.ndarray] | None = None) -> Parse:
        """`layers`: the message's layer features `layer_names`, each a vector or a (1, width) row."""
        rows = {k: np.asarray(v).reshape(1, -1) for k, v in (layers or {}).items()}
        prediction = self.classifier.predict(embedding.reshape(1, -1), [text], rows)[0]
        return self.to_parse(text, prediction)

    def to_parse(self, text: str, prediction: IntentPrediction) -> Parse:
        entities = tuple(self.entities.extract(text))
        detected = self.language.detect(_without_entities(text, entities)) if self.language is not None else None
        language = detected[0] if detected else None
        ranking = tuple(IntentScore(name, float(conf)) for name, conf in prediction.ranking[:10])
        if prediction.abstain:
            report = self.meta.get("report", {})
            threshold = float(report.get("threshold", 0.0))
            margin = float(report.get("ambiguity_margin", 0.0))
            top = ranking[0].confidence if ranking else 0.0
            gap = top - (ranking[1].confidence if len(ranking) > 1 else 0.0)
            reason = "ambiguous" if gap < margin and prediction.oos_score >= threshold else "out_of_scope"
            # Rasa reports the threshold as the fallback's confidence; ours may be on a score scale
            confidence = threshold if 0.0 <= threshold <= 1.0 else top
            fallback = IntentScore(FALLBACK_INTENT, confidence)
            return Parse(
                text,
                fallback,
                entities,
                (fallback, *ranking),
                abstained=True,
                fallback_reason=reason,
                language=language,
            )
        return Parse(text, ranking[0], entities, ranking, language=language)


def _without_entities(text: str, entities: Sequence[Entity]) -> str:
    """The text with its entities' spans blanked (order numbers, emails, addresses carry no language)."""
    chars = list(text)
    for entity in entities:
        chars[entity.start : entity.end] = " " * (entity.end - entity.start)
    return "".join(chars)


def parse_intent_payload(text: str, known_intents: Sequence[str]) -> Parse | None:
    """`/intent` or `/intent{"entity": "value"}` bypasses NLU with confidence 1.0, as in Rasa."""

    if not text.startswith(_RASA_INTENT_PAYLOAD):
        return None
    body = text[1:].strip()
    name, brace, rest = body.partition("{")
    name = name.strip()
    if not name or name not in known_intents:
        return None
    entities: list[Entity] = []
    if brace:
        try:
            values = json.loads("{" + rest)
        except json.JSONDecodeError:
            values = {}
        if isinstance(values, dict):
            for key, value in values.items():
                entities.append(Entity(str(key), value, 0, 0, "payload", str(value)))
    score = IntentScore(name, 1.0)
    return Parse(text, score, tuple(entities), (score,))
