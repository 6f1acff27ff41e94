"""Asking the knowledge base in the conversation's context.

A message that continues the previous answer ("and to France?") is asked with that answer's entry; one
the knowledge base is unsure about right after an answer ("how long will you hold it for me?") is asked
again with that entry and the shop, country or product the previous message named, and the better
reply is kept. Only a question unanswered both ways is recorded for the staff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from bot.dialogue.explain import previous_turn
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import KnowledgeAnswerer, KnowledgeOutcome, Turn
from bot.types import KnowledgeQuery, values_by_entity

CONTEXT_ENTITIES = frozenset({"shop", "country", "item"})
"""What a question inherits from the message before it (and a request from the parts before it)."""
_FOLLOW_UP = re.compile(
    r"^\W*(and|what about|how about|same (for|with)|also|what if|and for|and to|and in|and what about)\b", re.I
)
FOLLOW_UP_WORDS = 6
"""A message of at most this many words that starts like "and to France?" continues the previous question."""


class KnowledgeContext:
    def __init__(self, answerer: KnowledgeAnswerer | None) -> None:
        self.answerer = answerer

    def ask(
        self,
        turn: Turn,
        *,
        record: bool,
        follow_up: str | None = None,
        previous: str | None = None,
        context: Mapping[str, frozenset[str]] | None = None,
    ) -> KnowledgeOutcome | None:
        """One question to the knowledge base (None when there is none)."""
        if self.answerer is None:
            return None
        continues = follow_up is not None and (context is not None or is_follow_up(turn))
        query = KnowledgeQuery.from_parse(
            turn.parse, turn.embedding, follow_up=follow_up, previous=previous, record=record, continues=continues
        )
        if context is not None:
            query = replace(query, context=context)
        return self.answerer(query)

    def in_context(self, state: ConversationState, turn: Turn, *, record: bool) -> KnowledgeOutcome | None:
        """The knowledge base's reply, in the conversation's context (module docstring)."""
        previous = previous_answer(state)
        if previous is None:
            return self.ask(turn, record=record)
        follow_up = previous if is_follow_up(turn) else None
        outcome = self.ask(turn, record=False, follow_up=follow_up, previous=previous)
        if outcome is not None and outcome.decision != "answer":
            earlier = previous_named(state)
            retry = self.ask(turn, record=False, follow_up=previous, previous=previous, context=earlier)
            if retry is not None and retry.decision == "answer":
                return retry
            if record:  # nothing better: now it counts as unanswered for the staff's review list
                outcome = self.ask(turn, record=True, previous=previous)
        return outcome


def is_follow_up(turn: Turn) -> bool:
    text = turn.parse.text.strip()
    return bool(_FOLLOW_UP.match(text)) and len(text.split()) <= FOLLOW_UP_WORDS


def previous_answer(state: ConversationState) -> str | None:
    """The entry the knowledge base answered the customer's previous message with, if it did."""
    answers = [s.source for s in previous_turn(state.events) if s.kind == "knowledge" and s.source]
    return answers[-1] if answers else None


def previous_named(state: ConversationState) -> dict[str, frozenset[str]]:
    """The shop, country or product the customer's previous message named."""
    users = [item for item in state.events if item.get("event") == "user"]
    earlier = (users[-2].get("parse_data") or {}).get("entities") or [] if len(users) >= 2 else []
    return values_by_entity(
        (str(e["entity"]), e.get("value"))
        for e in earlier
        if isinstance(e, dict) and e.get("entity") in CONTEXT_ENTITIES
    )


def top_entry(outcome: KnowledgeOutcome | None) -> str | None:
    hits = getattr(outcome, "hits", None) or ()
    return str(hits[0].entry.id) if hits else None
