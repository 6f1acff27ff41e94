"""Human handoff: open a ticket with the transcript, tell the customer what happens next, pause the bot.

The ticket goes to the platform's `HandoffStore` (bot/dialogue/handoff.py); an agent answers it live in
the console's inbox (server/console/live.py), or an operator lists tickets and resumes the conversation
with `supportbot handoff list|resume ID` or the admin HTTP endpoints, and resuming appends
`ConversationResumed` to the tracker.

Outside customer service's opening hours the customer is told when a person will reply; when the
conversation already knows an email for them (verified with an order, or written in the request itself)
it is kept on the ticket as where to send the reply, and the customer is told so (`utter_handoff_email_noted`).
"""

from __future__ import annotations

import re
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
VERIFIED_EMAIL_SLOT = "verified_email"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")


def contact_email(tracker: Tracker) -> str | None:
    """Where to reply when nobody is there: the email verified in this conversation, else one written in
    the customer's latest message."""
    verified = tracker.get_slot(VERIFIED_EMAIL_SLOT)
    if isinstance(verified, str) and EMAIL.fullmatch(verified):
        return verified
    found = EMAIL.search(latest_text(tracker))
    return found.group(0) if found else None


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
            email = contact_email(tracker)
            if email is not None:
                self.deps.handoffs.set_contact_email(ticket.id, email)
                utter(dispatcher, "utter_handoff_email_noted", email=email)
            else:  # the next message with an email is kept for the reply (`ActionHandoffNoteEmail`)
                utter(dispatcher, "utter_handoff_ask_email")
        # what the paused conversation keeps telling the customer agrees with what was just said
        return [
            SlotSet("handoff_ticket", str(ticket.id)),
            SlotSet("handoff_offline", next_open is not None),
            SlotSet("handoff_next_open", next_open),
            ConversationPaused(),
        ]


class ActionHandoffNoteEmail(ShopAction):
    """While an offline handoff waits for the team, an email the customer writes is kept on the ticket as
    where to send the reply (the dialogue runs this for a paused conversation's message with an email)."""

    def name(self) -> str:
        return "action_handoff_note_email"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        ticket = str(tracker.get_slot("handoff_ticket") or "")
        found = EMAIL.search(latest_text(tracker))
        if not ticket.isdigit() or found is None:
            return []  # says nothing: the dialogue gives the waiting notice
        self.deps.handoffs.set_contact_email(int(ticket), found.group(0))
        utter(dispatcher, "utter_handoff_email_noted", email=found.group(0))
        return []
