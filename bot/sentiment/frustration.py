"""A conversation's frustration, from its customer turns: a pure function over `TurnRecord`s.

The score starts at 0 and, turn by turn, first fades (`decay`: what happened long ago counts less), then
rises with what the turn shows and what the bot did with it:

    rises with   a negative message (by how sure the model is), shouting, repeated `!!`/`??`, the customer
                 saying they repeat themselves ("third time I ask") or have waited long ("it's been three
                 weeks"), a threat to leave, the same need asked again after the bot answered it (embedding
                 similarity to an earlier customer turn), and the bot's fallbacks and failed tasks
    falls with   a positive message (the score loses `positive` x P(positive) of itself) and a task that
                 succeeds (the score is multiplied by `after_success`)

0.9 is the default threshold of the escalation policy (`bot.sentiment.escalation`): one clearly negative
message stays below it, a negative message that repeats a question or follows a fallback goes above.
`FrustrationScore.reasons` says which signals fired on the last turn (for logs, metrics and tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bot.sentiment.cues import REPEAT_CUES, THREAT_CUES, WAITING_CUES, says_repeated, says_waiting, threatens_to_leave
from bot.sentiment.features import repeated_marks, shouting
from bot.sentiment.types import Sentiment

Outcome = Literal["none", "answered", "asked", "fallback", "task_failed", "task_succeeded", "handoff"]
"""What the bot did with a customer turn: `answered` (a response or a knowledge answer), `asked` (a form or
a clarifying question), `fallback` (did not understand / no knowledge answer), `task_failed` (an action
failed or found nothing), `task_succeeded` (an action completed), `handoff` (passed to a person); `none`
for the turn being handled now, whose outcome is not known yet."""

OUTCOMES: tuple[Outcome, ...] = ("none", "answered", "asked", "fallback", "task_failed", "task_succeeded", "handoff")
ANSWERED_OUTCOMES = frozenset({"answered", "fallback", "task_failed", "task_succeeded"})
"""After these, asking the same thing again is a repeated question (after `asked`, it is an answer)."""


@dataclass(frozen=True)
class TurnRecord:
    """One customer turn as the frustration score sees it. embedding: the message's sentence embedding
    (L2-normalised) when kept, for repeated-question detection; intent: the NLU intent, when known."""

    text: str
    sentiment: Sentiment
    intent: str | None = None
    outcome: Outcome = "none"
    embedding: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FrustrationConfig:
    """Weights of the signals (see the module docstring). repeat_similarity: cosine at or above which a
    turn asks the same as an earlier one; small_talk: intents never counted as repeated questions."""

    decay: float = 0.9
    negative: float = 0.65
    positive: float = 0.7
    shouting: float = 0.4
    shouting_min_share: float = 0.6
    repeated_marks: float = 0.25
    says_repeated: float = 0.6
    threat: float = 0.6
    waiting: float = 0.3
    repeated_question: float = 0.5
    repeat_similarity: float = 0.8
    repeat_min_chars: int = 8
    fallback: float = 0.35
    task_failed: float = 0.35
    after_success: float = 0.3
    small_talk: frozenset[str] = frozenset(
        {"greet", "goodbye", "thanks", "affirm", "deny", "stop", "bot_challenge", "nlu_fallback"}
    )
    repeat_cues: tuple[str, ...] = REPEAT_CUES
    threat_cues: tuple[str, ...] = THREAT_CUES
    waiting_cues: tuple[str, ...] = WAITING_CUES


@dataclass(frozen=True)
class FrustrationScore:
    """score: >= 0 (0.9 = the default threshold); reasons: the signals of the last turn that raised it."""

    score: float
    reasons: tuple[str, ...] = ()
    repeated_question: bool = False


def is_repeated_question(turns: Sequence[TurnRecord], index: int, config: FrustrationConfig) -> bool:
    """Turn `index` asks what an earlier customer turn asked, after the bot answered it."""
    turn = turns[index]
    if turn.embedding is None or turn.intent in config.small_talk or len(turn.text.strip()) < config.repeat_min_chars:
        return False
    vector = np.asarray(turn.embedding, dtype=np.float32).ravel()
    for earlier in turns[:index]:
        if earlier.embedding is None or earlier.outcome not in ANSWERED_OUTCOMES or earlier.intent in config.small_talk:
            continue
        if len(earlier.text.strip()) < config.repeat_min_chars:
            continue
        other = np.asarray(earlier.embedding, dtype=np.float32).ravel()
        if float(vector @ other) >= config.repeat_similarity:
            return True
    return False


def turn_signals(turns: Sequence[TurnRecord], index: int, config: FrustrationConfig) -> dict[str, float]:
    """What turn `index` adds to the score, by signal (a positive message's relief is applied by
    `score_frustration`, as a share of the score)."""
    turn = turns[index]
    signals: dict[str, float] = {}
    sentiment = turn.sentiment
    if sentiment.label == "negative":
        signals["negative"] = config.negative * sentiment.negative
    words = [w for w in turn.text.split() if len(w) >= 3 and w.isalpha()]
    if len(words) >= 2 and shouting(turn.text) >= config.shouting_min_share:
        signals["shouting"] = config.shouting
    if repeated_marks(turn.text):
        signals["repeated_marks"] = config.repeated_marks
    if says_repeated(turn.text, config.repeat_cues):
        signals["says_repeated"] = config.says_repeated
    if says_waiting(turn.text, config.waiting_cues):
        signals["waiting"] = config.waiting
    if threatens_to_leave(turn.text, config.threat_cues):
        signals["threat"] = config.threat
    if is_repeated_question(turns, index, config):
        signals["repeated_question"] = config.repeated_question
    return signals


def score_frustration(turns: Sequence[TurnRecord], config: FrustrationConfig | None = None) -> FrustrationScore:
    """The frustration of a conversation after its last customer turn (turns oldest first)."""
    config = config or FrustrationConfig()
    score = 0.0
    reasons: tuple[str, ...] = ()
    repeated = False
    for index, turn in enumerate(turns):
        signals = turn_signals(turns, index, config)
        score *= config.decay
        if turn.sentiment.label == "positive":
            score *= 1.0 - config.positive * turn.sentiment.positive
        score += sum(signals.values())
        reasons = tuple(signals)
        repeated = "repeated_question" in signals or "says_repeated" in signals
        if turn.outcome == "fallback":
            score += config.fallback
        elif turn.outcome == "task_failed":
            score += config.task_failed
        elif turn.outcome == "task_succeeded":
            score *= config.after_success
    return FrustrationScore(round(score, 4), reasons, repeated)
