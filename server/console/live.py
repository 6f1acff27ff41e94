"""Live agent handoff: what an agent does to a handed-over conversation, and how the customer hears it.

    live = live_of(app)
    live.take(ticket_id, agent)          # one wins (HandoffTakenError for the other); "Maria joined…"
    live.send(ticket_id, agent, text)    # a `bot` event with metadata.agent, pushed to the open widget
    live.agent_typing(ticket_id, agent)  # "Maria is typing…" in the widget
    live.hand_back(ticket_id, agent)     # resume_conversation + the bot says it is back (twice: refused)
    live.view(ticket_id, after, agent)   # the ticket and the conversation's events after a timestamp
    live.sweep()                         # agents not seen for console_agent_timeout_seconds lose theirs

Nothing is held in one worker's memory: the ticket lives in the handoff store (SQL), the messages in the
conversation (tracker store) and, for the customer's open widget, in the push outbox (`server/push.py`),
which every worker polls for the sockets it holds. So the agent's request may reach any worker and the
customer's socket may sit on any other. The agent's page polls `view` every `console_poll_seconds`
(which also records that the agent is still there); `sweep` runs in each worker's push loop and each
stale ticket is requeued by exactly one of them (a conditional UPDATE), which tells the customer.

While an agent holds the conversation it stays paused (the bot does not answer) and the slot
`handoff_agent` names the agent (the engine keeps quiet instead of repeating `utter_conversation_paused`).
Customer-facing words are responses in intents/responses.yml: `utter_agent_joined`, `utter_agent_left`,
`utter_handoff_returned` (`agent_name` filled in).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.assistant import Assistant
from bot.config import Settings
from bot.dialogue.handoff import (
    Agent,
    HandoffNotFoundError,
    HandoffNotYoursError,
    HandoffStore,
    HandoffTicket,
    get_handoff_store,
    utc_now,
)
from bot.dialogue.state import ConversationState, event
from bot.dialogue.turn import Turn
from bot.proactive.outbox import Outbox, SqlOutbox
from bot.types import IntentScore, Parse

log = logging.getLogger("supportbot.console.live")

AGENT_SLOT = "handoff_agent"
CHANNEL = "console"
MAX_AGENT_TEXT = 4000
TYPING_SIGNAL = "agent_typing"
SEEN_EVERY_SECONDS = 5.0
"""An agent's polling refreshes their presence at most this often (the timeout is far longer)."""
CUSTOMER_TYPING_SECONDS = 4.0
"""The console shows "typing…" this long after the customer's last typing frame."""


def agent_data(agent: Agent) -> dict[str, Any]:
    """The agent as stored on their messages (`metadata.agent`) and shown to the customer."""
    return {"id": agent.id, "name": agent.name}


@dataclass(frozen=True)
class LiveView:
    """A ticket and the conversation's events newer than the cursor the page sent."""

    ticket: HandoffTicket
    events: list[dict[str, Any]]
    customer_typing: bool
    cursor: float


