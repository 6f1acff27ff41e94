"""Product cards in Rasa's shapes: one generic template attachment per reply, what rasa-webchat shows as a
carousel (docs/widget.md, "Product cards"):

    {"type": "template", "payload": {"template_type": "generic", "elements": [
        {"title", "subtitle", "image_url", "default_action": {"type": "web_url", "url"},
         "buttons": [{"type": "postback", "title", "payload"}…, {"type": "web_url", "title", "url"}]}…]}}

Cards carry site-relative addresses (`/products/KN-104`); Rasa's channels may be embedded on another
site, so they get absolute ones, made from the request's base URL. The web_url button's title is
`page_link` of the product wording (`server/product_words.py`); when it is empty, or the wording file is
broken (the error is logged), there is no such button: the element's `default_action` still opens the page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot import errors
from bot.types import Card
from server.product_words import page_link_title

log = logging.getLogger("supportbot.channels")


def absolute_url(base_url: str, url: str) -> str:
    """`url` made absolute against the app's base URL (`http://host/root/`). A site-relative address
    (`/products/KN-104`) is relative to the app's root, so an app mounted under a path keeps it."""
    if not url or urlsplit(url).scheme:
        return url
    base = base_url if base_url.endswith("/") else base_url + "/"
    if url.startswith("/") and not url.startswith("//"):
        url = url.lstrip("/")
    return urljoin(base, url)


def generic_template(cards: Sequence[Card], base_url: str, page_link: str | None = None) -> dict[str, Any]:
    """The cards as one Rasa generic template attachment; `page_link` defaults to the wording file's."""
    title = _page_link_title() if page_link is None else page_link.strip()
    elements = [_element(card, base_url, title) for card in cards]
    return {"type": "template", "payload": {"template_type": "generic", "elements": elements}}


def _page_link_title() -> str:
    try:
        return page_link_title()
    except errors.TemplateError:  # the cards still go out, without the button
        log.exception("product cards are sent without their product page button")
        return ""


def _element(card: Card, base_url: str, page_link: str) -> dict[str, Any]:
    page = absolute_url(base_url, card.url)
    buttons: list[dict[str, str]] = [
        {"type": "postback", "title": button.title, "payload": button.payload} for button in card.buttons
    ]
    if page_link and page:
        buttons.append({"type": "web_url", "title": page_link, "url": page})
    return {
        "title": card.title,
        "subtitle": card.subtitle,
        "image_url": absolute_url(base_url, card.image_url),
        "default_action": {"type": "web_url", "url": page},
        "buttons": buttons,
    }
