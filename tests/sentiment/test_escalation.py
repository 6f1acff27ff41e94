from __future__ import annotations

import numpy as np
import pytest

from bot.sentiment import (
    ACK_REPEAT_TEMPLATE,
    ACK_TEMPLATE,
    OFFER_PERSON_TEMPLATE,
    EscalationConfig,
    FrustrationScore,
    KeywordSentimentModel,
    Sentiment,
    TurnRecord,
    decide,
    score_frustration,
    template_for,
)

MODEL = KeywordSentimentModel()
NEGATIVE = MODEL.predict("this is terrible", np.zeros(1))
NEUTRAL = Sentiment.neutral()
HIGH = FrustrationScore(1.8, ("negative", "shouting"))


def test_below_the_threshold_nothing_changes() -> None:
    decision = decide(FrustrationScore(0.6), NEGATIVE, turn_index=3, last_offer_turn=None)
    assert not decision.frustrated and decision.acknowledge is None and not decision.offer_person


def test_a_frustrated_negative_message_is_acknowledged_shortened_and_offered_a_person() -> None:
    decision = decide(HIGH, NEGATIVE, turn_index=2, last_offer_turn=None)
    assert decision.frustrated and decision.shorten and decision.offer_person
    assert decision.acknowledge == ACK_TEMPLATE


def test_a_repeated_question_gets_its_own_acknowledgement() -> None:
    repeated = FrustrationScore(1.5, ("says_repeated",), repeated_question=True)
    assert decide(repeated, NEGATIVE, turn_index=1, last_offer_turn=None).acknowledge == ACK_REPEAT_TEMPLATE


@pytest.mark.parametrize("sentiment", [Sentiment.neutral(), Sentiment("positive", 0.8, (0.0, 0.2, 0.8))])
def test_never_an_apology_for_a_neutral_or_positive_message(sentiment: Sentiment) -> None:
    decision = decide(HIGH, sentiment, turn_index=5, last_offer_turn=None)
    assert decision.frustrated and decision.acknowledge is None


def test_a_weakly_negative_message_is_not_apologised_for() -> None:
    weak = Sentiment("negative", -0.1, (0.4, 0.3, 0.3))
    assert decide(HIGH, weak, turn_index=1, last_offer_turn=None).acknowledge is None


def test_no_loop_a_person_is_offered_at_most_once_per_n_turns() -> None:
    config = EscalationConfig(offer_every=3)
    angry = TurnRecord("this is terrible, useless!!", NEGATIVE, None, "fallback")
    turns: list[TurnRecord] = []
    last_offer: int | None = None
    offers: list[int] = []
    for index in range(10):
        turns.append(angry)
        decision = decide(
            score_frustration(turns), angry.sentiment, turn_index=index, last_offer_turn=last_offer, config=config
        )
        if decision.offer_person:
            offers.append(index)
            last_offer = index
    assert offers[0] <= 1
    assert all(b - a >= 3 for a, b in zip(offers, offers[1:], strict=False))
    assert len(offers) <= 4


def test_no_offer_when_the_customer_asks_for_a_person_or_is_with_one() -> None:
    assert not decide(HIGH, NEGATIVE, turn_index=1, last_offer_turn=None, intent="human_handoff").offer_person
    assert not decide(HIGH, NEGATIVE, turn_index=1, last_offer_turn=None, with_person=True).offer_person


def test_bad_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match="offer_every must be at least 1. Currently, offer_every is 0"):
        EscalationConfig(offer_every=0)
    with pytest.raises(ValueError, match="threshold must be greater than 0"):
        EscalationConfig(threshold=0)


def test_template_for_picks_the_language_variant_when_there_is_one() -> None:
    available = {ACK_TEMPLATE, f"{ACK_TEMPLATE}_fr"}
    assert template_for(ACK_TEMPLATE, "fr", available) == f"{ACK_TEMPLATE}_fr"
    assert template_for(ACK_TEMPLATE, "pl", available) == ACK_TEMPLATE
    assert template_for(OFFER_PERSON_TEMPLATE, None, available) == OFFER_PERSON_TEMPLATE


def test_every_tone_template_is_in_the_responses_file(repo_root: object) -> None:
    from pathlib import Path

    import yaml

    assert isinstance(repo_root, Path)
    responses = yaml.safe_load((repo_root / "intents" / "responses.yml").read_text())["responses"]
    for name in (ACK_TEMPLATE, ACK_REPEAT_TEMPLATE, OFFER_PERSON_TEMPLATE):
        assert responses[name][0]["text"]
        for language in ("fr", "de", "es", "it"):
            assert responses[f"{name}_{language}"][0]["text"]
    assert responses[OFFER_PERSON_TEMPLATE][0]["buttons"][0]["payload"] == "/human_handoff"
