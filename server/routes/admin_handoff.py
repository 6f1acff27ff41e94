"""Operator endpoints for conversations handed over to a person: list the open tickets, hand back."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from bot.dialogue.handoff import HandoffNotFoundError, HandoffStatus, HandoffTicket, resume_conversation
from server.dependencies import AssistantDep, HandoffsDep
from server.routes.admin_auth import AdminDep
from server.schemas import NOT_FOUND

router = APIRouter(prefix="/admin/handoffs", tags=["admin"])

TicketId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The ticket's id (`supportbot handoff list`).")]
"""A ticket id as the database stores it (a signed 64-bit integer): anything else is a 422, never a 500."""


def _ticket(ticket: HandoffTicket) -> dict[str, Any]:
    data = asdict(ticket)
    data["status"] = ticket.status.value
    data["created_at"] = ticket.created_at.isoformat()
    data["resolved_at"] = ticket.resolved_at.isoformat() if ticket.resolved_at else None
    return data


@router.get("")
async def list_handoffs(_: AdminDep, handoffs: HandoffsDep, status: str = "open") -> dict[str, Any]:
    """Handoff tickets (default: the open ones), newest last, each with the conversation transcript."""
    try:
        wanted = HandoffStatus(status)
    except ValueError as e:
        choices = ", ".join(s.value for s in HandoffStatus)
        raise HTTPException(422, f"status '{status}' is not one of: {choices}") from e
    tickets = await run_in_threadpool(handoffs.tickets, wanted)
    return {"tickets": [_ticket(t) for t in tickets]}


@router.post("/{ticket_id}/resume", responses=NOT_FOUND)
async def resume_handoff(
    ticket_id: TicketId, _: AdminDep, assistant: AssistantDep, handoffs: HandoffsDep
) -> dict[str, Any]:
    """Close the ticket and give the conversation back to the bot."""
    try:
        ticket = await run_in_threadpool(resume_conversation, ticket_id, handoffs, assistant.tracker_store)
    except HandoffNotFoundError as e:
        raise HTTPException(404, str(e)) from e
    return {"ticket": _ticket(ticket), "resumed": True}
