"""The native channel: `POST /chat`."""

from __future__ import annotations

from fastapi import APIRouter

from bot.types import Message
from server.dependencies import TurnPathDep
from server.errors import NOT_TAKEN
from server.schemas import ChatReply, ChatRequest

router = APIRouter(tags=["chat"])


@router.post("/chat", response_model=ChatReply, response_model_exclude_none=True, responses=NOT_TAKEN)
async def chat(body: ChatRequest, turns: TurnPathDep) -> dict[str, object]:
    """Send one customer message; get the bot's replies (text, buttons, knowledge sources). A 503 means the
    message was not taken (the bot is starting, or the turn could not be saved): send it again after
    `Retry-After` seconds."""
    message = Message(body.sender, body.message, body.metadata or {}, input_channel="rest")
    result = await turns.take(message, channel="chat")
    return {"sender": body.sender, "replies": [r.as_dict() for r in result.replies]}
