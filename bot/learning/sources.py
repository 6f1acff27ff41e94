"""Where signals are read from: the conversation events of the tracker store, the unanswered log and the
feedback store. Each is optional; each is read, never written.

`ConversationLog` is the seam over the tracker store's event history: `SqlConversationLog` reads the
`conversation_events` table (SQLite or Postgres) every `SqlTrackerStore` appends to, `InMemoryConversationLog`
is the fake.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, select

from bot.dialogue.tracker_store import history as events_table
from bot.faq.unanswered import UnansweredQuestion
from bot.feedback import FeedbackStore
from bot.learning.signals import (
    Signal,
    Similarity,
    lexical_similarity,
    merge_signals,
    signals_from_conversation,
    signals_from_unanswered,
)

Conversation = tuple[str, list[dict[str, Any]]]
"""(sender id, its events oldest first)"""


class ConversationLog(Protocol):
    def conversations(self, since: float) -> Iterator[Conversation]:
        """Every conversation with events at or after `since` (those events, oldest first)."""
        ...


class SqlConversationLog:
    """The tracker store's `conversation_events` table, read in sender order (one conversation at a time)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def conversations(self, since: float) -> Iterator[Conversation]:
        query = (
            select(events_table.c.sender_id, events_table.c.data)
            .where(events_table.c.timestamp >= since)
            .order_by(events_table.c.sender_id, events_table.c.id)
        )
        sender: str | None = None
        events: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                if row.sender_id != sender:
                    if sender is not None:
                        yield sender, events
                    sender, events = row.sender_id, []
                events.append(json.loads(row.data))
        if sender is not None:
            yield sender, events


@dataclass
class InMemoryConversationLog:
    """The fake: events by sender."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, sender_id: str, *events: dict[str, Any]) -> None:
        self.events.setdefault(sender_id, []).extend(events)

    def conversations(self, since: float) -> Iterator[Conversation]:
        for sender, items in sorted(self.events.items()):
            kept = [e for e in items if float(e.get("timestamp") or 0.0) >= since]
            if kept:
                yield sender, kept


SimilarityFactory = Callable[[Sequence[str]], Similarity]
"""Given every customer text of the conversations read, a similarity over them (the learner encodes them once)."""


@dataclass
class SignalSources:
    """The stores signals are read from; any may be None."""

    conversations: ConversationLog | None = None
    unanswered: Callable[[], Sequence[UnansweredQuestion]] | None = None
    feedback: FeedbackStore | None = None
    feedback_limit: int = 10000

    def collect(
        self,
        since: float,
        *,
        low_confidence: float,
        similarity: SimilarityFactory | None = None,
    ) -> list[Signal]:
        """Every signal since `since`, one per customer message, oldest first."""
        down = self._down_votes(since)
        conversations = list(self.conversations.conversations(since)) if self.conversations is not None else []
        texts = sorted(
            {str(e.get("text") or "") for _, events in conversations for e in events if e.get("event") == "user"}
        )
        similar = similarity(texts) if similarity is not None and texts else lexical_similarity
        found: list[Signal] = []
        for sender, events in conversations:
            found.extend(
                signals_from_conversation(
                    sender, events, down_votes=down.get(sender, ()), low_confidence=low_confidence, similarity=similar
                )
            )
        questions = [q for q in self.unanswered() if q.time >= since] if self.unanswered is not None else []
        return merge_signals(found, signals_from_unanswered(questions))

    def _down_votes(self, since: float) -> Mapping[str, set[str]]:
        votes: dict[str, set[str]] = {}
        if self.feedback is None:
            return votes
        for vote in self.feedback.list(limit=self.feedback_limit):
            if vote.value == "down" and vote.updated_at >= since:
                votes.setdefault(vote.sender_id, set()).add(vote.reply_id)
        return votes
