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


class CardOut(BaseModel):
    """A product card; channels show a reply's cards as a carousel under its text."""

    id: str = Field(description="The product's SKU.")
    title: str = Field(description="The product's name.")
    subtitle: str = Field(description='Price, colours and sizes in stock as one line ("€189 · navy, grey · S M L").')
    price: str = Field(description='The formatted price ("€189").')
    image_url: str = Field(description="The product's image (site-relative, e.g. `/products/KN-104/image.svg`).")
    url: str = Field(description="The product page (site-relative, e.g. `/products/KN-104`).")
    colours: list[str] = Field(default_factory=list, description="The colours the product comes in.")
    sizes: list[str] = Field(default_factory=list, description="The sizes in stock (in a shop or online).")
    buttons: list[ButtonOut] = Field(
        default_factory=list,
        description='Actions on this product (e.g. `/product_similar{"sku":"KN-104"}`): a payload is sent back '
        "as a message, like a quick reply's.",
    )


class ReplyOut(BaseModel):
    id: str | None = None
    text: str
    buttons: list[ButtonOut] = Field(default_factory=list)
    sources: list[SourceOut] = Field(default_factory=list)
    image: str | None = None
    custom: dict[str, Any] | None = None
    cards: list[CardOut] = Field(
        default_factory=list, description="Product cards, shown under the text as a horizontal list (a carousel)."
    )


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(min_length=1, max_length=128, description="Conversation id chosen by the client.")
    message: str = Field(description="The customer's text, or a button payload such as /affirm.")
    metadata: dict[str, Any] | None = None


class ChatReply(BaseModel):
    sender: str
    replies: list[ReplyOut]
