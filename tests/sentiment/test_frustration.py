from __future__ import annotations

import numpy as np

from bot.sentiment import (
    EscalationConfig,
    FrustrationConfig,
    KeywordSentimentModel,
    Outcome,
    TurnRecord,
    score_frustration,
)
from bot.sentiment.frustration import is_repeated_question

MODEL = KeywordSentimentModel()
THRESHOLD = EscalationConfig().threshold


def _vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=32).astype(np.float32)
    return v / np.linalg.norm(v)


def turn(text: str, outcome: Outcome = "none", *, topic: int | None = None, intent: str | None = None) -> TurnRecord:
    embedding = _vector(topic) if topic is not None else None
    return TurnRecord(text, MODEL.predict(text, np.zeros(1)), intent, outcome, embedding)


def test_a_calm_conversation_stays_at_zero() -> None:
    turns = [turn("hi", "answered"), turn("where is my order", "asked"), turn("AN-10001")]
    assert score_frustration(turns).score == 0.0


def test_one_negative_message_alone_stays_below_the_threshold() -> None:
    score = score_frustration([turn("hello", "answered"), turn("the zip is broken, disappointed")])
    assert 0 < score.score < THRESHOLD
    assert score.reasons == ("negative",)


def test_third_time_and_shouting_push_over_the_threshold() -> None:
    score = score_frustration([turn("where is my order", "answered"), turn("THIRD TIME I ASK, WHERE IS IT??")])
    assert score.score >= THRESHOLD
    assert {"says_repeated", "shouting", "repeated_marks"} <= set(score.reasons)
    assert score.repeated_question


def test_a_threat_to_leave_on_a_negative_message_goes_over() -> None:
    score = score_frustration([turn("this is useless, I'll shop elsewhere")])
    assert score.score >= THRESHOLD and "threat" in score.reasons


def test_fallbacks_and_failed_tasks_raise_the_score() -> None:
    calm = score_frustration([turn("where is it", "answered"), turn("order AN-10001")]).score
    failing = score_frustration(
        [turn("where is it", "fallback"), turn("AN-10001", "task_failed"), turn("order AN-10001")]
    ).score
    assert calm == 0.0 < failing


def test_asking_the_same_again_after_an_answer_is_a_repeated_question() -> None:
    turns = [
        turn("where is my refund", "answered", topic=1),
        turn("can I pay with PayPal", "answered", topic=2),
        turn("where's my refund please", topic=1),
    ]
    assert is_repeated_question(turns, 2, FrustrationConfig())
    assert "repeated_question" in score_frustration(turns).reasons


def test_answering_the_bots_question_or_small_talk_is_not_a_repeat() -> None:
    asked = [turn("I want to return a jacket", "asked", topic=3), turn("I want to return the jacket", topic=3)]
    assert not is_repeated_question(asked, 1, FrustrationConfig())
    hellos = [turn("hello there", "answered", topic=4, intent="greet"), turn("hello there", topic=4, intent="greet")]
    assert not is_repeated_question(hellos, 1, FrustrationConfig())


def test_the_score_falls_after_a_task_succeeds() -> None:
    angry = [turn("this is ridiculous, THIRD TIME!!", "answered"), turn("useless, terrible", "fallback")]
    before = score_frustration(angry).score
    after = score_frustration(
        [*angry[:-1], TurnRecord(angry[-1].text, angry[-1].sentiment, None, "task_succeeded")]
    ).score
    assert before >= THRESHOLD > after
    assert after < before * 0.5


def test_a_positive_message_lowers_the_score_and_old_anger_fades() -> None:
    angry = [turn("this is terrible and useless", "answered")]
    base = score_frustration(angry).score
    assert score_frustration([*angry, turn("ok thanks, great")]).score < base
    faded = score_frustration([*angry, turn("order AN-10001", "asked"), turn("size M", "asked"), turn("Berlin")])
    assert faded.score < base
