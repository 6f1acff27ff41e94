"""What the bot says: rendering responses into replies, and recording them in the conversation.

Every reply goes through `Speech.emit`, which remembers in the bot event which response it was and, for
a response with a `_why` companion, the values it was rendered with (so "why?" can be answered).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.dialogue.explain import WHY_SUFFIX, previous_turn, reason_sentence
from bot.dialogue.state import ConversationState, event
from bot.dialogue.turn import KnowledgeOutcome, Turn
from bot.errors import TemplateError
from bot.responses import ResponseRenderer
from bot.types import Button, Reply

log = logging.getLogger("bot.dialogue.engine")

QUIET_RESPONSES = frozenset(
    {"utter_default", "utter_default_again", "utter_ask_rephrase", "utter_out_of_scope", "utter_ask_affirmation"}
)
"""Fallback responses left out after a language notice (it already said what the bot can do)."""
_STANDARD_MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


class Speech:
    def __init__(self, renderer: ResponseRenderer) -> None:
        self.renderer = renderer

    def utter(self, state: ConversationState, turn: Turn, name: str, values: Mapping[str, Any] | None = None) -> bool:
        """Say the response `name`; False when the domain has no such response."""
        if turn.quiet_fallback and name in QUIET_RESPONSES:
            return True
        reply = self.render(name, state, turn, values, "response")
        if reply is None:
            log.warning("response %s is not defined", name)
            return False
        state.run_action(name)
        self.emit(state, turn, reply, values)
        return True

    def emit(self, state: ConversationState, turn: Turn, reply: Reply, values: Mapping[str, Any] | None = None) -> None:
        """Send a reply. The bot event remembers which response it was and, when the response has a
        `_why` companion, the values it was rendered with (so "why?" can be answered)."""
        reply = replace(reply, id=reply.id or uuid.uuid4().hex[:16])
        turn.replies.append(reply)
        metadata: dict[str, Any] = {"kind": reply.kind}
        if reply.response:
            metadata["response"] = reply.response
            if values and self.renderer.has(reply.response + WHY_SUFFIX):
                metadata["values"] = {k: v for k, v in values.items() if isinstance(v, str | int | float | bool)}
        state.add(event("bot", text=reply.text, data=_reply_data(reply), metadata=metadata))

    def explain(self, state: ConversationState, turn: Turn, *, default: bool = True) -> bool:
        """Answer "why?" about the bot's previous turn (or the one before, when the previous one only said
        it did not understand): the `_why` companion of what it said, else the explaining sentence of a
        knowledge answer, else `utter_why_default`. With `default=False`, only a `_why` companion: False
        when the previous turn has none."""
        said = previous_turn(state.events)
        if said and all(item.response in QUIET_RESPONSES for item in said):
            said = previous_turn(state.events, back=2)  # "why?" after "that's beyond me" (its protest)
        for item in reversed(said):
            if item.response and self.renderer.has(item.response + WHY_SUFFIX):
                return self.utter(state, turn, item.response + WHY_SUFFIX, item.values)
        if not default:
            return False
        for item in reversed(said):
            reason = reason_sentence(item.text) if item.kind == "knowledge" else None
            if reason and self.utter(state, turn, "utter_why_knowledge", {"reason": reason}):
                return True
        return self.utter(state, turn, "utter_why_default")

    def render(
        self, name: str, state: ConversationState, turn: Turn, values: Mapping[str, Any] | None, kind: str
    ) -> Reply | None:
        """The response rendered, or None when it is not defined or its template fails (logged)."""
        try:
            return self.renderer.render(name, state.slots, values, channel=turn.input_channel, kind=kind)
        except TemplateError:
            log.exception("response %s failed to render", name)
            return None

    def knowledge(self, state: ConversationState, turn: Turn, outcome: KnowledgeOutcome) -> None:
        """Say what the knowledge base answered (after a language notice, only a real answer)."""
        if turn.quiet_fallback and outcome.decision != "answer":
            return
        state.run_action(f"action_knowledge_{outcome.decision}")
        for reply in outcome.replies:
            if turn.shorten and outcome.decision == "answer":
                reply = replace(reply, text=first_paragraph(reply.text))
            self.emit(state, turn, reply)

    def action_messages(self, state: ConversationState, turn: Turn, messages: list[dict[str, Any]]) -> None:
        """Say the messages an action sent (`dispatcher.utter_message(...)`)."""
        for message in messages:
            reply = self._action_reply(state, turn, message)
            if reply is not None:
                self.emit(state, turn, reply, message_values(message))

    def _action_reply(self, state: ConversationState, turn: Turn, message: Mapping[str, Any]) -> Reply | None:
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in message.get("buttons") or []
        )
        name = message.get("response") or message.get("template")
        custom = message.get("custom") or None
        if name:
            reply = self.render(str(name), state, turn, message_values(message), "action")
            if reply is None:
                log.warning("action uttered unknown response %s", name)
                return None
            return replace(
                reply,
                buttons=reply.buttons + buttons,
                image=message.get("image") or reply.image,
                custom=custom or reply.custom,
            )
        text = message.get("text") or ""
        if not text and not buttons and not custom and not message.get("image"):
            return None
        return Reply(text=str(text), buttons=buttons, image=message.get("image"), custom=custom, kind="action")


def first_paragraph(text: str) -> str:
    """The text up to its first blank line (a frustrated customer gets the short answer)."""
    return text.strip().split("\n\n", 1)[0].strip() or text


def message_values(message: Mapping[str, Any]) -> dict[str, Any]:
    """The placeholders an action passed with a response (everything but the standard keys)."""
    return {k: v for k, v in message.items() if k not in _STANDARD_MESSAGE_KEYS}


def _reply_data(reply: Reply) -> dict[str, Any]:
    data = reply.as_dict()
    data.pop("text", None)
    return data
