"""Sentiment: per customer message, per conversation (frustration), and what the bot does about it.

    types.py        `Sentiment(label, score, probabilities)`, `LABELS`
    protocol.py     `SentimentModel`: predict(text, embedding, layers) -> Sentiment (never encodes again)
    features.py     VADER's scores and surface cues (shouting, !!/??, emoji, length) of one message
    head.py         `LinearSentimentHead`: logistic regression over [text features, embedding, layer features]
    model.py        `LexiconEmbeddingSentimentModel`: the real model; fake.py: `KeywordSentimentModel`
    data.py         labelled examples: intents/sentiment/support.csv, an optional general JSONL corpus
    training.py     train / find / load the head under .supportbot/models/sentiment-<hash>/
    pipeline.py     the same for a project's `Settings` (`supportbot train`, serving)
    cues.py         "third time I ask", threats to leave: the phrases the frustration score looks for
    frustration.py  `TurnRecord`s -> `FrustrationScore` (pure)
    escalation.py   `decide(...)` -> acknowledge / shorten / offer a person (pure); template names

Nothing loads at import: VADER's lexicon loads on first use (or `warm_up()`).
"""

from __future__ import annotations

from bot.sentiment.escalation import (
    ACK_REPEAT_TEMPLATE,
    ACK_TEMPLATE,
    OFFER_PERSON_TEMPLATE,
    EscalationConfig,
    EscalationDecision,
    decide,
    template_for,
)
from bot.sentiment.fake import KeywordSentimentModel
from bot.sentiment.frustration import (
    OUTCOMES,
    FrustrationConfig,
    FrustrationScore,
    Outcome,
    TurnRecord,
    score_frustration,
)
from bot.sentiment.model import LexiconEmbeddingSentimentModel
from bot.sentiment.protocol import SentimentModel
from bot.sentiment.types import LABELS, Sentiment, SentimentLabel

__all__ = [
    "ACK_REPEAT_TEMPLATE",
    "ACK_TEMPLATE",
    "LABELS",
    "OFFER_PERSON_TEMPLATE",
    "OUTCOMES",
    "EscalationConfig",
    "EscalationDecision",
    "FrustrationConfig",
    "FrustrationScore",
    "KeywordSentimentModel",
    "LexiconEmbeddingSentimentModel",
    "Outcome",
    "Sentiment",
    "SentimentLabel",
    "SentimentModel",
    "TurnRecord",
    "decide",
    "score_frustration",
    "template_for",
]
