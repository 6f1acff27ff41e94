"""Request and response bodies of the HTTP API, the customer input types every channel checks
(`CustomerText`, `Metadata`) and the documented error responses (`BAD_REQUEST`, `NOT_FOUND`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from server.errors import ErrorOut

MAX_METADATA_DEPTH = 16
MAX_METADATA_INT = 2**63 - 1


def check_text(text: str) -> str:
    """`text` unchanged; ValueError when it holds a lone UTF-16 surrogate (it cannot be stored or sent)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"holds an unpaired UTF-16 surrogate ({text[e.start]!r} at character {e.start}): send valid Unicode text"
        ) from None
    return text


def check_json_value(value: Any, depth: int = 0, where: str = "metadata") -> None:
    """ValueError naming the place when a JSON value nests deeper than MAX_METADATA_DEPTH, holds an integer
    beyond ±(2^63 - 1) or a string (or key) with a lone surrogate."""
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"{where} nests deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return
    if isinstance(value, int):
        if abs(value) > MAX_METADATA_INT:
            raise ValueError(f"{where} holds a number beyond ±(2^63 - 1)")
    elif isinstance(value, str):
        _checked(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = _checked(str(key), where)
            check_json_value(item, depth + 1, f"{where}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_value(item, depth + 1, f"{where}[{index}]")


def _checked(text: str, where: str) -> str:
    try:
        return check_text(text)
    except ValueError as e:
        raise ValueError(f"{where} {e}") from None


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    check_json_value(value)
    return value


CustomerText = Annotated[str, AfterValidator(check_text)]
"""A customer's text: any Unicode a browser can send, never a lone surrogate."""
Metadata = Annotated[dict[str, Any] | None, AfterValidator(_check_metadata)]
"""Channel metadata: a JSON object at most MAX_METADATA_DEPTH deep, with 64-bit integers and valid text."""

BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON (`invalid_json`) or was refused."}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Not found (`not_found`)."}}


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
    remembered: list[str] | None = Field(
        default=None,
        description='What the bot stored about the customer with this reply ("Berlin as your shop"); channels show '
        "it as a small note under the reply. Omitted when nothing was stored (docs/customers.md).",
    )


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(min_length=1, max_length=128, description="Conversation id chosen by the client.")
    message: CustomerText = Field(description="The customer's text, or a button payload such as /affirm.")
    metadata: Metadata = None


class ChatReply(BaseModel):
    sender: str
    token: str = Field(
        description="The conversation's token: send it with the next message (header `X-Conversation-Token`); "
        "each answer carries a fresh one."
    )
    replies: list[ReplyOut]
