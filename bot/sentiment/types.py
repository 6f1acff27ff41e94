"""The values of the sentiment package: `Sentiment` of one message, its labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SentimentLabel = Literal["negative", "neutral", "positive"]
LABELS: tuple[SentimentLabel, ...] = ("negative", "neutral", "positive")
"""The three classes, in the order of every probability vector of this package."""


@dataclass(frozen=True)
class Sentiment:
    """The sentiment of one customer message.

    label: the most likely class after the calibrated class offsets; score: P(positive) - P(negative), in
    [-1, 1] (-1 = surely negative, 0 = neutral or undecided, 1 = surely positive); probabilities: the three
    class probabilities in `LABELS` order (they sum to 1).
    """

    label: SentimentLabel
    score: float
    probabilities: tuple[float, float, float] = (0.0, 1.0, 0.0)

    @property
    def negative(self) -> float:
        return self.probabilities[0]

    @property
    def positive(self) -> float:
        return self.probabilities[2]

    def to_json(self) -> dict[str, object]:
        """`{"label", "score"}`: the shape of `ask --json` and the Rasa-shaped parse."""
        return {"label": self.label, "score": round(self.score, 4)}

    @classmethod
    def neutral(cls) -> Sentiment:
        """What a message without words to judge gets (an empty message, a button payload)."""
        return cls("neutral", 0.0, (0.0, 1.0, 0.0))
