"""The widget's request and response bodies: HTTP (`/conversations/{sender}/history`, `/feedback`) and
the frames a client sends on `WS /ws/chat` (docs/widget.md). Replies have the `POST /chat` shape
(`server/schemas.py`). Frames carry the conversation's token as `token`; HTTP requests send it in the
`X-Conversation-Token` header (`server/conversation_tokens.py`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.feedback import MAX_COMMENT_CHARS
from server.conversation_tokens import MAX_TOKEN_CHARS
from server.schemas import ButtonOut, CardOut, CustomerText, Metadata, ReplyOut, SourceOut

SenderId = Annotated[
    CustomerText, Field(min_length=1, max_length=128, description="Conversation id chosen by the client.")
]
FrameToken = Annotated[
    CustomerText | None,
    Field(
        max_length=MAX_TOKEN_CHARS,
        description="The conversation's token (the `token` of the last answer); not needed to start a conversation.",
    ),
]
TokenOut = Annotated[
    str, Field(description="The conversation's fresh token: send it with the next request in this conversation.")
]


class HistoryMessage(BaseModel):
    """One line of a conversation as the widget shows it."""

    role: Literal["user", "bot", "separator"]
    text: str = ""
    id: str | None = None
    buttons: list[ButtonOut] = Field(default_factory=list)
    sources: list[SourceOut] = Field(default_factory=list)
    cards: list[CardOut] = Field(default_factory=list, description="Product cards of a bot reply.")
    time: float | None = Field(None, description="Unix timestamp (seconds).")
    kind: str | None = Field(None, description="For separators: `session_started` or `restart`.")
    feedback: Literal["up", "down"] | None = Field(None, description="The customer's vote on this reply.")


class HistoryOut(BaseModel):
    sender: str
    token: TokenOut
    messages: list[HistoryMessage]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: SenderId
    reply_id: CustomerText = Field(
        min_length=1, max_length=128, description="The `id` of a reply the bot sent in this conversation."
    )
    value: Literal["up", "down"]
    comment: CustomerText | None = Field(None, max_length=MAX_COMMENT_CHARS)


class FeedbackOut(BaseModel):
    sender: str
    token: TokenOut
    reply_id: str
    value: Literal["up", "down"]
    comment: str | None = None
    replies: list[ReplyOut] = Field(
        default_factory=list,
        description="The bot's answer to a thumbs down (an apology, other answers and a person as quick replies); "
        "empty for a thumbs up or a vote repeated.",
    )


class MessageFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["message"]
    sender: SenderId
    text: CustomerText = Field(max_length=20_000)
    metadata: Metadata = None
    id: CustomerText | None = Field(None, max_length=128, description="Client message id, echoed as `in_reply_to`.")
    token: FrameToken = None


class HistoryFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["history"]
    sender: SenderId
    limit: int = Field(200, ge=1, le=1000)
    token: FrameToken = None


ClientFrame = Annotated[MessageFrame | HistoryFrame, Field(discriminator="type")]
client_frame: TypeAdapter[MessageFrame | HistoryFrame] = TypeAdapter(ClientFrame)
