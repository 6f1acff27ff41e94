"""The events an action returns, parsed once into typed values and applied to the conversation state.

rasa-sdk actions return Rasa's event dicts (`{"event": "slot", "name": …, "value": …}`). The engine
reads them here, at the boundary, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.dialogue.state import ConversationState, event


@dataclass(frozen=True)
class SlotSet:
    name: str
    value: Any


@dataclass(frozen=True)
class ActiveLoop:
    name: str | None


@dataclass(frozen=True)
class FollowUp:
    name: str


@dataclass(frozen=True)
class Paused:
    pass


@dataclass(frozen=True)
class Resumed:
    pass


@dataclass(frozen=True)
class AllSlotsReset:
    pass


@dataclass(frozen=True)
class OtherEvent:
    """Any other event: kept in the tracker as the action sent it."""

    raw: Mapping[str, Any]


ActionEvent = SlotSet | ActiveLoop | FollowUp | Paused | Resumed | AllSlotsReset | OtherEvent
_IGNORED = frozenset({"user", "bot", "action"})  # an action does not write these


def parse_events(items: Iterable[Mapping[str, Any]]) -> list[ActionEvent]:
    """Typed events of an action result, in order; user, bot and action events are left out."""
    found: list[ActionEvent] = []
    for item in items:
        kind = item.get("event")
        if kind == "slot":
            found.append(SlotSet(str(item.get("name")), item.get("value")))
        elif kind == "active_loop":
            name = item.get("name")
            found.append(ActiveLoop(str(name) if name is not None else None))
        elif kind == "followup":
            found.append(FollowUp(str(item.get("name"))))
        elif kind == "pause":
            found.append(Paused())
        elif kind == "resume":
            found.append(Resumed())
        elif kind == "reset_slots":
            found.append(AllSlotsReset())
        elif kind not in _IGNORED:
            found.append(OtherEvent(dict(item)))
    return found


def requested_slot(events: Sequence[ActionEvent]) -> Any:
    """The `requested_slot` a validator set (Ellipsis when it set none)."""
    value: Any = ...
    for item in events:
        if isinstance(item, SlotSet) and item.name == "requested_slot":
            value = item.value
    return value


def apply_events(state: ConversationState, events: Sequence[ActionEvent]) -> str | None:
    """Apply the events to the state; returns the follow-up action to run, if any."""
    followup: str | None = None
    for item in events:
        if isinstance(item, SlotSet):
            state.set_slot(item.name, item.value)
        elif isinstance(item, ActiveLoop):
            state.active_loop = item.name
            state.add(event("active_loop", name=state.active_loop))
        elif isinstance(item, FollowUp):
            followup = item.name
        elif isinstance(item, Paused):
            state.paused = True
            state.add(event("pause"))
        elif isinstance(item, Resumed):
            state.paused = False
            state.add(event("resume"))
        elif isinstance(item, AllSlotsReset):
            state.slots = {}
            state.add(event("reset_slots"))
        else:
            state.add(dict(item.raw))
    return followup
