"""Human handoff: open a ticket with the transcript, tell the customer what happens next, pause the bot.

The ticket goes to the platform's `HandoffStore` (bot/dialogue/handoff.py); an operator lists tickets and
resumes the conversation with `supportbot handoff list|resume ID` or the admin HTTP endpoints, and
resuming appends `ConversationResumed` to the tracker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import DomainDict, Events, ShopAction, Wording, latest_text, utter
from bot.actions.hours import HoursFormatter
from bot.dialogue.handoff import TranscriptLine

MAX_TRANSCRIPT_LINES = 200
CUSTOMER_SERVICE = "customer_service"


def transcript(events: list[dict[str, Any]]) -> list[TranscriptLine]:
    """The customer and bot lines of the tracker events, oldest first (the last MAX_TRANSCRIPT_LINES)."""
    lines: list[TranscriptLine] = []
    for item in events:
        kind = item.get("event")
        text = item.get("text")
        if kind not in ("user", "bot") or not text:
            continue
        stamp = item.get("timestamp")
        at = datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int | float) else None
        lines.append(TranscriptLine("customer" if kind == "user" else "bot", str(text), at))
    return lines[-MAX_TRANSCRIPT_LINES:]


class ActionHumanHandoff(ShopAction):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        ticket = self.deps.handoffs.open(
            tracker.sender_id, latest_text(tracker)[:200], transcript(list(tracker.events))
        )
        stores = self.deps.stores
        service = stores.shops.get(CUSTOMER_SERVICE)
        now = self.deps.now()
        next_open: str | None = None
        if service is None or service.open_range_at(now) is not None:
            utter(dispatcher, "utter_handoff_opened", ticket_id=ticket.id)
        else:
            next_open = HoursFormatter(Wording(domain)).next_open(service, now)
            utter(dispatcher, "utter_handoff_opened_closed", ticket_id=ticket.id, next_open=next_open)
        # what the paused conversation keeps telling the customer agrees with what was just said
        return [
            SlotSet("handoff_ticket", str(ticket.id)),
            SlotSet("handoff_offline", next_open is not None),
            SlotSet("handoff_next_open", next_open),
            ConversationPaused(),
        ]
