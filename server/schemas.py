"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ButtonOut(BaseModel):
    title: str
    payload: str


class SourceOut(BaseModel):
    id: str
    title: str
    file: str
    url: str | None = None


class ReplyOut(BaseModel):
    id: str | None = None
    text: str
    buttons: list[ButtonOut] = Field(default_factory=list)
    sources: list[SourceOut] = Field(default_factory=list)
    image: str | None = None
    custom: dict[str, Any] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(min_length=1, max_length=128, description="Conversation id chosen by the client.")
    message: str = Field(description="The customer's text, or a button payload such as /affirm.")
    metadata: dict[str, Any] | None = None


class ChatReply(BaseModel):
    sender: str
    replies: list[ReplyOut]
