"""Trying a question as a customer would ask it, for staff: read-only, nothing recorded anywhere.

`try_question(parse, embedding, responder)` takes the serving assistant's parse of the message (intent ranking,
entities) and its one embedding, asks the knowledge base as the dialogue asks it for a first message
(`KnowledgeQuery.from_parse`, with `record=False`: no unanswered-question log) and says where the message goes:
to the knowledge base (intent `faq`, an abstention, or `out_of_scope` with a confident answer), whose replies
are then exactly the customer's, or to the flow of another intent. No conversation is loaded or saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot import intent_names
from bot.faq.responder import KnowledgeHit, KnowledgeResponder, KnowledgeResult
from bot.types import IntentScore, KnowledgeQuery, Parse, Reply

Route = Literal["knowledge", "intent", "fallback"]
SHOWN = 5


@dataclass(frozen=True)
class Trial:
    """What the bot makes of one question: the intents and entries ranked, and where it goes."""

    text: str
    parse: Parse
    result: KnowledgeResult
    route: Route
    """`knowledge`: the customer gets `result.replies`; `intent`: the flow of `parse.intent` answers;
    `fallback`: the bot asks the customer to rephrase (the knowledge base was not sure enough)."""

    @property
    def intents(self) -> tuple[IntentScore, ...]:
        """The intent ranking, best first (the abstention marker left out), at most five."""
        return tuple(s for s in self.parse.intent_ranking if s.name != intent_names.FALLBACK)[:SHOWN]

    @property
    def entries(self) -> tuple[KnowledgeHit, ...]:
        return self.result.hits[:SHOWN]

    @property
    def replies(self) -> tuple[Reply, ...]:
        """The knowledge base's replies when the message goes to it, else none."""
        return self.result.replies if self.route == "knowledge" else ()


def try_question(parse: Parse, embedding: np.ndarray, responder: KnowledgeResponder) -> Trial:
    """See the module docstring. `responder` is the serving knowledge snapshot's."""
    result = responder.answer(KnowledgeQuery.from_parse(parse, embedding, record=False))
    intent = parse.intent.name
    route: Route = "intent"
    if intent == intent_names.FAQ:
        route = "knowledge"
    elif intent == intent_names.FALLBACK or parse.abstained:
        route = "knowledge" if result.decision in ("answer", "suggest") else "fallback"
    elif intent in intent_names.OUT_OF_SCOPE_LABELS and result.decision == "answer":
        route = "knowledge"
    return Trial(parse.text, parse, result, route)
