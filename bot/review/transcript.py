"""One conversation for review: each customer message with its intent, confidence, sentiment and language,
what the bot did about it (the actions run, the response or knowledge entry of each reply, the thumbs on
it) and the messages agents wrote, marked. Read from the stored events; `masked` hides personal data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine, select

from bot.analytics.definitions import AGENT_METADATA_KEY, EXTERNAL_INTENT_PREFIX, NOT_REPLIES
from bot.analytics.facts import conversation_facts, ensure_tables
from bot.dialogue.tracker_store import history
from bot.feedback import feedback_table
from bot.review.masking import mask_personal

MAX_EVENTS = 5000
NAME_SLOTS = frozenset({"first_name", "last_name", "full_name", "customer_name", "name"})
_FAR_FUTURE = 2**42
_NOTES = {
    "pause": "handed over to a person (the bot paused)",
    "resume": "handed back to the bot",
    "session_started": "new session",
}


@dataclass(frozen=True)
class BotLine:
    """One message to the customer: from the bot (its response or knowledge entry) or from an agent."""

    text: str
    at: float
    response: str = ""
    kind: str = ""
    entry_id: str = ""
    entry_title: str = ""
    agent: str = ""
    reply_id: str = ""
    feedback: str = ""


@dataclass(frozen=True)
class TurnView:
    """A customer message and everything that followed it until the next one. The first turn may have no
    customer message (the bot or the shop spoke first)."""

    at: float
    text: str | None = None
    intent: str = ""
    confidence: float | None = None
    sentiment: str = ""
    sentiment_score: float | None = None
    language: str = ""
    actions: tuple[str, ...] = ()
    replies: tuple[BotLine, ...] = ()
    notes: tuple[str, ...] = ()
    timeline: tuple[BotLine | str, ...] = ()
    """the replies and the notes (handed over, handed back, new session) in the order they happened"""


@dataclass(frozen=True)
class Transcript:
    sender_id: str
    turns: tuple[TurnView, ...]
    names: frozenset[str]
    outcome: str = ""
    sentiment: str = ""
    feedback: str = ""

    def masked(self) -> Transcript:
        """The transcript with personal data hidden in every customer, bot and agent message."""
        turns = tuple(
            replace(
                turn,
                text=None if turn.text is None else mask_personal(turn.text, self.names),
                replies=tuple(self._mask(r) for r in turn.replies),
                timeline=tuple(item if isinstance(item, str) else self._mask(item) for item in turn.timeline),
            )
            for turn in self.turns
        )
        return replace(self, turns=turns)

    def _mask(self, line: BotLine) -> BotLine:
        return replace(line, text=mask_personal(line.text, self.names))


def load_transcript(engine: Engine, sender_id: str) -> Transcript | None:
    """The conversation of `sender_id` across its sessions (None when it has no events)."""
    ensure_tables(engine)
    t = history
    facts = conversation_facts(engine.dialect.name, 0.0, float(_FAR_FUTURE), sender_id)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.data).where(t.c.sender_id == sender_id).order_by(t.c.id).limit(MAX_EVENTS)).all()
        votes = conn.execute(
            select(feedback_table.c.reply_id, feedback_table.c.value).where(feedback_table.c.sender_id == sender_id)
        ).all()
        summary = conn.execute(select(facts)).mappings().first()
    if not rows:
        return None
    events = [json.loads(r[0]) for r in rows]
    feedback = {str(reply): str(value) for reply, value in votes}
    return Transcript(
        sender_id,
        tuple(build_turns(events, feedback)),
        frozenset(customer_names(events)),
        outcome=str(summary["outcome"]) if summary else "",
        sentiment=str(summary["sentiment"] or "") if summary else "",
        feedback=str(summary["feedback"]) if summary else "",
    )


def names_by_sender(engine: Engine, senders: Sequence[str]) -> dict[str, frozenset[str]]:
    """The customer names each of `senders`' conversations holds (for masking a page of search results)."""
    if not senders:
        return {}
    t = history
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.sender_id, t.c.data)
            .where(t.c.sender_id.in_(list(senders)), t.c.event.in_(("slot", "bot")))
            .order_by(t.c.id)
        ).all()
    events: dict[str, list[dict[str, Any]]] = {}
    for sender, data in rows:
        events.setdefault(str(sender), []).append(json.loads(data))
    return {sender: frozenset(customer_names(items)) for sender, items in events.items()}


