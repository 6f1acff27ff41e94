"""Scoring entries for a query embedding: what is embedded per entry and how the parts combine.

Each entry contributes its phrasings (question and alternates) and, when `context_weight > 0`, one
"context" text: the question followed by the answer's first sentences. For a query `q`:

    phrasing = max over phrasings of cos(q, p)            (pooling "max"; "lse" = soft maximum)
    score    = (1 - context_weight - bm25_weight) * phrasing
               + context_weight * cos(q, context) + bm25_weight * bm25(q, entry) / max over candidates bm25(q, .)

BM25 (Okapi, `Bm25Index`) indexes the phrasings (`bm25_fields="phrasings"`) or phrasings + answer.
The confidence compared with the thresholds is, by default, a logistic model over the top entry's
score, its margin over the runner-up and its phrasing, context and BM25 parts: an estimate of the
probability that the top entry is the right one (`confidence="margin"`: score + margin_weight * margin).

The weights were chosen on StackFAQ query group 1 (docs/knowledge-base.md shows the measurements).
FAISS finds the candidate entries (`candidates` nearest vectors); candidates are then scored exactly.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.faq.entry import KnowledgeEntry
from bot.faq.index import VectorIndex

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|[*_`>#|]+|<[^>]+>|\{[{%#].*?[}%#]\}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


# Logistic confidence: intercept, then weights of (score, margin, phrasing, context, lexical) of the top
# entry; fitted by `benchmarks/experiments/retrieval_confidence.py` on StackFAQ abstention group 1.
CONFIDENCE_WEIGHTS: tuple[float, ...] = (-6.224, 2.978, 7.8467, 2.444, 4.9762, -0.032)


@dataclass(frozen=True)
class ScoringConfig:
    pooling: Literal["max", "lse"] = "max"
    temperature: float = 0.05
    context_weight: float = 0.25
    bm25_weight: float = 0.04
    bm25_fields: Literal["phrasings", "phrasings+answer"] = "phrasings"
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    answer_lead_chars: int = 500
    answer_lead_sentences: int = 3
    confidence: Literal["logistic", "margin"] = "logistic"
    confidence_weights: tuple[float, ...] = CONFIDENCE_WEIGHTS
    margin_weight: float = 0.5
    related_min_score: float = 0.54
    candidates: int = 64

    def __post_init__(self) -> None:
        if not 0 <= self.context_weight + self.bm25_weight < 1:
            raise ValueError(
                "context_weight + bm25_weight must be in [0, 1). Currently, it is "
                f"{self.context_weight + self.bm25_weight}"
            )
        if self.candidates <= 0:
            raise ValueError(f"candidates must be greater than 0. Currently, candidates is {self.candidates}")
        if len(self.confidence_weights) != 6:
            raise ValueError(
                "confidence_weights must be 6 numbers (intercept, score, margin, phrasing, context, lexical). "
                f"Currently, it is {self.confidence_weights}"
            )


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def answer_lead(answer: str, max_chars: int, sentences: int = 1) -> str:
    """The first sentence(s) of an answer as plain text (links keep their text), at most `max_chars`."""
    plain = _MARKUP.sub(lambda m: m.group(1) or " ", answer)
    plain = " ".join(plain.split())
    return " ".join(_SENTENCE_END.split(plain, maxsplit=sentences)[:sentences])[:max_chars]


def entry_texts(entry: KnowledgeEntry, answer: str, config: ScoringConfig) -> list[str]:
    """The texts embedded for an entry: phrasings, then the context text if used."""
    texts = list(entry.phrasings)
    if config.context_weight > 0:
        texts.append(
            f"{entry.question} {answer_lead(answer, config.answer_lead_chars, config.answer_lead_sentences)}".strip()
        )
    return texts


def bm25_document(entry: KnowledgeEntry, answer: str, fields: str = "phrasings+answer") -> list[str]:
    """The words BM25 indexes for an entry: its phrasings, and its answer unless `fields` is "phrasings"."""
    parts = entry.phrasings if fields == "phrasings" else (*entry.phrasings, answer)
    return tokens(" ".join(parts))


class Bm25Index:
    """Okapi BM25 over tokenised documents (idf as rank_bm25's BM25Okapi: negative idf -> 0.25 * mean idf).

    Building is one pass of `Counter`s; scoring touches only the requested documents.
    """

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._tfs = [Counter(doc) for doc in documents]
        lengths = np.asarray([len(doc) for doc in documents], dtype=np.float64)
        n = len(documents)
        df: Counter[str] = Counter()
        for tf in self._tfs:
            df.update(tf.keys())
        idf = {w: math.log(n - f + 0.5) - math.log(f + 0.5) for w, f in df.items()}
        floor = 0.25 * (sum(idf.values()) / len(idf)) if idf else 0.0
        self._idf = {w: (v if v >= 0 else floor) for w, v in idf.items()}
        average = float(lengths.mean()) if n else 1.0
        self._norm = k1 * (1 - b + b * lengths / (average or 1.0))

    def scores(self, query: Sequence[str], positions: Sequence[int]) -> np.ndarray:
        """BM25 of `query` for the documents at `positions` (repeated query words count again)."""
        pos = list(positions)
        out = np.zeros(len(pos))
        tfs = [self._tfs[p] for p in pos]
        norm = self._norm[pos]
        for word in query:
            idf = self._idf.get(word)
            if idf is None:
                continue
            tf = np.fromiter((t.get(word, 0) for t in tfs), dtype=np.float64, count=len(pos))
            out += idf * tf * (self.k1 + 1) / (tf + norm)
        return out


@dataclass(frozen=True)
class ScoredEntry:
    position: int
    score: float
    phrasing: float
    context: float
    lexical: float


class EntryScorer:
    """Scores entries of one snapshot. Immutable after construction; safe to share between threads."""

    def __init__(
        self,
        vectors_per_entry: Sequence[np.ndarray],
        n_phrasings: Sequence[int],
        index: VectorIndex,
        config: ScoringConfig,
        bm25_documents: Sequence[list[str]] | None = None,
    ) -> None:
        self.config = config
        self._index = index
        owners: list[int] = []
        is_context: list[bool] = []
        for pos, (vectors, n) in enumerate(zip(vectors_per_entry, n_phrasings, strict=True)):
            owners.extend([pos] * len(vectors))
            is_context.extend([False] * n + [True] * (len(vectors) - n))
        self._owner = np.asarray(owners, dtype=np.int64)
        self._is_context = np.asarray(is_context, dtype=bool)
        dim = index.dim
        self._matrix = (
            np.vstack(list(vectors_per_entry)).astype(np.float32)
            if len(owners)
            else np.zeros((0, dim), dtype=np.float32)
        )
        self._rows: list[np.ndarray] = []
        start = 0
        for vectors in vectors_per_entry:
            self._rows.append(np.arange(start, start + len(vectors)))
            start += len(vectors)
        self._n_phrasings = list(n_phrasings)
        self._bm25: Bm25Index | None = None
        if config.bm25_weight > 0 and bm25_documents:
            self._bm25 = Bm25Index(bm25_documents, config.bm25_k1, config.bm25_b)

    @property
    def n_entries(self) -> int:
        return len(self._rows)

    def vector_ids(self) -> np.ndarray:
        return np.arange(len(self._owner), dtype=np.int64)

    def matrix(self) -> np.ndarray:
        return self._matrix

    def follow_up_query(self, embedding: np.ndarray, position: int) -> np.ndarray:
        """The query for a follow-up ("and to France?") of the question entry `position` answered: the
        message and that entry's question, averaged and normalised (no second encoder pass)."""
        question = self._matrix[self._rows[position][0]]
        combined: np.ndarray = np.asarray(embedding, dtype=np.float32).reshape(-1) + question
        norm = float(np.linalg.norm(combined))
        return combined / norm if norm > 0 else combined

    def lexical_scores(self, text: str, positions: Sequence[int]) -> np.ndarray:
        """BM25 of the given entries, divided by the best of them (0 when no word matches)."""
        if self._bm25 is None or not len(positions):
            return np.zeros(len(positions))
        scores = self._bm25.scores(tokens(text), positions)
        top = float(scores.max())
        return scores / top if top > 0 else np.zeros_like(scores)

    def score(self, embedding: np.ndarray, text: str, top_k: int = 10) -> list[ScoredEntry]:
        """The best `top_k` entries for one query, best first."""
        if self.n_entries == 0:
            return []
        query = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        k = min(self.config.candidates, len(self._owner))
        _, ids = self._index.search(query, k)
        found = ids[0][ids[0] >= 0]
        candidates = np.unique(self._owner[found])
        lexical = self.lexical_scores(text, candidates.tolist()) if self._bm25 is not None else None
        cfg = self.config
        w_phr = 1.0 - cfg.context_weight - cfg.bm25_weight
        out: list[ScoredEntry] = []
        for n_candidate, pos in enumerate(candidates.tolist()):
            rows = self._rows[pos]
            sims = self._matrix[rows] @ query[0]
            n = self._n_phrasings[pos]
            phr_sims = sims[:n]
            if cfg.pooling == "lse":
                m = float(phr_sims.max())
                phrasing = m + cfg.temperature * float(np.log(np.exp((phr_sims - m) / cfg.temperature).sum()))
                phrasing = min(phrasing, 1.0)
            else:
                phrasing = float(phr_sims.max())
            context = float(sims[n]) if len(sims) > n else phrasing
            lex = float(lexical[n_candidate]) if lexical is not None else 0.0
            total = w_phr * phrasing + cfg.context_weight * context + cfg.bm25_weight * lex
            out.append(ScoredEntry(pos, total, phrasing, context, lex))
        out.sort(key=lambda s: -s.score)
        return out[:top_k]

    def confidence(self, ranked: Sequence[ScoredEntry]) -> float:
        """The number compared with the thresholds (see `confidence_features`)."""
        return confidence_of(ranked, self.config)


def confidence_features(ranked: Sequence[ScoredEntry]) -> tuple[float, float, float, float, float]:
    """(score, margin over the runner-up, phrasing, context, lexical) of the top entry."""
    top = ranked[0]
    second = ranked[1].score if len(ranked) > 1 else 0.0
    return (top.score, top.score - second, top.phrasing, top.context, top.lexical)


def confidence_of(ranked: Sequence[ScoredEntry], config: ScoringConfig) -> float:
    """Logistic: P(top entry is right) from `confidence_features`; margin: score + margin_weight * margin."""
    if not ranked:
        return 0.0
    features = confidence_features(ranked)
    if config.confidence == "margin":
        return features[0] + config.margin_weight * features[1]
    w = config.confidence_weights
    z = w[0] + sum(wi * fi for wi, fi in zip(w[1:], features, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
