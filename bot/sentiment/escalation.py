"""The escalation policy: what the bot changes when a conversation is frustrated. Pure; the engine keeps
the one piece of state it needs (the customer turn at which a person was last offered).

Above the threshold the bot changes course before the customer asks:

    acknowledge   say `utter_frustration_ack` (or `utter_frustration_ack_repeat` when the customer is
                  repeating themselves) before the answer, only when THIS message is negative: the bot
                  never apologises for a neutral or positive message
    shorten       keep the answer short (no small talk, no "anything else?", the first paragraph only)
    offer_person  say `utter_frustration_offer_person` (with the handoff quick reply), at most once per
                  `offer_every` customer turns, and never when the customer already asked for a person
                  (their request is answered by the handoff itself) or the conversation is with a person

Template names are in `intents/responses.yml`, where staff edit their wording (`template_for` picks the
customer's language variant, `<name>_<lang>`, when there is one).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from bot.sentiment.frustration import FrustrationScore
from bot.sentiment.types import Sentiment

ACK_TEMPLATE = "utter_frustration_ack"
ACK_REPEAT_TEMPLATE = "utter_frustration_ack_repeat"
OFFER_PERSON_TEMPLATE = "utter_frustration_offer_person"
TEMPLATES = (ACK_TEMPLATE, ACK_REPEAT_TEMPLATE, OFFER_PERSON_TEMPLATE)
HANDOFF_INTENTS = frozenset({"human_handoff"})


@dataclass(frozen=True)
class EscalationConfig:
    """threshold: frustration score at which the bot changes course; offer_every: customer turns between
    two offers of a person; min_negative: the least P(negative) for an acknowledgement."""

    threshold: float = 0.9
    offer_every: int = 4
    min_negative: float = 0.5

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ValueError(f"threshold must be greater than 0. Currently, threshold is {self.threshold}")
        if self.offer_every < 1:
            raise ValueError(f"offer_every must be at least 1. Currently, offer_every is {self.offer_every}")


@dataclass(frozen=True)
class EscalationDecision:
    """What to change for this turn. acknowledge: a template name to say first, or None; offer_person: say
    OFFER_PERSON_TEMPLATE after the answer (and record `turn_index` as the last offer)."""

    frustrated: bool
    score: float
    acknowledge: str | None = None
    shorten: bool = False
    offer_person: bool = False

    @property
    def changes_course(self) -> bool:
        return self.frustrated


def decide(
    frustration: FrustrationScore,
    sentiment: Sentiment,
    *,
    turn_index: int,
    last_offer_turn: int | None,
    intent: str | None = None,
    with_person: bool = False,
    config: EscalationConfig | None = None,
) -> EscalationDecision:
    """The decision for the customer turn number `turn_index` (0-based, counted over the conversation)
    whose message has `sentiment` and `intent`, given the conversation's `frustration` after it."""
    config = config or EscalationConfig()
    if frustration.score < config.threshold:
        return EscalationDecision(False, frustration.score)
    acknowledge = None
    if sentiment.label == "negative" and sentiment.negative >= config.min_negative:
        acknowledge = ACK_REPEAT_TEMPLATE if frustration.repeated_question else ACK_TEMPLATE
    asked_for_person = intent in HANDOFF_INTENTS
    due = last_offer_turn is None or turn_index - last_offer_turn >= config.offer_every
    offer = due and not asked_for_person and not with_person
    return EscalationDecision(True, frustration.score, acknowledge, shorten=True, offer_person=offer)


def template_for(name: str, language: str | None, available: Container[str]) -> str:
    """`<name>_<language>` when the responses have it (the customer writes in that language), else `name`."""
    if language:
        localised = f"{name}_{language}"
        if localised in available:
            return localised
    return name
