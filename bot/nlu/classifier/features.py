"""Cheap text features beside the embedding: TF-IDF word (1-2) and char_wb (2-5) n-grams."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_FILE = "tfidf.joblib"


class TfidfFeatures:
    """Word and character n-gram TF-IDF, each block L2-normalised, the row scaled to norm 1.

    sklearn fits the vocabulary and the idf; `transform` is hand-written (the vectorizers'
    own analyzers, one dict lookup per n-gram, sublinear tf x idf, L2 per block) because
    sklearn's transform spends ~0.7 ms per call on validation and sparse bookkeeping, more
    than the rest of a prediction. It matches sklearn's output to float32 rounding.
    """

    def __init__(self, vectorizers: list[Any]) -> None:
        self.vectorizers = vectorizers
        self._blocks: list[tuple[Callable[[str], list[str]], dict[str, int], list[float]]] = []
        offset = 0
        for v in vectorizers:
            vocab = {str(term): offset + int(i) for term, i in v.vocabulary_.items()}
            idf = [0.0] * offset + [float(w) for w in v.idf_]
            self._blocks.append((v.build_analyzer(), vocab, idf))
            offset += len(vocab)
        self._scale = 1.0 / math.sqrt(max(len(vectorizers), 1))

    @property
    def width(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers)

    @classmethod
    def fit(cls, texts: Sequence[str], char_min_df: int) -> TfidfFeatures:
        return cls.fit_transform(texts, char_min_df)[0]

    @classmethod
    def fit_transform(cls, texts: Sequence[str], char_min_df: int) -> tuple[TfidfFeatures, Any]:
        """The fitted features and the CSR matrix of `texts` (analysed once, not twice)."""
        import scipy.sparse as sp
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
        blocks = []
        for vec in (word, char):
            try:
                blocks.append(vec.fit_transform(list(texts)))
            except ValueError:  # empty vocabulary (e.g. texts are all blank): skip the block
                continue
            fitted.append(vec)
        features = cls(fitted)
        if not blocks:
            return features, features.transform(texts)
        m = sp.hstack(blocks, format="csr", dtype=np.float32)
        m.data *= np.float32(features._scale)
        return features, m

    def row(self, text: str) -> tuple[list[int], list[float]]:
        """The non-zero columns of one text and their values (unsorted)."""
        cols: list[int] = []
        vals: list[float] = []
        for analyze, vocab, idf in self._blocks:
            counts = Counter(j for j in map(vocab.get, analyze(text)) if j is not None)
            if not counts:
                continue
            w = [(1.0 + math.log(c)) * idf[j] for j, c in counts.items()]
            scale = self._scale / math.sqrt(sum(v * v for v in w))
            cols.extend(counts)
            vals.extend(v * scale for v in w)
        return cols, vals

    def transform(self, texts: Sequence[str]) -> Any:
        """A float32 CSR matrix (len(texts), width)."""
        import scipy.sparse as sp

        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        for text in texts:
            c, v = self.row(text)
            cols.extend(c)
            vals.extend(v)
            indptr.append(len(cols))
        m = sp.csr_matrix(
            (np.asarray(vals, dtype=np.float32), np.asarray(cols, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
            shape=(len(texts), max(self.width, 1)),
        )
        m.sort_indices()
        return m

    def save(self, directory: Path) -> None:
        import joblib

        joblib.dump(self.vectorizers, directory / _FILE)

    @classmethod
    def load(cls, directory: Path) -> TfidfFeatures:
        import joblib

        return cls(list(joblib.load(directory / _FILE)))
