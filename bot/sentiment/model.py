"""`LexiconEmbeddingSentimentModel`: VADER and surface cues beside the message's embedding, one linear head.

    text ──► VADER neg/neu/pos/compound + shouting, !!/??, emoji, length ─┐
    embedding (+ layer features of the same encoder pass) ───────────────┴─► LinearSentimentHead ─► Sentiment

No second encoder pass: the embedding (and `mean_layer4`, which the intent classifier already asks the
encoder for by default) come with the turn. Cost per message: VADER (~0.3 ms) and one (3 x ~780) product.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bot.sentiment.features import VaderScorer, text_features
from bot.sentiment.head import LinearSentimentHead, head_input
from bot.sentiment.types import LABELS, Sentiment


class LexiconEmbeddingSentimentModel:
    """The real `SentimentModel`."""

    def __init__(self, head: LinearSentimentHead, vader: VaderScorer | None = None) -> None:
        self.head = head
        self.vader = vader or VaderScorer()

    @property
    def layer_names(self) -> tuple[str, ...]:
        return self.head.config.layer_names

    def warm_up(self) -> None:
        """Load VADER's lexicon now, so the first customer does not wait."""
        self.vader.warm_up()

    def probabilities(
        self, texts: list[str], embeddings: np.ndarray, layers: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """(n, 3) class probabilities in `LABELS` order, for texts with their embeddings (rows alike)."""
        x = head_input(text_features(self.vader, texts), embeddings, layers, self.head.config)
        return self.head.probabilities(x)

    def predict(self, text: str, embedding: np.ndarray, layers: Mapping[str, np.ndarray] | None = None) -> Sentiment:
        rows = {k: np.asarray(v).reshape(1, -1) for k, v in (layers or {}).items()}
        p = self.probabilities([text], np.asarray(embedding).reshape(1, -1), rows)[0]
        return to_sentiment(p)


def to_sentiment(p: np.ndarray) -> Sentiment:
    """The `Sentiment` of one probability row (already offset: the arg-max is the label)."""
    probs = (float(p[0]), float(p[1]), float(p[2]))
    return Sentiment(LABELS[int(np.argmax(p))], probs[2] - probs[0], probs)
