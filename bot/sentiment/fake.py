"""`KeywordSentimentModel`: a deterministic fake for unit tests (words, not embeddings)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from bot.sentiment.types import Sentiment

_WORD = re.compile(r"[a-z']+")
NEGATIVE_WORDS = frozenset(
    {
        "angry",
        "annoyed",
        "awful",
        "bad",
        "broken",
        "disappointed",
        "furious",
        "hate",
        "joke",
        "late",
        "pathetic",
        "ridiculous",
        "terrible",
        "unacceptable",
        "useless",
        "worst",
        "wrong",
    }
)
POSITIVE_WORDS = frozenset(
    {"amazing", "awesome", "brilliant", "excellent", "great", "happy", "love", "lovely", "perfect", "thank", "thanks"}
)


class KeywordSentimentModel:
    """Negative when the text holds more negative than positive words of the lists above, and so on."""

    layer_names: tuple[str, ...] = ()

    def __init__(self, strength: float = 0.9) -> None:
        self.strength = strength

    def predict(self, text: str, embedding: np.ndarray, layers: Mapping[str, np.ndarray] | None = None) -> Sentiment:
        words = _WORD.findall(text.lower())
        balance = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
        rest = 1.0 - self.strength
        if balance < 0:
            return Sentiment("negative", -self.strength, (self.strength, rest, 0.0))
        if balance > 0:
            return Sentiment("positive", self.strength, (0.0, rest, self.strength))
        return Sentiment.neutral()
