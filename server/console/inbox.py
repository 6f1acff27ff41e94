"""Console: the inbox of conversations waiting for a person, and the live conversation (docs/console.md).

    GET  /console                                   the inbox page (polls /console/api/inbox)
    GET  /console/api/inbox                         waiting conversations (oldest first) and the taken ones
    GET  /console/handoffs/{id}                     one conversation, live (polls …/events)
    GET  /console/api/handoffs/{id}/events?after=   the ticket and the events after a timestamp cursor
    POST /console/api/handoffs/{id}/take            one agent wins; the others get 409 handoff_taken
    POST /console/api/handoffs/{id}/messages        {"text"}: the agent's reply, pushed to the widget
    POST /console/api/handoffs/{id}/typing          "Maria is typing…" in the widget
    POST /console/api/handoffs/{id}/hand-back       the bot takes over again (twice: 409 handoff_closed)

Any signed-in member (agent and up) may use them; every POST needs the CSRF header and is audited. The
work is `server/console/live.py`; this module parses, calls it and shapes the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.customers.identity import VERIFIED_EMAIL_SLOT
from bot.dialogue.handoff import (
    Agent,
    HandoffClosedError,
    HandoffConflictError,
    HandoffNotFoundError,
    HandoffStatus,
    HandoffTakenError,
    HandoffTicket,
    utc_now,
)
from bot.dialogue.memory import proven_identities
from bot.dialogue.state import ConversationState
from server.console.access import RequireRole, StaffMember, StaffRole, audit, render, require_csrf
from server.console.live import MAX_AGENT_TEXT, LiveHandoff, LiveView, live_of
from server.errors import error_body

T = TypeVar("T")

router = APIRouter(prefix="/console", include_in_schema=False)

Member = Annotated[StaffMember, Depends(RequireRole(StaffRole.AGENT))]
Csrf = Depends(require_csrf)
TicketId = Annotated[int, Path(ge=1, le=2**63 - 1)]
VERIFIED_ORDER_SLOT = "verified_order"
"""The slot holding the order the customer verified with its email in this conversation."""
TRIED_TURNS = 3


class AgentMessage(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_AGENT_TEXT)


def agent_of(staff: StaffMember) -> Agent:
    return Agent(staff.id, staff.display_name or staff.email)


# -- shaping ---------------------------------------------------------------------------------------------
def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def ticket_out(ticket: HandoffTicket, now: datetime) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "sender_id": ticket.sender_id,
        "status": "handed_back" if ticket.status is HandoffStatus.RESOLVED else "taken" if ticket.taken else "waiting",
        "reason": ticket.reason,
        "created_at": _iso(ticket.created_at),
        "waiting_seconds": max(0, int((now - ticket.created_at).total_seconds())),
        "agent": {"id": ticket.agent.id, "name": ticket.agent.name} if ticket.agent else None,
        "taken_at": _iso(ticket.taken_at),
        "resolved_at": _iso(ticket.resolved_at),
        "contact_email": ticket.contact_email,
    }


def event_out(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """A conversation event as the live view shows it (None for events it does not show)."""
    kind = item.get("event")
    at = item.get("timestamp")
    if kind == "user":
        metadata = item.get("metadata") or {}
        if isinstance(metadata, Mapping) and metadata.get("silent"):
            return None
        parse = item.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name")
        return {"role": "customer", "text": str(item.get("text") or ""), "at": at, "intent": intent}
    if kind == "bot":
        agent = (item.get("metadata") or {}).get("agent")
        if isinstance(agent, Mapping):
            return {"role": "agent", "text": str(item.get("text") or ""), "at": at, "agent": agent.get("name")}
        return {"role": "bot", "text": str(item.get("text") or ""), "at": at}
    return None


def transcript(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [shown for shown in (event_out(e) for e in events) if shown is not None]


def latest_sentiment(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The sentiment of the customer's latest message ({"label", "score"} in its parse data)."""
    for item in reversed(events):
        if item.get("event") != "user":
            continue
        found = (item.get("parse_data") or {}).get("sentiment") or (item.get("metadata") or {}).get("sentiment")
        if isinstance(found, Mapping):
            return {"label": found.get("label"), "score": found.get("score")}
    return None