def customer_names(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """The customer's names the conversation holds: name slots an action set, and the `first_name` /
    `customer_name` a response was rendered with."""
    found: set[str] = set()
    for item in events:
        if item.get("event") == "slot" and item.get("name") in NAME_SLOTS and isinstance(item.get("value"), str):
            found.add(str(item["value"]))
        if item.get("event") == "bot":
            values = (item.get("metadata") or {}).get("values") or {}
            for key in ("first_name", "customer_name", "last_name"):
                if isinstance(values.get(key), str):
                    found.add(str(values[key]))
    return {n for n in found if n.strip()}


def build_turns(events: Sequence[Mapping[str, Any]], feedback: Mapping[str, str]) -> list[TurnView]:
    """Group the events into turns (a pure function of the stored events and the votes by reply id)."""
    turns: list[TurnView] = []
    current: dict[str, Any] | None = None

    def close() -> None:
        if current is not None:
            turns.append(
                TurnView(
                    **{k: v for k, v in current.items() if k not in ("actions", "replies", "notes", "timeline")},
                    actions=tuple(current["actions"]),
                    replies=tuple(current["replies"]),
                    notes=tuple(current["notes"]),
                    timeline=tuple(current["timeline"]),
                )
            )

    for item in events:
        kind = item.get("event")
        at = float(item.get("timestamp") or 0.0)
        if kind == "user":
            close()
            parse = item.get("parse_data") or {}
            intent = parse.get("intent") or {}
            mood = parse.get("sentiment") or {}
            if str(intent.get("name") or "").startswith(EXTERNAL_INTENT_PREFIX):  # the shop spoke, not the customer
                note = f"event from the shop: {intent['name']}"
                current = {"at": at, "actions": [], "replies": [], "notes": [note], "timeline": [note]}
                continue
            confidence = intent.get("confidence")
            score = mood.get("score")
            current = {
                "at": at,
                "text": str(item.get("text") or ""),
                "intent": str(intent.get("name") or ""),
                "confidence": float(confidence) if isinstance(confidence, int | float) else None,
                "sentiment": str(mood.get("label") or ""),
                "sentiment_score": float(score) if isinstance(score, int | float) else None,
                "language": str(parse.get("language") or ""),
                "actions": [],
                "replies": [],
                "notes": [],
                "timeline": [],
            }
            continue
        if current is None:
            current = {"at": at, "actions": [], "replies": [], "notes": [], "timeline": []}
        if kind == "action" and item.get("name") and item.get("name") not in NOT_REPLIES:
            current["actions"].append(str(item["name"]))
        elif kind == "bot":
            line = _bot_line(item, at, feedback)
            current["replies"].append(line)
            current["timeline"].append(line)
        elif kind in _NOTES:
            current["notes"].append(_NOTES[str(kind)])
            current["timeline"].append(_NOTES[str(kind)])
    close()
    return turns


def _bot_line(item: Mapping[str, Any], at: float, feedback: Mapping[str, str]) -> BotLine:
    meta = item.get("metadata") or {}
    data = item.get("data") or {}
    sources = data.get("sources") or []
    source = sources[0] if sources and isinstance(sources[0], Mapping) else {}
    agent = meta.get(AGENT_METADATA_KEY) or {}
    reply_id = str(data.get("id") or "")
    return BotLine(
        text=str(item.get("text") or ""),
        at=at,
        response=str(meta.get("response") or ""),
        kind=str(meta.get("kind") or ""),
        entry_id=str(source.get("id") or ""),
        entry_title=str(source.get("title") or ""),
        agent=str(agent.get("name") or "an agent") if isinstance(agent, Mapping) and agent else "",
        reply_id=reply_id,
        feedback=feedback.get(reply_id, "") if reply_id else "",
    )
