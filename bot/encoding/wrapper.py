"""`EncoderWrapper`: the base of encoders that wrap another one (the cache, the micro-batcher).

A wrapper changes how vectors are computed or kept, never the vectors: its fingerprint and dimension
are the inner encoder's, and `encode` is `encode_layers` without layer features.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from bot.encoding.protocol import Encoded, Encoder, ProgressCallback


class EncoderWrapper(ABC):
    """Delegates `inner`, `fingerprint` and `dim` to the wrapped encoder; subclasses give `encode_layers`."""

    def __init__(self, inner: Encoder) -> None:
        self._inner = inner

    @property
    def inner(self) -> Encoder:
        return self._inner

    @property
    def fingerprint(self) -> str:
        return self._inner.fingerprint

    @property
    def dim(self) -> int:
        return self._inner.dim

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        return self.encode_layers(texts, (), progress=progress).vectors

    @abstractmethod
    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded:
        """Embeddings and the layer features `names` (`bot.encoding.layer_features`) of `texts`."""