def what_the_bot_tried(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last TRIED_TURNS customer messages with the intent understood, the actions run and the knowledge
    entries answered with."""
    turns: list[dict[str, Any]] = []
    for item in events:
        kind = item.get("event")
        if kind == "user" and not (item.get("metadata") or {}).get("silent"):
            intent = (item.get("parse_data") or {}).get("intent") or {}
            turns.append(
                {
                    "text": str(item.get("text") or ""),
                    "intent": intent.get("name"),
                    "confidence": intent.get("confidence"),
                    "actions": [],
                    "entries": [],
                }
            )
        elif turns and kind == "action" and item.get("name") not in (None, "action_listen"):
            turns[-1]["actions"].append(item["name"])
        elif turns and kind == "bot":
            for source in (item.get("data") or {}).get("sources") or []:
                title = source.get("title") or source.get("id")
                if title and title not in turns[-1]["entries"]:
                    turns[-1]["entries"].append(title)
    return turns[-TRIED_TURNS:]


def identity_of(state: ConversationState | None) -> dict[str, str]:
    """Who the customer proved to be: `shop_customer` (the shop's customer id, from the signed token of a
    customer signed in on the shop's site), `email` and `order` (an order number verified with its email).
    Read from the customer memory's session notes (`proven_identities`) and the verification slots; empty
    when the customer is anonymous."""
    if state is None:
        return {}
    found: dict[str, str] = {}
    for identity in proven_identities(state):
        found["shop_customer" if identity.kind == "shop" else "email"] = identity.value
    for key, slot in (("email", VERIFIED_EMAIL_SLOT), ("order", VERIFIED_ORDER_SLOT)):
        value = state.slots.get(slot)
        if key not in found and isinstance(value, str) and value.strip():
            found[key] = value.strip()
    return found


def summary(live: LiveHandoff, ticket: HandoffTicket, now: datetime) -> dict[str, Any]:
    """A ticket for the inbox: the transcript, identity, sentiment and what the bot tried."""
    events = live.assistant.history(ticket.sender_id, 300)
    state = live.assistant.tracker_store.load(ticket.sender_id)
    session = state.events if state is not None else events  # with the actions run (history has only messages)
    return {
        **ticket_out(ticket, now),
        "transcript": transcript(events)[-40:],
        "identity": identity_of(state),
        "sentiment": latest_sentiment(events),
        "tried": what_the_bot_tried(session),
    }


def inbox_data(live: LiveHandoff) -> dict[str, Any]:
    now = utc_now()
    tickets = live.handoffs.tickets(HandoffStatus.OPEN)
    waiting = [summary(live, t, now) for t in tickets if t.waiting]
    taken = [ticket_out(t, now) for t in tickets if t.taken]
    return {"waiting": waiting, "taken": taken, "count": len(waiting)}


def view_out(view: LiveView) -> dict[str, Any]:
    return {
        "ticket": ticket_out(view.ticket, utc_now()),
        "events": transcript(view.events),
        "customer_typing": view.customer_typing,
        "cursor": view.cursor,
    }


async def _live_call(call: Callable[..., T], *args: Any) -> T | JSONResponse:
    """Run a live-handoff change in the thread pool; a conflict (409) or an unknown ticket (404) comes back
    as the JSON error response instead of raising."""
    try:
        return await run_in_threadpool(call, *args)
    except HandoffConflictError as e:
        return _conflict(e)
    except HandoffNotFoundError as e:
        return _not_found(e)


def _conflict(error: HandoffConflictError) -> JSONResponse:
    code = (
        "handoff_taken"
        if isinstance(error, HandoffTakenError)
        else "handoff_closed"
        if isinstance(error, HandoffClosedError)
        else "handoff_not_yours"
    )
    body = error_body(code, str(error))
    body["ticket"] = ticket_out(error.ticket, utc_now())
    return JSONResponse(body, status_code=409)


def _not_found(error: HandoffNotFoundError) -> JSONResponse:
    return JSONResponse(error_body("not_found", f"no handoff {error.ticket_id}: it may have been purged"), 404)


# -- pages -----------------------------------------------------------------------------------------------
@router.get("")
async def inbox_page(request: Request, staff: Member) -> Response:
    live = live_of(request.app)
    data = await run_in_threadpool(inbox_data, live)
    return render(request, "console/inbox.html", {"inbox": data})


@router.get("/handoffs/{ticket_id}")
async def handoff_page(request: Request, ticket_id: TicketId, staff: Member) -> Response:
    live = live_of(request.app)
    ticket = await run_in_threadpool(live.handoffs.get, ticket_id)
    if ticket is None:
        message = f"There is no handoff {ticket_id}; it may have been purged. Go back to the inbox."
        return render(request, "console/error.html", {"message": message}, status_code=404)
    data = await run_in_threadpool(summary, live, ticket, utc_now())
    poll_ms = int(request.app.state.settings.console_poll_seconds * 1000)
    return render(request, "console/handoff.html", {"ticket": data, "poll_ms": poll_ms, "agent_id": staff.id})


# -- JSON ------------------------------------------------------------------------------------------------
@router.get("/api/inbox")
async def inbox_api(request: Request, staff: Member) -> dict[str, Any]:
    return await run_in_threadpool(inbox_data, live_of(request.app))


@router.get("/api/handoffs/{ticket_id}/events", response_model=None)
async def events_api(
    request: Request, ticket_id: TicketId, staff: Member, after: Annotated[float, Query(ge=0)] = 0
) -> dict[str, Any] | JSONResponse:
    live = live_of(request.app)
    try:
        view = await run_in_threadpool(live.view, ticket_id, after, agent_of(staff))
    except HandoffNotFoundError as e:
        return _not_found(e)
    return view_out(view)


@router.post("/api/handoffs/{ticket_id}/take", response_model=None, dependencies=[Csrf])
async def take_api(request: Request, ticket_id: TicketId, staff: Member) -> dict[str, Any] | JSONResponse:
    ticket = await _live_call(live_of(request.app).take, ticket_id, agent_of(staff))
    if isinstance(ticket, JSONResponse):
        return ticket
    audit(request, "handoff.take", f"handoff:{ticket_id}", ticket.sender_id)
    return {"ticket": ticket_out(ticket, utc_now())}


@router.post("/api/handoffs/{ticket_id}/messages", response_model=None, status_code=201, dependencies=[Csrf])
async def message_api(
    request: Request, ticket_id: TicketId, body: AgentMessage, staff: Member
) -> dict[str, Any] | JSONResponse:
    if not body.text.strip():
        return JSONResponse(error_body("invalid_request", "the message is empty: type a reply first"), 422)
    stored = await _live_call(live_of(request.app).send, ticket_id, agent_of(staff), body.text)
    if isinstance(stored, JSONResponse):
        return stored
    audit(request, "handoff.message", f"handoff:{ticket_id}")
    return {"event": event_out(stored)}


@router.post("/api/handoffs/{ticket_id}/typing", status_code=204, response_model=None, dependencies=[Csrf])
async def typing_api(request: Request, ticket_id: TicketId, staff: Member) -> Response:
    failed = await _live_call(live_of(request.app).agent_typing, ticket_id, agent_of(staff))
    if isinstance(failed, JSONResponse):
        return failed
    return Response(status_code=204)  # not audited: a signal, not a change


@router.post("/api/handoffs/{ticket_id}/hand-back", response_model=None, dependencies=[Csrf])
async def hand_back_api(request: Request, ticket_id: TicketId, staff: Member) -> dict[str, Any] | JSONResponse:
    ticket = await _live_call(live_of(request.app).hand_back, ticket_id, agent_of(staff))
    if isinstance(ticket, JSONResponse):
        return ticket
    audit(request, "handoff.hand_back", f"handoff:{ticket_id}", ticket.sender_id)
    return {"ticket": ticket_out(ticket, utc_now())}
