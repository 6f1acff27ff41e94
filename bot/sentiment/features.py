"""Text features of one message beside its embedding: the VADER lexicon's scores and surface cues.

VADER (`vadersentiment`, lexicon shipped in the wheel) gives neg / neu / pos / compound. The surface cues
are what a lexicon misses in a support chat: shouting (words in capitals), repeated `!!` / `??`, emoji of
either polarity, and the length of the message. Everything here is a few dozen microseconds except VADER
itself (about 0.3 ms per message); the analyser loads its lexicon on first use, not at import.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

NEGATIVE_EMOJI = frozenset("😡😠🤬😤😒🙄😞😟😢😭😩😫☹🙁😕👎💩😑😖😣😔🤦😾")
POSITIVE_EMOJI = frozenset("😀😃😄😁😊🙂😍🥰😘🤩👍👌🙏🎉❤💕💖💙💚💛💜🧡✨🥳😎🌟⭐😇🤗")

_WORD = re.compile(r"[^\W\d_]{2,}")
_REPEATED_MARKS = re.compile(r"[!?]{2,}")

VADER_NAMES = ("vader_neg", "vader_neu", "vader_pos", "vader_compound")
SURFACE_NAMES = (
    "shouting",  # share of the message's words written in capitals (words of 3+ letters)
    "repeated_marks",  # runs of 2+ ! or ? (capped at 3, / 3)
    "exclamations",  # number of ! (capped at 5, / 5)
    "negative_emoji",
    "positive_emoji",
    "length",  # log of the number of characters, / 6
)
FEATURE_NAMES = VADER_NAMES + SURFACE_NAMES


def shouting(text: str) -> float:
    """The share of words of three letters or more written all in capitals ("WHERE IS MY ORDER" -> 1.0)."""
    words = [w for w in _WORD.findall(text) if len(w) >= 3]
    if not words:
        return 0.0
    return sum(1 for w in words if w.isupper()) / len(words)


def repeated_marks(text: str) -> int:
    """Runs of two or more `!` / `?` ("why??" "now!!!" -> 2)."""
    return len(_REPEATED_MARKS.findall(text))


def emoji_counts(text: str) -> tuple[int, int]:
    """(negative, positive) emoji in the message."""
    negative = sum(1 for ch in text if ch in NEGATIVE_EMOJI)
    positive = sum(1 for ch in text if ch in POSITIVE_EMOJI)
    return negative, positive


def surface_features(text: str) -> list[float]:
    """The `SURFACE_NAMES` values of `text`, each roughly in [0, 1]."""
    negative, positive = emoji_counts(text)
    return [
        shouting(text),
        min(repeated_marks(text), 3) / 3.0,
        min(text.count("!"), 5) / 5.0,
        float(min(negative, 3)),
        float(min(positive, 3)),
        math.log1p(len(text)) / 6.0,
    ]


class VaderScorer:
    """VADER's polarity scores; the analyser (and its lexicon file) loads on first use, once per process."""

    def __init__(self) -> None:
        self._analyzer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                    self._analyzer = SentimentIntensityAnalyzer()
        return self._analyzer

    def warm_up(self) -> None:
        self._load()

    def scores(self, text: str) -> list[float]:
        """[neg, neu, pos, compound] of `text` (compound in [-1, 1], the others in [0, 1])."""
        s = self._load().polarity_scores(text)
        return [float(s["neg"]), float(s["neu"]), float(s["pos"]), float(s["compound"])]


def text_features(vader: VaderScorer, texts: Sequence[str]) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) float32: VADER scores then surface cues, per text."""
    rows = [vader.scores(t) + surface_features(t) for t in texts]
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURE_NAMES))