class LiveHandoff:
    def __init__(
        self,
        assistant: Assistant,
        handoffs: HandoffStore,
        outbox: Outbox,
        *,
        poke: Callable[[], None] = lambda: None,
        timeout_seconds: float = 120.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.assistant = assistant
        self.handoffs = handoffs
        self.outbox = outbox
        self.poke = poke
        self.timeout = timedelta(seconds=timeout_seconds)
        self.clock = clock

    # -- the agent's actions --------------------------------------------------------------------------
    def take(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        """Take the waiting conversation; the customer is told who joined. HandoffTakenError for the loser."""
        before = self._ticket(ticket_id)
        ticket = self.handoffs.take(ticket_id, agent)
        if before.taken and before.agent == agent:
            return ticket  # taken again by the same agent (a reload): nothing to tell
        self._say(
            ticket.sender_id,
            "utter_agent_joined",
            {"agent_name": agent.name},
            lambda state: state.set_slot(AGENT_SLOT, agent.name),
            {"agent": agent_data(agent), "handoff": "joined"},
        )
        return ticket

    def send(self, ticket_id: int, agent: Agent, text: str) -> dict[str, Any]:
        """The agent's message: kept in the conversation as a `bot` event whose data and metadata carry
        `agent` {id, name}, and pushed to the customer's open widget. Returns the event."""
        ticket = self._held(ticket_id, agent)
        text = text.strip()[:MAX_AGENT_TEXT]
        if not text:
            raise ValueError("the message is empty: type a reply first")
        reply_id = uuid.uuid4().hex[:16]
        who = agent_data(agent)
        stored = event("bot", text=text, data={"id": reply_id, "metadata": {"agent": who}}, metadata={"agent": who})
        stored["metadata"]["kind"] = "agent"
        ts = self.assistant.tracker_store
        with ts.lock(ticket.sender_id):
            state = ts.load(ticket.sender_id) or ConversationState(ticket.sender_id)
            state.add(stored)
            ts.save(state)
        self._push(ticket.sender_id, [{"id": reply_id, "text": text, "agent": who, "handoff": "message"}])
        return stored

    def agent_typing(self, ticket_id: int, agent: Agent) -> None:
        ticket = self._held(ticket_id, agent)
        self._push(ticket.sender_id, [{"signal": TYPING_SIGNAL, "agent": agent_data(agent)}])

    def hand_back(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        """Close the ticket and give the conversation back to the bot, which says so. A second hand back
        raises HandoffClosedError and changes nothing; a conversation another agent holds, HandoffTakenError
        (checked by the close itself, so an agent taking it meanwhile cannot lose it to this hand back)."""
        ticket = self.handoffs.close(ticket_id, agent)

        def resume(state: ConversationState) -> None:
            if state.paused:
                state.paused = False
                state.add(event("resume"))
            state.set_slot(AGENT_SLOT, None)

        self._say(
            ticket.sender_id, "utter_handoff_returned", {"agent_name": agent.name}, resume, {"handoff": "returned"}
        )
        return ticket

    def view(self, ticket_id: int, after: float, agent: Agent | None = None) -> LiveView:
        """The ticket and the events after `after` (a timestamp; 0 = the whole conversation, last 500).
        Asking is what keeps a taken ticket the agent's (`seen`)."""
        ticket = self._ticket(ticket_id)
        seen_at = ticket.agent_seen_at
        due = seen_at is None or (self.clock() - seen_at).total_seconds() >= SEEN_EVERY_SECONDS
        if agent is not None and ticket.agent == agent and due:  # a write every few seconds, not every poll
            self.handoffs.seen(ticket_id, agent.id)
        events = [e for e in self.assistant.history(ticket.sender_id, 500) if _stamp(e) > after]
        cursor = max([after, *(_stamp(e) for e in events)])
        typing_at = ticket.customer_typing_at
        typing = typing_at is not None and (self.clock() - typing_at).total_seconds() < CUSTOMER_TYPING_SECONDS
        return LiveView(ticket, events, typing, cursor)

    def customer_typing(self, sender_id: str) -> None:
        self.handoffs.customer_typing(sender_id)

    # -- the queue ------------------------------------------------------------------------------------
    def sweep(self) -> list[HandoffTicket]:
        """Requeue the conversations whose agent has not been seen for the timeout; tell each customer."""
        requeued = self.handoffs.requeue_stale(self.clock() - self.timeout)
        for ticket in requeued:
            name = ticket.agent.name if ticket.agent else ""
            log.info("handoff %s returned to the queue: %s was not seen for %s", ticket.id, name, self.timeout)
            self._say(
                ticket.sender_id,
                "utter_agent_left",
                {"agent_name": name},
                lambda state: state.set_slot(AGENT_SLOT, None),
                {"handoff": "left"},
            )
        return requeued

    # -- helpers --------------------------------------------------------------------------------------
    def _ticket(self, ticket_id: int) -> HandoffTicket:
        ticket = self.handoffs.get(ticket_id)
        if ticket is None:
            raise HandoffNotFoundError(ticket_id)
        return ticket

    def _held(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        ticket = self._ticket(ticket_id)
        if not ticket.taken or ticket.agent is None or ticket.agent.id != agent.id:
            raise HandoffNotYoursError(ticket, "take this conversation first: you are not answering it now")
        return ticket

    def _say(
        self,
        sender: str,
        response: str,
        values: Mapping[str, Any],
        change: Callable[[ConversationState], None],
        extra: Mapping[str, Any],
    ) -> None:
        """Change the conversation, say `response` in it (one save, under its lock) and push it."""
        ts = self.assistant.tracker_store
        turn = Turn(Parse("", IntentScore("", 1.0)), None, CHANNEL, {})
        with ts.lock(sender):
            state = ts.load(sender) or ConversationState(sender)
            change(state)
            self.assistant.engine.utter(state, turn, response, values)
            ts.save(state)
        self._push(sender, [{**r.as_dict(), **extra} for r in turn.replies])

    def _push(self, sender: str, items: Sequence[dict[str, Any]]) -> None:
        if items:
            self.outbox.put(sender, items)
            self.poke()


def _stamp(item: Mapping[str, Any]) -> float:
    value = item.get("timestamp")
    return float(value) if isinstance(value, int | float) else 0.0


_lock = threading.Lock()


def live_of(app: Any) -> LiveHandoff:
    """A `LiveHandoff` over the app's current assistant, handoff store (`app.state.handoffs`, else the
    settings' database: the one the handoff action writes to) and push hub (its outbox and `poke`)."""
    from server.push import push_of
    from server.turns import ready_assistant

    settings: Settings = app.state.settings
    hub = push_of(app)
    with _lock:
        outbox: Outbox | None = hub.outbox if hub is not None else getattr(app.state, "live_outbox", None)
        if outbox is None:
            outbox = SqlOutbox.from_url(settings.resolved_database_url)
            app.state.live_outbox = outbox
    handoffs: HandoffStore | None = getattr(app.state, "handoffs", None)
    return LiveHandoff(
        ready_assistant(app),
        handoffs if handoffs is not None else get_handoff_store(),
        outbox,
        poke=hub.poke if hub is not None else (lambda: None),
        timeout_seconds=settings.console_agent_timeout_seconds,
    )
