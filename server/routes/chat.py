"""The native channel: `POST /chat`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from bot.types import Message
from server.conversation_tokens import TOKEN_REFUSED, TokenHeader, authorize, tokens_of
from server.dependencies import TurnPathDep
from server.errors import NOT_TAKEN
from server.schemas import ChatReply, ChatRequest

router = APIRouter(tags=["chat"])


@router.post(
    "/chat", response_model=ChatReply, response_model_exclude_none=True, responses={**NOT_TAKEN, **TOKEN_REFUSED}
)
async def chat(
    body: ChatRequest, turns: TurnPathDep, request: Request, conversation_token: TokenHeader = None
) -> dict[str, object]:
    """Send one customer message; get the bot's replies (text, buttons, knowledge sources) and the
    conversation's fresh `token`. The first message of a new conversation needs no token; every later one
    sends the last answer's in the `X-Conversation-Token` header (403 otherwise: start a new conversation).
    A 503 means the message was not taken (the bot is starting, or the turn could not be saved): send it
    again after `Retry-After` seconds."""
    await authorize(request.app, turns.assistant, body.sender, conversation_token, starts=True)
    message = Message(body.sender, body.message, body.metadata or {}, input_channel="rest")
    result = await turns.take(message, channel="chat")
    token = tokens_of(request.app).issue(body.sender)
    return {"sender": body.sender, "token": token, "replies": [r.as_dict() for r in result.replies]}
