"""Cheap text features beside the embedding: TF-IDF word (1-2) and char_wb (2-5) n-grams."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_FILE = "tfidf.joblib"


class TfidfFeatures:
    """Word and character n-gram TF-IDF, each block L2-normalised, the row scaled to norm 1."""

    def __init__(self, vectorizers: list[Any]) -> None:
        self.vectorizers = vectorizers

    @property
    def width(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers)

    @classmethod
    def fit(cls, texts: Sequence[str], char_min_df: int) -> TfidfFeatures:
        from sklearn.feature_extraction.text import TfidfVectorizer

        word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            min_df=char_min_df,
            dtype=np.float32,
        )
        fitted = []
        for vec in (word, char):
            try:
                vec.fit(list(texts))
            except ValueError:  # empty vocabulary (e.g. texts are all blank): skip the block
                continue
            fitted.append(vec)
        return cls(fitted)

    def transform(self, texts: Sequence[str]) -> Any:
        """A float32 CSR matrix (len(texts), width)."""
        import scipy.sparse as sp

        if not self.vectorizers or not texts:
            return sp.csr_matrix((len(texts), max(self.width, 1)), dtype=np.float32)
        blocks = [v.transform(list(texts)) for v in self.vectorizers]
        m = sp.hstack(blocks, format="csr", dtype=np.float32)
        m.data *= np.float32(1.0 / np.sqrt(len(blocks)))
        return m

    def save(self, directory: Path) -> None:
        import joblib

        joblib.dump(self.vectorizers, directory / _FILE)

    @classmethod
    def load(cls, directory: Path) -> TfidfFeatures:
        import joblib

        return cls(list(joblib.load(directory / _FILE)))
