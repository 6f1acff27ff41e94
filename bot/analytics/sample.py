"""Known conversations for the console's tests, screenshots and demos: ten conversations of one day (and one
of the day before), written through the real stores in exactly the shape the engine stores, with figures
worked out by hand (`SAMPLE_FIGURES`). `seed_sample(engine, day, zone)` writes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Engine

from bot.dialogue.state import ConversationState
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.feedback import Feedback, SqlFeedbackStore

AGENT = {"id": 1, "name": "Ada Agent"}


@dataclass
class _Conversation:
    sender: str
    day: date
    zone: tzinfo
    events: list[dict[str, Any]] = field(default_factory=list)
    votes: list[tuple[str, str, float]] = field(default_factory=list)
    clock: float = 0.0

    def at(self, hhmmss: str) -> _Conversation:
        moment = datetime.combine(self.day, time.fromisoformat(hhmmss), self.zone)
        self.clock = moment.timestamp()
        return self

    def _add(self, kind: str, seconds: float = 1.0, **values: Any) -> None:
        self.events.append({"event": kind, "timestamp": self.clock, **values})
        self.clock += seconds

    def user(self, text: str, intent: str, confidence: float, mood: tuple[str, float] | None) -> _Conversation:
        parse: dict[str, Any] = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": [],
            "intent_ranking": [{"name": intent, "confidence": confidence}],
            "language": "en",
        }
        if mood is not None:
            parse["sentiment"] = {"label": mood[0], "score": mood[1]}
        self._add("user", text=text, parse_data=parse, input_channel="widget", message_id=f"m{len(self.events)}",
                  metadata={})  # fmt: skip
        return self

    def action(self, name: str) -> _Conversation:
        self._add("action", 0.0, name=name, policy=None, confidence=1.0)
        return self

    def say(
        self,
        text: str,
        response: str = "",
        *,
        kind: str = "response",
        source: tuple[str, str] | None = None,
        vote: str | None = None,
        agent: bool = False,
        after: float = 1.0,
    ) -> _Conversation:
        reply_id = f"{self.sender}-r{len(self.events)}"
        data: dict[str, Any] = {"buttons": [], "id": reply_id}
        if source is not None:
            data["sources"] = [{"id": source[0], "title": source[1], "file": "faq/sample.md"}]
        metadata: dict[str, Any] = {"kind": "agent" if agent else kind}
        if response:
            if not agent:
                self.action(response)
            metadata["response"] = response
        if agent:
            metadata["agent"] = dict(AGENT)
        self._add("bot", after, text=text, data=data, metadata=metadata)
        if vote is not None:
            self.votes.append((reply_id, vote, self.clock + 30))
        return self

    def event(self, kind: str, seconds: float = 1.0, **values: Any) -> _Conversation:
        self._add(kind, seconds, **values)
        return self


NEUTRAL, LIFTED = ("neutral", 0.0), ("neutral", 0.05)
RETURNS = ("returns-window", "How long do I have to return an item?")
HOURS = ("opening-hours", "When are you open?")


def sample_conversations(day: date, zone: tzinfo) -> list[_Conversation]:
    def c(sender: str, on: date = day) -> _Conversation:
        return _Conversation(sender, on, zone)

    return [
        c("c01").at("08:00:00").user("", "EXTERNAL_order_shipped", 1.0, None).action("action_order_shipped")
        .say("Your order AN-12345 has shipped.", kind="action")
        .at("09:05:00").user("Where is my order AN-12345?", "order_status", 0.93, NEUTRAL)
        .action("action_order_status").say("It arrives tomorrow.", kind="action"),
        c("c02").at("09:40:00").user("How long do returns take?", "faq", 0.88, LIFTED)
        .action("action_knowledge_answer").say("You have 30 days.", kind="knowledge", source=RETURNS, vote="up"),
        c("c03").at("10:10:00").user("what are your opening hours", "faq", 0.9, ("positive", 0.6))
        .action("action_knowledge_answer").say("9 to 7.", kind="knowledge", source=HOURS, vote="up")
        .at("10:11:00").user("thanks!", "thank", 0.95, ("positive", 0.8)).say("You're welcome!", "utter_thank"),
        c("c04").at("10:30:00").user("blorf zzz", "nlu_fallback", 0.3, NEUTRAL)
        .say("Sorry, I didn't get that.", "utter_default"),
        c("c05").at("11:15:00").user("Do you ship to Mars?", "faq", 0.7, NEUTRAL)
        .action("action_knowledge_unknown").say("I don't know that yet.", kind="knowledge", vote="down"),
        c("c06").at("14:00:00").user("I want a person", "human_handoff", 0.97, ("negative", -0.7))
        .action("action_human_handoff").event("pause", 0.0).say("A person will answer you here.", kind="action")
        .at("14:01:31").say("Hello, Ada here. How can I help?", agent=True),
        c("c07").at("14:20:00").user("This is useless, get me a human", "human_handoff", 0.95, ("negative", -0.9))
        .action("action_human_handoff").event("pause", 0.0).say("A person will answer you here.", kind="action")
        .at("14:23:31").say("Sorry for the wait, I'm on it.", agent=True)
        .at("14:25:00").say("Your refund is on its way.", agent=True).event("resume"),
        c("c08").at("16:45:00").user("Do you have the wool coat in M?", "faq", 0.6, NEUTRAL)
        .action("action_knowledge_suggest").say("Did you mean: returns?", kind="knowledge")
        .at("16:46:00").user("yes the returns one", "faq", 0.85, NEUTRAL)
        .action("action_knowledge_answer").say("You have 30 days.", kind="knowledge", source=RETURNS, vote="up"),
        c("c09").at("18:05:00")
        .user("Cancel my order AN-55555, I'm Jane Roe, jane@example.com", "cancel_order", 0.91, ("negative", -0.4))
        .event("slot", 0.0, name="first_name", value="Jane").event("slot", 0.0, name="last_name", value="Roe")
        .action("action_ask_cancel_order_confirmed").say("Cancel order AN-55555, Jane?", kind="form")
        .at("18:06:00").user("yes", "affirm", 0.99, NEUTRAL).action("action_submit_cancel_order")
        .say("Done: order AN-55555 is cancelled.", kind="action"),
        c("c10").at("21:30:00").user("hello", "greet", 0.99, ("positive", 0.5))
        .say("Hi! How can I help?", "utter_greet")
        .at("21:31:00").user("asdf qwer", "nlu_fallback", 0.2, NEUTRAL)
        .say("Sorry, I didn't get that.", "utter_default"),
        c("c11", day - timedelta(days=1)).at("12:00:00").user("an old question", "faq", 0.9, NEUTRAL)
        .action("action_knowledge_answer").say("An old answer.", kind="knowledge", source=HOURS, vote="down"),
    ]  # fmt: skip


def seed_sample(engine: Engine, day: date, zone: tzinfo) -> list[str]:
    """Write the sample conversations (and their votes) into the database of `engine`; their sender ids."""
    store = SqlTrackerStore(engine)
    written: list[str] = []
    for conversation in sample_conversations(day, zone):
        write_conversation(store, conversation.sender, conversation.events)
        for reply_id, value, at in conversation.votes:
            votes = SqlFeedbackStore(engine, clock=_fixed(at))
            votes.record(Feedback(conversation.sender, reply_id, "up" if value == "up" else "down"))
        written.append(conversation.sender)
    return written


def _fixed(at: float) -> Callable[[], float]:
    return lambda: at


def write_conversation(store: SqlTrackerStore, sender: str, events: Sequence[dict[str, Any]]) -> None:
    """Append `events` (engine-shaped dicts with timestamps) to `sender`'s conversation, as the engine saves."""
    state = store.load(sender) or ConversationState(sender)
    for item in events:
        state.add(dict(item))
    state.paused = any(e["event"] == "pause" for e in events) and events[-1]["event"] != "resume"
    store.save(state)
