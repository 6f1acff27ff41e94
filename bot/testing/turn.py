"""What the bot did with one user message (`TurnResult`), and the questions checks and
explanations ask of it: was it a fallback, a repeat, an abstention, which knowledge entry answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot import intent_names

OUT_OF_SCOPE_INTENTS = intent_names.ABSTENTIONS
FALLBACK_ACTIONS = frozenset(
    {
        "utter_default",
        "utter_default_again",
        "utter_why_default",
        "utter_ask_rephrase",
        "utter_out_of_scope",
        "utter_internal_error",
        "action_two_stage_fallback",
        "action_knowledge_unknown",
        "action_knowledge_suggest",
    }
)
"""Actions that mean the bot did not handle the message: fallbacks, "did you mean", errors."""


@dataclass
class TurnResult:
    """What the bot did with one user message."""

    text: str
    parse: Any  # bot.types.Parse | None
    replies: list[Any] = field(default_factory=list)  # bot.types.Reply
    actions: list[str] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    form: str | None = None
    dialogue: bool = False  # False: only NLU ran
    clicked: str | None = None  # the title of the button pressed, for a click step

    @property
    def fallback_actions(self) -> list[str]:
        return [a for a in self.actions if a in FALLBACK_ACTIONS]

    @property
    def buttons(self) -> list[Any]:
        return [b for r in self.replies for b in getattr(r, "buttons", ())]

    @property
    def cards(self) -> list[Any]:
        return [c for r in self.replies for c in getattr(r, "cards", ())]

    @property
    def said(self) -> str:
        return "\n".join(str(r.text) for r in self.replies)


def is_abstention(parse: Any) -> bool:
    return parse is not None and (bool(parse.abstained) or parse.intent.name in OUT_OF_SCOPE_INTENTS)


def is_repeat(turn: TurnResult, previous: TurnResult | None) -> bool:
    """The bot said exactly what it said the turn before, and showed the same product cards (a loop)."""
    if previous is None or not turn.replies or turn.said.strip() != previous.said.strip():
        return False
    return [c.id for c in turn.cards] == [c.id for c in previous.cards]


def knowledge_reply(turn: TurnResult) -> Any:
    return next((r for r in turn.replies if getattr(r, "kind", "") == "knowledge"), None)


def answered_entry(turn: TurnResult) -> str | None:
    reply = knowledge_reply(turn)
    if reply is not None and reply.sources:
        return str(reply.sources[0].id)
    return None


def describe_answer(turn: TurnResult) -> str:
    entry = answered_entry(turn)
    if entry:
        return entry
    reply = knowledge_reply(turn)
    if reply is not None:
        offered = [b.title for b in reply.buttons if not str(b.payload).startswith("/")]
        return f"no answer (knowledge base offered: {'; '.join(offered)})" if offered else "no answer ('I don't know')"
    return "no knowledge answer"


# -- how values and replies read in a failure ------------------------------------------------------
def show(value: Any) -> str:
    if value is None:
        return "(not set)"
    return value if isinstance(value, str) else repr(value)


def one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quote_replies(turn: TurnResult) -> str:
    return " | ".join(one_line(r.text) for r in turn.replies)
