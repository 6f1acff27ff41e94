"""Conversation state: a Rasa-compatible tracker (events, slots, active loop) for one sender."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MAX_EVENTS = 400
"""Events kept in the live tracker (actions see these). The full history is appended to the store's
history table; the live tracker stays small so saving it costs the same on turn 5 and turn 500."""


def event(kind: str, **values: Any) -> dict[str, Any]:
    """A Rasa event dict, timestamped."""
    return {"event": kind, "timestamp": time.time(), **values}


@dataclass
class ConversationState:
    sender_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None
    paused: bool = False
    latest_message: dict[str, Any] = field(default_factory=dict)
    latest_action_name: str | None = None
    last_activity: float = 0.0
    session_id: int = 0
    fallback_count: int = 0  # consecutive nlu_fallback turns (two-stage fallback)
    pending_requests: list[dict[str, Any]] = field(default_factory=list)  # `PendingRequest.to_json()`s
    shopping: dict[str, Any] = field(default_factory=dict)  # `ShoppingContext.to_json()`: the last search
    customer: dict[str, Any] = field(default_factory=dict)  # `bot.dialogue.memory`'s notes on this session
    tone: dict[str, Any] = field(default_factory=dict)  # `bot.dialogue.tone`: last turn records, frustration
    known_customer: Any = field(default=None, repr=False)
    """the customer proven for the message being handled (`bot.dialogue.memory.KnownCustomer`); never saved"""
    new_events: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def add(self, item: dict[str, Any]) -> None:
        self.events.append(item)
        self.new_events.append(item)
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS * 3 // 4]

    def set_slot(self, name: str, value: Any) -> None:
        self.slots[name] = value
        self.add(event("slot", name=name, value=value))

    def run_action(self, name: str) -> None:
        self.latest_action_name = name
        self.add(event("action", name=name, policy=None, confidence=1.0))

    def as_tracker(self, *, input_channel: str | None = None) -> dict[str, Any]:
        """The tracker as Rasa sends it to an action server (`current_state`)."""
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": self.latest_message,
            "latest_event_time": self.last_activity,
            "followup_action": None,
            "paused": self.paused,
            "events": list(self.events),
            "latest_input_channel": input_channel,
            "active_loop": {"name": self.active_loop} if self.active_loop else {},
            "latest_action": {"action_name": self.latest_action_name} if self.latest_action_name else {},
            "latest_action_name": self.latest_action_name,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "events": self.events,
            "slots": self.slots,
            "active_loop": self.active_loop,
            "paused": self.paused,
            "latest_message": self.latest_message,
            "latest_action_name": self.latest_action_name,
            "last_activity": self.last_activity,
            "session_id": self.session_id,
            "fallback_count": self.fallback_count,
            "pending_requests": self.pending_requests,
            "shopping": self.shopping,
            "customer": self.customer,
            "tone": self.tone,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationState:
        return cls(
            sender_id=data["sender_id"],
            events=list(data.get("events", [])),
            slots=dict(data.get("slots", {})),
            active_loop=data.get("active_loop"),
            paused=bool(data.get("paused", False)),
            latest_message=dict(data.get("latest_message") or {}),
            latest_action_name=data.get("latest_action_name"),
            last_activity=float(data.get("last_activity", 0.0)),
            session_id=int(data.get("session_id", 0)),
            fallback_count=int(data.get("fallback_count", 0)),
            pending_requests=list(data.get("pending_requests") or []),
            shopping=dict(data.get("shopping") or {}),
            customer=dict(data.get("customer") or {}),
            tone=dict(data.get("tone") or {}),
        )
