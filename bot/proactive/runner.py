"""Run an external intent in a conversation, as Rasa's `trigger_intent` does.

The conversation gets Rasa's user event for it (text `EXTERNAL: <intent>`, `metadata.is_external`; the
widget's history does not show it), then the intent's rule runs exactly as for a customer message (its
actions read the entities from `latest_message`), then `action_listen`. The state is saved under the
conversation's lock in one transaction, like any turn; the replies are returned for delivery.

With `once` (a reminder's `once_key`), the run is recorded in that user event's metadata, and a call whose
key the conversation already holds runs nothing: under the same lock it finds the earlier run and returns
its messages (`Triggered.earlier`, with their reply ids), so a reminder fired again after a crash or an
expired claim does not speak twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.assistant import Assistant
from bot.dialogue.state import ConversationState, event
from bot.dialogue.turn import Turn
from bot.proactive.events import EXTERNAL_TEXT_PREFIX, entity_list
from bot.types import Entity, IntentScore, Parse, Reply

CHANNEL = "external"
ONCE_KEY = "once"
"""The user event's metadata key holding a `once` run's key."""
LOOKBACK_EVENTS = 1000
"""How far back in the conversation's history a `once` key is looked for."""


@dataclass(frozen=True)
class Triggered:
    """What running an external intent did: the bot's replies and the tracker after it."""

    sender: str
    replies: list[Reply]
    tracker: dict[str, Any] = field(default_factory=dict)
    earlier: list[dict[str, Any]] | None = None
    """for a `once` run already in the conversation: that run's messages (nothing ran this time)"""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What to deliver, in the outbox's shape (`Reply.as_dict()`)."""
        return list(self.earlier) if self.earlier is not None else [r.as_dict() for r in self.replies]


def external_parse(intent: str, entities: Mapping[str, Any]) -> Parse:
    found = tuple(Entity(k, v, 0, 0, "external") for k, v in entities.items())
    return Parse(EXTERNAL_TEXT_PREFIX + intent, IntentScore(intent, 1.0), found, (IntentScore(intent, 1.0),))


def run_external_intent(
    assistant: Assistant, sender: str, intent: str, entities: Mapping[str, Any], *, once: str | None = None
) -> Triggered:
    """Run `intent` (already checked: `EventCatalog.check`) in `sender`'s conversation and save it; with
    `once`, only if the conversation holds no run of that key (else its earlier messages, `earlier`)."""
    with assistant.tracker_store.lock(sender):
        if once is not None:
            earlier = earlier_run(assistant.tracker_store.history(sender, LOOKBACK_EVENTS), once)
            if earlier is not None:
                return Triggered(sender, [], earlier=earlier)
        # the assistant's own loading: a new sender or an expired session starts a session first
        state: ConversationState = assistant._load_state(sender)
        replies = _run(assistant, state, intent, entities, once)
        state.last_activity = assistant.clock()
        assistant.tracker_store.save(state)
        return Triggered(sender, replies, state.as_tracker(input_channel=CHANNEL))


def earlier_run(events: Sequence[Mapping[str, Any]], once: str) -> list[dict[str, Any]] | None:
    """The messages the bot said after the user event of the `once` run (up to the next user event), in
    the outbox's shape; None when the events hold no such run."""
    messages: list[dict[str, Any]] | None = None
    for item in events:
        kind = item.get("event")
        if kind == "user":
            if messages is not None:
                break
            if (item.get("metadata") or {}).get(ONCE_KEY) == once:
                messages = []
        elif kind == "bot" and messages is not None:
            messages.append({"text": item.get("text") or "", **(item.get("data") or {})})
    return messages


def _run(
    assistant: Assistant, state: ConversationState, intent: str, entities: Mapping[str, Any], once: str | None
) -> list[Reply]:
    engine = assistant.engine
    parse = external_parse(intent, entities)
    message_id = uuid.uuid4().hex
    state.latest_message = {**parse.as_dict(), "message_id": message_id, "metadata": {"is_external": True}}
    metadata: dict[str, Any] = {"is_external": True, "silent": True}
    if once is not None:
        metadata[ONCE_KEY] = once
    state.add(
        event(
            "user",
            text=parse.text,
            parse_data=parse.as_dict(),
            input_channel=CHANNEL,
            message_id=message_id,
            metadata=metadata,
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
