"""The native channel: `POST /chat`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from bot.types import Message
from server.dependencies import AssistantDep
from server.limits import enforce_sender_limit
from server.observability import metrics_of, record_turn
from server.schemas import ChatReply, ChatRequest
from server.turns import run_turn

router = APIRouter(tags=["chat"])


@router.post("/chat", response_model=ChatReply, response_model_exclude_none=True)
async def chat(body: ChatRequest, assistant: AssistantDep, request: Request) -> dict[str, object]:
    """Send one customer message; get the bot's replies (text, buttons, knowledge sources)."""
    enforce_sender_limit(request.app, body.sender)
    message = Message(body.sender, body.message, body.metadata or {}, input_channel="rest")
    result = await run_turn(request.app, assistant, message)
    record_turn(metrics_of(request.app), result, channel="chat")
    return {"sender": body.sender, "replies": [r.as_dict() for r in result.replies]}
