"""The `SentimentModel` protocol: the sentiment of one message from its text and its one embedding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from bot.sentiment.types import Sentiment


@runtime_checkable
class SentimentModel(Protocol):
    """Predicts a message's sentiment from what the turn already has: never encodes the text again."""

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Layer features of the message's encoder pass that `predict` reads (`bot.encoding.layer_features`);
        the caller adds them to the message's `EncodingRequest`."""
        ...

    def predict(self, text: str, embedding: np.ndarray, layers: Mapping[str, np.ndarray] | None = None) -> Sentiment:
        """`embedding`: the message's sentence embedding; `layers`: its layer features `layer_names`, each a
        vector or a (1, width) row."""
        ...
