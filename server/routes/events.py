"""Events from the shop, Rasa-compatible: `POST /conversations/{sender}/trigger_intent` (docs/proactive.md).

Body as Rasa's: `{"name": "EXTERNAL_order_shipped", "entities": {"order_number": "AN-10001"}}`; query
`output_channel=latest` (Rasa's: send the bot's messages to the channel the customer last used). Admin
auth (`server/routes/admin_auth.py`: `Authorization: Bearer <admin_token>`, 401 without it). The event's
intent runs in the conversation (`bot.proactive.runner`); the bot's messages are stored in it and in the
outbox, and pushed at once to the customer's open widget (`server/push.py`), or when it next connects.

Answer: `{"tracker": {...}, "messages": [Rasa REST items]}`. An event the domain does not declare is 404
`unknown_event`; a missing, undeclared or mistyped entity 422 `invalid_entities`: nothing is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bot.proactive.errors import ProactiveError, UnknownEventError
from server.errors import ErrorOut
from server.push import proactive_of, push_of
from server.routes.admin_auth import AdminDep
from server.routes.rasa_rest import rasa_messages
from server.turns import NotReady

router = APIRouter(tags=["events"])


class TriggerIntentRequest(BaseModel):
    """Rasa's `trigger_intent` body."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="The event's intent, e.g. EXTERNAL_order_shipped.")
    entities: dict[str, Any] | None = Field(None, description="The event's entities by name (docs/proactive.md).")


class EventRefused(HTTPException):
    def __init__(self, error: ProactiveError) -> None:
        super().__init__(404 if isinstance(error, UnknownEventError) else 422, str(error))
        self.code = error.code


REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No admin token sent."},
    403: {"model": ErrorOut, "description": "Wrong admin token, or not loopback without one configured."},
    404: {"model": ErrorOut, "description": "`unknown_event`: the domain declares no such event."},
    422: {"model": ErrorOut, "description": "`invalid_entities` / `invalid_request`: nothing was stored."},
}


@router.post("/conversations/{sender}/trigger_intent", responses=REFUSED)
async def trigger_intent(
    sender: Annotated[str, Path(min_length=1, max_length=128)],
    body: TriggerIntentRequest,
    request: Request,
    _admin: AdminDep,
    output_channel: Annotated[str | None, Query(max_length=64, description="`latest` (Rasa's)")] = None,
) -> dict[str, Any]:
    """Run an external event's intent in `sender`'s conversation and push the bot's message to their widget."""
    service = proactive_of(request.app)
    if service is None:
        raise NotReady()
    try:
        triggered = await run_in_threadpool(service.send_event, sender, body.name, body.entities or {})
    except ProactiveError as e:
        raise EventRefused(e) from e
    hub = push_of(request.app)
    if hub is not None:
        hub.poke()
    return {"tracker": triggered.tracker, "messages": rasa_messages(sender, triggered.replies, str(request.base_url))}
