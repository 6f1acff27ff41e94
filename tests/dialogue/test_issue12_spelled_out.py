"""Issue 12: a follow-up that only makes sense with what the previous message named.

"how do I get there?" after "can the berlin shop fix my zip?", "and what's the nearest station?" after a
question about the London shop, "and how do I look after them?" after the leather boots: the message
names nothing, the previous answer's entry is not the answer, and the follow-up query (message plus the
previous entry's question) stays unsure. The knowledge base is then asked once more with the previous
message's names written into the question, and encodes that text itself (no embedding sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.dialogue.knowledge_context import INHERITED, KnowledgeContext, previous_words
from bot.dialogue.state import ConversationState, event
from bot.dialogue.turn import Turn
from bot.types import Entity, IntentScore, KnowledgeQuery, Parse, Reply, Source


@dataclass(frozen=True)
class Outcome:
    decision: str
    replies: tuple[Reply, ...] = ()


@dataclass
class Answerer:
    """Sure only of a question that names the Berlin shop; records every query."""

    queries: list[KnowledgeQuery] = field(default_factory=list)

    def __call__(self, query: KnowledgeQuery) -> Outcome:
        self.queries.append(query)
        if "(berlin shop)" in query.text.lower():
            return Outcome(
                "answer",
                (
                    Reply(
                        "Torstraße 88", sources=(Source(id="berlin-shop", title="Shops", file="knowledge/stores.md"),)
                    ),
                ),
            )
        return Outcome("unknown")


def user(text: str, *entities: tuple[str, str, str]) -> dict[str, Any]:
    found = []
    for name, value, surface in entities:
        start = text.index(surface)
        found.append(Entity(name, value, start, start + len(surface), "test").as_dict())
    return event("user", text=text, parse_data={"text": text, "entities": found})


def answered(entry: str) -> dict[str, Any]:
    return event("bot", text="…", data={"sources": [{"id": entry}]}, metadata={"kind": "knowledge"})


def conversation(first: dict[str, Any], now: str) -> tuple[ConversationState, Turn]:
    state = ConversationState("c1")
    for item in (first, answered("repairs"), user(now)):
        state.add(item)
    return state, Turn(Parse(now, IntentScore("faq", 0.9)), np.ones(4, dtype=np.float32))


def test_the_previous_shop_is_written_into_an_unsure_question() -> None:
    answerer = Answerer()
    state, turn = conversation(
        user("the zip broke, can the berlin shop fix it?", ("shop", "berlin", "berlin")), "how do I get there?"
    )
    outcome = KnowledgeContext(answerer).in_context(state, turn, record=True)
    assert outcome is not None and outcome.decision == "answer"
    spelled = answerer.queries[-1]
    assert spelled.text == "how do I get there? (berlin shop)"
    assert spelled.embedding is None  # the knowledge base encodes the new text
    assert spelled.entities == {"shop": frozenset({"berlin"})}
    assert spelled.record is False


def test_nothing_named_before_means_no_third_question() -> None:
    answerer = Answerer()
    state, turn = conversation(user("can you fix a broken zip?"), "how do I get there?")
    outcome = KnowledgeContext(answerer).in_context(state, turn, record=True)
    assert outcome is not None and outcome.decision == "unknown"
    assert all(q.embedding is not None for q in answerer.queries)


def test_a_kind_the_question_names_itself_is_not_added() -> None:
    state, _ = conversation(
        user(
            "shipping to Zurich and the London shop", ("country", "switzerland", "Zurich"), ("shop", "london", "London")
        ),
        "and in paris?",
    )
    assert previous_words(state, {"shop"}) == ["Zurich"]
    assert previous_words(state, set()) == ["Zurich", "London shop"]


def test_a_later_part_spells_out_the_shop_it_inherited() -> None:
    """ "do you do alterations in the london store? and whats the address there": the second part took the
    London shop from the first (extractor "inherited") and is asked again as "… (london shop)"."""
    answerer = Answerer()
    text = "whats the address there"
    inherited = Entity("shop", "berlin", 20, 26, INHERITED, "berlin")
    turn = Turn(Parse(text, IntentScore("faq", 0.9), (inherited,)), np.ones(4, dtype=np.float32))
    outcome = KnowledgeContext(answerer).in_context(ConversationState("c2"), turn, record=True)
    assert outcome is not None and outcome.decision == "answer"
    assert [q.text for q in answerer.queries] == [text, "whats the address there (berlin shop)"]
    assert answerer.queries[-1].embedding is None


def test_a_part_naming_its_own_shop_is_asked_once() -> None:
    answerer = Answerer()
    own = Entity("shop", "berlin", 0, 6, "LookupEntityExtractor", "berlin")
    turn = Turn(Parse("berlin address", IntentScore("faq", 0.9), (own,)), np.ones(4, dtype=np.float32))
    outcome = KnowledgeContext(answerer).in_context(ConversationState("c3"), turn, record=True)
    assert outcome is not None and outcome.decision == "unknown"
    assert [q.text for q in answerer.queries] == ["berlin address"]
