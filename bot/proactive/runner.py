"""Run an external intent in a conversation, as Rasa's `trigger_intent` does.

The conversation gets Rasa's user event for it (text `EXTERNAL: <intent>`, `metadata.is_external`; the
widget's history does not show it), then the intent's rule runs exactly as for a customer message (its
actions read the entities from `latest_message`), then `action_listen`. The state is saved under the
conversation's lock in one transaction, like any turn; the replies are returned for delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.assistant import Assistant
from bot.dialogue.state import ConversationState, event
from bot.dialogue.turn import Turn
from bot.proactive.events import EXTERNAL_TEXT_PREFIX, entity_list
from bot.types import Entity, IntentScore, Parse, Reply

CHANNEL = "external"


@dataclass(frozen=True)
class Triggered:
    """What running an external intent did: the bot's replies and the tracker after it."""

    sender: str
    replies: list[Reply]
    tracker: dict[str, Any] = field(default_factory=dict)


def external_parse(intent: str, entities: Mapping[str, Any]) -> Parse:
    found = tuple(Entity(k, v, 0, 0, "external") for k, v in entities.items())
    return Parse(EXTERNAL_TEXT_PREFIX + intent, IntentScore(intent, 1.0), found, (IntentScore(intent, 1.0),))


def run_external_intent(assistant: Assistant, sender: str, intent: str, entities: Mapping[str, Any]) -> Triggered:
    """Run `intent` (already checked: `EventCatalog.check`) in `sender`'s conversation and save it."""
    with assistant.tracker_store.lock(sender):
        # the assistant's own loading: a new sender or an expired session starts a session first
        state: ConversationState = assistant._load_state(sender)
        replies = _run(assistant, state, intent, entities)
        state.last_activity = assistant.clock()
        assistant.tracker_store.save(state)
        return Triggered(sender, replies, state.as_tracker(input_channel=CHANNEL))


def _run(assistant: Assistant, state: ConversationState, intent: str, entities: Mapping[str, Any]) -> list[Reply]:
    engine = assistant.engine
    parse = external_parse(intent, entities)
    message_id = uuid.uuid4().hex
    state.latest_message = {**parse.as_dict(), "message_id": message_id, "metadata": {"is_external": True}}
    state.add(
        event(
            "user",
            text=parse.text,
            parse_data=parse.as_dict(),
            input_channel=CHANNEL,
            message_id=message_id,
            metadata={"is_external": True, "silent": True},
        )
    )
    state.latest_message["entities"] = entity_list(entities)
    turn = Turn(parse, None, CHANNEL, {})
    rule = engine.domain.action_for_intent(intent, state.latest_action_name, list(entities))
    if rule is not None:
        engine.policy.run_rule(state, turn, rule)
    elif not engine.utter(state, turn, f"utter_{intent}"):
        engine.utter(state, turn, "utter_default")
    state.add(event("action", name="action_listen", policy=None, confidence=None))
    return turn.replies
