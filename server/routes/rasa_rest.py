"""Rasa's REST channel: `POST /webhooks/rest/webhook`, answered in Rasa's exact response list.

Request `{"sender": "u1", "message": "hi", "metadata": {...}?, "input_channel": "..."?}` (no sender → a
new conversation with a random id, returned as `recipient_id`: unlike Rasa's `"default"`, callers without
a sender never share one conversation). Response: a JSON list, one item per bot message part, each
`{"recipient_id": sender}` plus only the non-null keys among `text`, `image`, `buttons`, `attachment`,
`custom`, rendered as Rasa's `OutputChannel.send_response` does:

- a reply with buttons → one item `{text, buttons}`;
- otherwise its text, stripped, split on blank lines (`"\\n\\n"`) → one item per part;
- then `custom` → `{"custom": {...}}`, then `image` → `{"image": url}`, each its own item;
- then product cards → one `{"attachment": <generic template>}` item, Rasa's carousel
  (`server/product_cards.py`), with addresses made absolute from the request's base URL.

Knowledge sources are not part of Rasa's shape; they stay on the native `POST /chat`. Failures while
handling are logged and answered with a 200 list, as Rasa does — except a turn that could not be saved,
which is never acknowledged: 503 in the JSON error shape with `Retry-After` (`store_unavailable`), as
while the bot is starting (`not_ready`). `?stream=true` answers `text/event-stream`-typed JSON lines instead.

Like Rasa's, this channel trusts its caller with any `sender`: whoever calls it can continue any
conversation. It is meant for servers (a shop backend, a messaging bridge), not browsers: set
`rest_channel_token` and the webhook requires `Authorization: Bearer <rest_channel_token>` (401
`unauthorized` otherwise), so only those servers can use it (docs/security.md).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.types import Message, Reply
from server.dependencies import TurnPathDep
from server.errors import NOT_TAKEN, ErrorOut
from server.product_cards import generic_template
from server.schemas import CustomerText, Metadata

STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Rasa's list of bot messages; with `?stream=true`, the same items as JSON lines.",
        "content": {"application/json": {}, "text/event-stream": {"schema": {"type": "string"}}},
    }
}

router = APIRouter(prefix="/webhooks/rest", tags=["rasa channels"])

CHANNEL = "rest"


class RasaRestRequest(BaseModel):
    """The body Rasa's REST channel accepts."""

    model_config = ConfigDict(extra="ignore")

    sender: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Conversation id (Rasa sender_id). Without one, the message starts a new conversation of its "
        "own (its id is every answer item's `recipient_id`); no two callers ever share a default conversation.",
    )
    message: CustomerText = Field(description="The customer's text, or a payload such as /affirm.")
    metadata: Metadata = Field(None, description="Passed to the bot with the message.")
    input_channel: str | None = Field(None, description="Overrides the channel name the bot sees.")


class RasaButton(BaseModel):
    title: str
    payload: str


class RasaRestMessage(BaseModel):
    """One item of the response list; only the non-null keys are sent."""

    recipient_id: str
    text: str | None = None
    image: str | None = None
    buttons: list[RasaButton] | None = None
    attachment: Any | None = Field(
        None, description="Product cards as Rasa's generic template (`template_type: generic`), a carousel."
    )
    custom: dict[str, Any] | None = None


def rasa_messages(recipient_id: str, replies: Sequence[Reply], base_url: str = "") -> list[dict[str, Any]]:
    """Replies in the order and shape Rasa's CollectingOutputChannel produces them; `base_url` makes the
    product cards' site-relative addresses absolute."""
    items: list[dict[str, Any]] = []
    for reply in replies:
        if reply.buttons:
            buttons = [b.as_dict() for b in reply.buttons]
            items.append({"recipient_id": recipient_id, "text": reply.text, "buttons": buttons})
        elif reply.text:
            items.extend({"recipient_id": recipient_id, "text": part} for part in reply.text.strip().split("\n\n"))
        if reply.custom:
            items.append({"recipient_id": recipient_id, "custom": dict(reply.custom)})
        if reply.image:
            items.append({"recipient_id": recipient_id, "image": reply.image})
        if reply.cards:
            items.append({"recipient_id": recipient_id, "attachment": generic_template(reply.cards, base_url)})
    return items


def require_rest_token(request: Request) -> None:
    """With `rest_channel_token` set, 401 unless the request sends `Authorization: Bearer <it>`."""
    expected = request.app.state.settings.rest_channel_token
    if expected is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            401,
            "this REST channel is for servers: send 'Authorization: Bearer <rest_channel_token>' (docs/security.md)",
            headers={"WWW-Authenticate": "Bearer"},
        )


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "`rest_channel_token` is set and the request did not send it."}
}


@router.get("/")
async def rest_health() -> dict[str, str]:
    """Rasa's channel health check."""
    return {"status": "ok"}


@router.post(
    "/webhook",
    response_model=list[RasaRestMessage],
    response_model_exclude_none=True,
    responses={**NOT_TAKEN, **UNAUTHORIZED, **STREAMED},
    dependencies=[Depends(require_rest_token)],
)
async def rest_webhook(
    body: RasaRestRequest,
    turns: TurnPathDep,
    request: Request,
    stream: bool = Query(False, description="Answer JSON lines (text/event-stream) instead of a list."),
) -> Any:
    """Send one message the way Rasa's REST channel does; get Rasa's list of bot messages."""
    sender = body.sender or f"rest-{secrets.token_hex(16)}"
    message = Message(sender, body.message, body.metadata or {}, input_channel=body.input_channel or CHANNEL)
    result = await turns.take(message, channel=CHANNEL, silent_failures=True)
    items = rasa_messages(sender, result.replies, str(request.base_url))
    if stream:
        return StreamingResponse(_lines(items), media_type="text/event-stream")
    return JSONResponse(items)


async def _lines(items: list[dict[str, Any]]) -> AsyncIterator[str]:
    for item in items:
        yield json.dumps(item, ensure_ascii=False) + "\n"
