"""The conversation's tone: each customer turn's sentiment, the frustration score and what the bot changes.

Per customer message (`Turn.sentiment`, predicted by the assistant from the message's one encoding):

    begin    records the turn (last `KEEP_TURNS` `TurnRecord`s, kept in `ConversationState.tone`), scores the
             conversation's frustration and decides (`bot.sentiment.escalation.decide`); says the
             acknowledgement first when the decision has one and marks the turn to be answered short
    finish   sets the turn's outcome (read off what the bot did), then says the offer of a person when due

A thumbs down on an answer (`thumbs_down`, from `Assistant.on_feedback`) apologises and offers other answers
and a person.

Nothing changes when the assistant has no sentiment model (`Turn.sentiment` is None). The wording is in
`intents/responses.yml` (`utter_frustration_*`, each with language variants).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.sentiment import (
    OFFER_PERSON_TEMPLATE,
    EscalationConfig,
    EscalationDecision,
    Outcome,
    Sentiment,
    TurnRecord,
    decide,
    score_frustration,
    template_for,
)
from bot.types import Button, Reply

if TYPE_CHECKING:
    from bot.dialogue.engine import DialogueEngine

log = logging.getLogger(__name__)

KEEP_TURNS = 8
"""Customer turns the frustration score looks back over (older ones have faded by 0.9 per turn anyway)."""
FALLBACK_RESPONSES = frozenset(
    {"utter_default", "utter_default_again", "utter_ask_rephrase", "utter_out_of_scope", "utter_ask_affirmation"}
)
FAILED_RESPONSES = frozenset({"utter_internal_error"})
HANDOFF_INTENT = "human_handoff"
FEEDBACK_DOWN = "utter_feedback_down"
ALTERNATIVES = 3
"""Other knowledge answers offered after a thumbs down."""


class Tone:
    def __init__(self, engine: DialogueEngine, config: EscalationConfig | None = None) -> None:
        self.engine = engine
        self.config = config or EscalationConfig()

    def begin(self, state: ConversationState, turn: Turn) -> EscalationDecision | None:
        """Record this customer turn and decide; say the acknowledgement now (before the answer)."""
        if turn.sentiment is None:
            return None
        tone = state.tone
        records = [record_from_json(r) for r in tone.get("turns") or []]
        records.append(TurnRecord(turn.parse.text, turn.sentiment, turn.parse.intent.name, "none", turn.embedding))
        index = int(tone.get("count", 0))
        decision = decide(
            score_frustration(records),
            turn.sentiment,
            turn_index=index,
            last_offer_turn=tone.get("last_offer"),
            intent=turn.parse.intent.name,
            with_person=state.paused,
            config=self.config,
        )
        tone["turns"] = [record_to_json(r) for r in records[-KEEP_TURNS:]]
        tone["count"] = index + 1
        tone["frustration"] = round(decision.score, 4)
        if decision.frustrated:
            log.info("frustrated conversation %s: score %.2f", state.sender_id, decision.score)
        if decision.acknowledge:
            self.engine.utter(state, turn, self._template(decision.acknowledge, turn))
        turn.shorten = decision.shorten
        return decision

    def finish(
        self, state: ConversationState, turn: Turn, decision: EscalationDecision | None, *, loop_before: str | None
    ) -> None:
        """Set the turn's outcome; offer a person when the decision says so and no person took over."""
        if decision is None:
            return
        tone = state.tone
        turns = tone.get("turns") or []
        if turns:
            turns[-1]["outcome"] = outcome_of(state, turn, loop_before=loop_before)
        due = decision.offer_person and not state.paused and not offered_person(turn)
        if due and self.engine.utter(state, turn, self._template(OFFER_PERSON_TEMPLATE, turn)):
            tone["last_offer"] = int(tone.get("count", 1)) - 1

    def thumbs_down(self, state: ConversationState, turn: Turn, voted: Reply | None) -> None:
        """A thumbs down on the reply `voted` to the customer's message `turn`: apologise with `FEEDBACK_DOWN`
        and offer up to `ALTERNATIVES` other knowledge answers to that message as buttons, before the
        template's own "Talk to a person" button. The frustration score counts it as a failed turn."""
        turns = state.tone.get("turns") or []
        if turns:
            turns[-1]["outcome"] = "task_failed"
        reply = self.engine.speech.render(self._template(FEEDBACK_DOWN, turn), state, turn, None, "response")
        if reply is None:
            return
        voted_ids = {s.id for s in voted.sources} if voted is not None else set()
        outcome = self.engine.knowledge_context.ask(turn, record=False) if turn.parse.text else None
        hits = getattr(outcome, "hits", None) or ()
        others = [h.entry for h in hits if str(h.entry.id) not in voted_ids][:ALTERNATIVES]
        buttons = tuple(Button(str(e.question), str(e.question)) for e in others)
        state.run_action(reply.response)
        self.engine.speech.emit(state, turn, replace(reply, buttons=buttons + reply.buttons))

    def _template(self, name: str, turn: Turn) -> str:
        return template_for(name, turn.parse.language, _Responses(self.engine))


class _Responses:
    """The domain's responses as a container of names (for `template_for`)."""

    def __init__(self, engine: DialogueEngine) -> None:
        self.engine = engine

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.engine.renderer.has(name)


def outcome_of(state: ConversationState, turn: Turn, *, loop_before: str | None) -> Outcome:
    """What the bot did with the turn, read off its replies and the state after it."""
    said = {r.response for r in turn.replies if r.response}
    knowledge = [r for r in turn.replies if r.kind == "knowledge"]
    if state.paused or turn.parse.intent.name == HANDOFF_INTENT:
        return "handoff"
    if said & FAILED_RESPONSES or any(name.endswith("_unavailable") for name in said):
        return "task_failed"
    if said & FALLBACK_RESPONSES or (knowledge and not any(r.sources for r in knowledge)):
        return "fallback"
    if state.active_loop:
        return "asked"
    if loop_before:
        return "task_succeeded"
    return "answered"


def offered_person(turn: Turn) -> bool:
    """The bot already offered a person this turn (a "don't know" with the hand-off button, for one)."""
    return any(b.payload == f"/{HANDOFF_INTENT}" for r in turn.replies for b in r.buttons)


def record_to_json(record: TurnRecord) -> dict[str, Any]:
    vector = None if record.embedding is None else np.ravel(record.embedding).astype(np.float64)
    embedding = None if vector is None else np.round(vector, 5).tolist()
    return {
        "text": record.text,
        "sentiment": {**record.sentiment.to_json(), "probabilities": list(record.sentiment.probabilities)},
        "intent": record.intent,
        "outcome": record.outcome,
        "embedding": embedding,
    }


def record_from_json(data: dict[str, Any]) -> TurnRecord:
    return TurnRecord(
        str(data.get("text", "")),
        sentiment_from_json(data.get("sentiment") or {}),
        data.get("intent"),
        cast(Outcome, data.get("outcome", "answered")),
        None if data.get("embedding") is None else np.asarray(data["embedding"], dtype=np.float32),
    )


def sentiment_from_json(data: dict[str, Any]) -> Sentiment:
    probabilities: Sequence[float] = data.get("probabilities") or (0.0, 1.0, 0.0)
    p = tuple(float(x) for x in probabilities)
    return Sentiment(data.get("label", "neutral"), float(data.get("score", 0.0)), (p[0], p[1], p[2]))
