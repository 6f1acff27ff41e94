"""Asking the knowledge base in the conversation's context.

A message that continues the previous answer ("and to France?") is asked with that answer's entry; one
the knowledge base is unsure about right after an answer ("how long will you hold it for me?") is asked
again with that entry and the shop, country or product the previous message named, and the better
reply is kept. When neither is sure, the question is asked once more with those names written into it
("how do I get there?" after a question about the Berlin shop is asked as "how do I get there? (Berlin
shop)"): the knowledge base encodes that text itself, a second encoder pass only on this unsure path.
Only then may the entry just given answer again, and the knowledge base gives its passage closest to
the question ("whats the postcode" after the London shop's answer), not the whole answer again.
Only a question unanswered every way is recorded for the staff.
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
INHERITED = "inherited"
"""The extractor name of an entity a part of a message took from the parts before it."""
"""What a question inherits from the message before it (and a request from the parts before it)."""
_FOLLOW_UP = re.compile(
    r"^\W*(and|what about|how about|same (for|with)|also|what if|and for|and to|and in|and what about)\b", re.I
)
SHOP_SLOT = "shop"
SHOPS = frozenset({"paris", "berlin", "london"})
_THE_SHOP = re.compile(r"\b(the|your|that) (shop|store|boutique)\b|\bthere\b", re.I)
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
        continues = follow_up is not None and (context is not None or is_follow_up(turn))  # another entry
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
            return self.with_inherited(turn, record=record, current=current_shop(state, turn))
        follow_up = previous if is_follow_up(turn) else None
        outcome = self.ask(turn, record=False, follow_up=follow_up, previous=previous)
        if outcome is not None and outcome.decision != "answer":
            earlier = previous_named(state)
            retry = self.ask(turn, record=False, follow_up=previous, previous=previous, context=earlier)
            if retry is not None and retry.decision == "answer":
                return retry
            words = previous_words(state, {e.entity for e in turn.parse.entities})
            spelled = self.spelled_out(turn, words, {**previous_named(state)}, previous)
            if spelled is not None and spelled.decision == "answer" and top_entry(spelled) != previous:
                return spelled
            again = self.ask(turn, record=False, follow_up=previous, previous=previous)  # the same entry, at last:
            if again is not None and again.decision == "answer":  # the knowledge base gives its closest passage
                return again
            if spelled is not None and spelled.decision == "suggest" and outcome.decision == "unknown":
                return spelled
            if record:  # nothing better: now it counts as unanswered for the staff's review list
                outcome = self.ask(turn, record=True, previous=previous)
        return outcome

    def with_inherited(
        self, turn: Turn, *, record: bool, current: Mapping[str, frozenset[str]] | None = None
    ) -> KnowledgeOutcome | None:
        """A question with no answer before it; one that is a later part of a message and took its shop,
        country or product from the parts before it ("… and what's the address there?"), or that speaks
        of "the shop" while the conversation is about one (`current`: "remind me where the shop is?"
        after moving a fitting in Berlin), is asked again with those written into it when the knowledge
        base is unsure."""
        words = [
            _word(e.entity, e.text or str(e.value))
            for e in turn.parse.entities
            if e.extractor == INHERITED and e.entity in CONTEXT_ENTITIES
        ]
        context: Mapping[str, frozenset[str]] = {}
        if not words and current:
            words = [_word(kind, value.title()) for kind, values in current.items() for value in sorted(values)]
            context = current
        if not words:
            return self.ask(turn, record=record)
        outcome = self.ask(turn, record=False)
        if outcome is not None and outcome.decision != "answer":
            spelled = self.spelled_out(turn, list(dict.fromkeys(words)), context, None)
            if spelled is not None and spelled.decision == "answer":
                return spelled
            if record:
                outcome = self.ask(turn, record=True)
        return outcome

    def spelled_out(
        self, turn: Turn, words: list[str], context: Mapping[str, frozenset[str]], previous: str | None
    ) -> KnowledgeOutcome | None:
        """The question with the shop, country or product named before written into it ("how do I get
        there? (Berlin shop)"), asked with those as context (None when there are no such words)."""
        if self.answerer is None or not words:
            return None
        own = values_by_entity((e.entity, e.value) for e in turn.parse.entities)
        query = KnowledgeQuery(
            f"{turn.parse.text.strip()} ({', '.join(words)})",
            None,  # the knowledge base encodes the spelled-out text
            {**context, **own},
            record=False,
            previous=previous,
        )
        return self.answerer(query)


def previous_words(state: ConversationState, named_now: set[str]) -> list[str]:
    """How the previous message named its shop, country or product ("Berlin shop", "Zurich", "leather
    boots"), for the kinds the current message does not name itself."""
    users = [item for item in state.events if item.get("event") == "user"]
    if len(users) < 2:
        return []
    parse_data = users[-2].get("parse_data") or {}
    text = str(parse_data.get("text") or users[-2].get("text") or "")
    words: list[str] = []
    for found in parse_data.get("entities") or []:
        if not isinstance(found, dict) or found.get("entity") not in CONTEXT_ENTITIES - named_now:
            continue
        start, end = found.get("start"), found.get("end")
        span = text[start:end] if isinstance(start, int) and isinstance(end, int) and 0 <= start < end else ""
        word = _word(str(found.get("entity")), span or str(found.get("value") or ""))
        if word and word not in words:
            words.append(word)
    return words


def _word(entity: str, text: str) -> str:
    """How a named thing is written into a question: a shop as "Berlin shop"."""
    word = text.strip()
    return f"{word} shop" if word and entity == "shop" and "shop" not in word.lower() else word


def current_shop(state: ConversationState, turn: Turn) -> dict[str, frozenset[str]]:
    """The shop the conversation is about (the `shop` slot a booking or an opening-hours question set),
    when the message speaks of "the shop" without naming one."""
    shop = state.slots.get(SHOP_SLOT)
    named = {e.entity for e in turn.parse.entities}
    if not isinstance(shop, str) or shop not in SHOPS or "shop" in named or not _THE_SHOP.search(turn.parse.text):
        return {}
    return {"shop": frozenset({shop})}


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
