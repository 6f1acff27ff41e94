"""The knowledge base and the intents as suggestions see them (`KnowledgeView`, `IntentView` in
`bot.learning.suggestions`): read-only adapters over a knowledge snapshot and the training data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bot.faq.entry import KnowledgeEntry, normalise_question
from bot.faq.responder import KnowledgeResponder
from bot.nlu.training_data import TrainingData

IntentParser = Callable[[str], tuple[str, float, bool]]
"""text -> (intent, confidence, abstained), from the serving model."""


class SnapshotKnowledge:
    """A knowledge snapshot's entries and responder."""

    def __init__(self, entries: tuple[KnowledgeEntry, ...], responder: KnowledgeResponder) -> None:
        self._entries = {e.id: e for e in entries}
        self._responder = responder
        self._phrasings = {normalise_question(p) for e in entries for p in e.phrasings}

    def rank(self, embedding: np.ndarray, text: str, k: int) -> list[tuple[str, float]]:
        return [(hit.entry.id, hit.score) for hit in self._responder.rank(embedding, text, k)]

    def answers(self, embedding: np.ndarray, text: str) -> str | None:
        result = self._responder.respond(embedding, text, record=False)
        return result.top.entry.id if result.decision == "answer" and result.top is not None else None

    def entry(self, entry_id: str) -> KnowledgeEntry | None:
        return self._entries.get(entry_id)

    def has_phrasing(self, text: str) -> bool:
        return normalise_question(text) in self._phrasings

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._entries)


class TrainingIntents:
    """The intents of the training data; `parser` (the serving model) tells what it is confident of now."""

    def __init__(self, data: TrainingData, parser: IntentParser | None = None, *, min_confidence: float = 0.5) -> None:
        self._intents = frozenset(data.intents)
        self._examples = {normalise_question(e.text) for e in data.examples}
        self._parser = parser
        self._min_confidence = min_confidence

    @property
    def intents(self) -> frozenset[str]:
        return self._intents

    def has_example(self, text: str) -> bool:
        return normalise_question(text) in self._examples

    def confident(self, text: str) -> str | None:
        if self._parser is None:
            return None
        intent, confidence, abstained = self._parser(text)
        return intent if not abstained and confidence >= self._min_confidence else None
