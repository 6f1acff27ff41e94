"""`FakeEncoder`: a deterministic hashing encoder for unit tests: no model, no I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from bot.encoding.layer_features import check_layers
from bot.encoding.protocol import Encoded, ProgressCallback

_TOKEN = re.compile(r"\w+", re.UNICODE)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = vectors / norms
    return normalised


class FakeEncoder:
    """Deterministic hashing encoder for unit tests: no model, no I/O.

    Texts sharing words (and character trigrams) get similar vectors, so retrieval and
    classification behave plausibly on toy data.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.calls: list[int] = []

    @property
    def fingerprint(self) -> str:
        return f"fake:{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    n_layers = 6

    def _vector(self, text: str, salt: str = "") -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float32)
        words = _TOKEN.findall(text.lower())
        features = list(words)
        for word in words:
            padded = f"#{word}#"
            features.extend(padded[i : i + 3] for i in range(len(padded) - 2))
        for feature in features or [text]:
            h = int.from_bytes(hashlib.blake2b((salt + feature).encode(), digest_size=8).digest(), "big")
            sign = 1.0 if (h >> 63) & 1 else -1.0
            weight = 2.0 if feature in words else 1.0
            vector[h % self._dim] += sign * weight
        return vector

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        self.calls.append(len(texts))
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = _normalise(np.vstack([self._vector(t) for t in texts]))
        if progress:
            progress(len(texts))
        return vectors

    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded:
        """Embeddings as `encode`; each layer feature is another hashing of the text (salted by its name)."""
        check_layers(names, self.n_layers)
        vectors = self.encode(texts, progress=progress)
        layers = {
            n: np.vstack([self._vector(t, f"{n}\x00") for t in texts])
            if texts
            else np.zeros((0, self._dim), np.float32)
            for n in names
        }
        return Encoded(vectors, layers)
