"""The engine's tone (`bot.dialogue.tone`): sentiment stored with each customer turn, acknowledgement only
for a negative message of a frustrated conversation, short knowledge answers, a person offered at most once
per `offer_every` turns; nothing changes without a sentiment model. The fake `KeywordSentimentModel`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.state import ConversationState
from bot.intents_loader import load_intents
from bot.responses import ResponseRenderer
from bot.sentiment import EscalationConfig, KeywordSentimentModel
from bot.types import IntentScore, Parse, Reply, Source

DOMAIN = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey
- intent: faq
  examples: |
    - how long is delivery
    - do you ship abroad
    - what does shipping cost
- intent: human_handoff
  examples: |
    - a person please
    - human
    - let me talk to someone
rules:
- rule: greet
  steps: [{intent: greet}, {action: utter_greet}]
- rule: handoff
  steps: [{intent: human_handoff}, {action: utter_handoff}]
responses:
  utter_greet: [{text: "Hello!"}]
  utter_handoff: [{text: "A colleague will take over."}]
  utter_default: [{text: "Sorry, I did not get that."}]
  utter_ask_rephrase: [{text: "Could you rephrase?"}]
  utter_internal_error: [{text: "Sorry, something broke."}]
  utter_frustration_ack: [{text: "ACK"}]
  utter_frustration_ack_de: [{text: "ACK-DE"}]
  utter_frustration_ack_repeat: [{text: "ACK-REPEAT"}]
  utter_frustration_offer_person:
  - text: "OFFER"
    buttons: [{title: Talk to a person, payload: /human_handoff}]
"""
ANSWER = "Delivery takes 2 days.\n\nWe also ship to 30 countries; see the map."
MODEL = KeywordSentimentModel()


class FakeKnowledge:
    def __call__(self, query: Any) -> Any:
        class Outcome:
            decision = "answer"
            replies = [Reply(ANSWER, sources=(Source("delivery", "Delivery", "delivery.md"),), kind="knowledge")]

        return Outcome()


@pytest.fixture()
def engine(tmp_path: Path) -> DialogueEngine:
    folder = tmp_path / "intents"
    folder.mkdir()
    (folder / "domain.yml").write_text(DOMAIN)
    project = load_intents(folder, root=tmp_path)
    assert project.errors == []
    return DialogueEngine(
        project.domain,
        ResponseRenderer(project.domain.responses, seed=0),
        None,
        intents=project.data.intents,
        entities=[],
        knowledge=FakeKnowledge(),
        languages=("en", "de"),
    )


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=16).astype(np.float32)
    return v / np.linalg.norm(v)


def turn(text: str, intent: str = "faq", *, seed: int = 0, sentiment: bool = True, language: str | None = None) -> Turn:
    score = IntentScore(intent, 0.9)
    parse = Parse(text, score, (), (score,), language=language)
    embedding = vector(seed)
    return Turn(parse, embedding, sentiment=MODEL.predict(text, embedding) if sentiment else None)


def say(engine: DialogueEngine, state: ConversationState, t: Turn) -> list[str]:
    return [r.text for r in engine.handle(state, t)]


def test_sentiment_is_stored_in_the_user_event(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("this is terrible", seed=1))
    say(engine, state, turn("how long is delivery", seed=2))
    users = [e for e in state.events if e["event"] == "user"]
    assert [u["parse_data"]["sentiment"]["label"] for u in users] == ["negative", "neutral"]
    assert users[0]["parse_data"]["sentiment"]["score"] == pytest.approx(-0.9)
    assert state.latest_message["sentiment"] == {"label": "neutral", "score": 0.0}


def test_neutral_messages_change_nothing(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    for seed in range(4):
        assert say(engine, state, turn("how long is delivery", seed=seed)) == [ANSWER]
    assert state.tone["count"] == 4
    assert state.tone["frustration"] == 0.0


def test_one_negative_message_stays_below_the_threshold(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    assert say(engine, state, turn("delivery is late", seed=1)) == [ANSWER]


def test_frustrated_customer_gets_ack_short_answer_and_an_offer(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("delivery is late", seed=1))
    replies = engine.handle(state, turn("still late, this is ridiculous", seed=2))
    assert [r.text for r in replies] == ["ACK", "Delivery takes 2 days.", "OFFER"]
    assert replies[1].sources  # the short answer keeps its source
    assert [b.payload for b in replies[2].buttons] == ["/human_handoff"]
    assert state.tone["last_offer"] == 1


def test_repeated_question_gets_the_repeat_acknowledgement(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("delivery to germany, how long", seed=7))
    replies = say(engine, state, turn("delivery to germany, how long?? terrible", seed=7))
    assert replies[0] == "ACK-REPEAT"


def test_no_apology_for_a_neutral_message_in_a_frustrated_conversation(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("delivery is late", seed=1))
    say(engine, state, turn("this is ridiculous", seed=2))
    replies = say(engine, state, turn("how long is delivery", seed=3))
    assert "ACK" not in replies and "ACK-REPEAT" not in replies
    assert replies == ["Delivery takes 2 days."]  # still short, no second offer yet


def test_person_offered_at_most_once_per_interval(engine: DialogueEngine) -> None:
    every = EscalationConfig().offer_every
    state = ConversationState("s")
    offers = []
    for i in range(2 + 2 * every):
        replies = say(engine, state, turn("this is terrible and useless", seed=10 + i))
        if "OFFER" in replies:
            offers.append(i)
    assert offers == [1, 1 + every, 1 + 2 * every]


def test_no_offer_when_the_customer_asks_for_a_person(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("delivery is late", seed=1))
    replies = say(engine, state, turn("useless bot, human", "human_handoff", seed=2))
    assert replies == ["ACK", "A colleague will take over."]
    assert "last_offer" not in state.tone


def test_acknowledgement_in_the_customers_language(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("late", seed=1, language="de"))
    assert say(engine, state, turn("terrible", seed=2, language="de"))[0] == "ACK-DE"


def test_without_a_sentiment_model_nothing_changes(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    for seed in range(3):
        assert say(engine, state, turn("terrible useless late", seed=seed, sentiment=False)) == [ANSWER]
    assert "sentiment" not in state.latest_message
    assert state.tone == {}


def test_tone_survives_saving_the_conversation(engine: DialogueEngine) -> None:
    state = ConversationState("s")
    say(engine, state, turn("delivery is late", seed=1))
    restored = ConversationState.from_json(state.to_json())
    assert restored.tone["turns"][0]["outcome"] == "answered"
    assert say(engine, restored, turn("this is ridiculous", seed=2))[0] == "ACK"
