"""Demo shop pages where the widget speaks first (docs/proactive.md): `/demo/returns`, `/demo/checkout`
(a failed payment) and `/demo/welcome-back` (a signed-in customer with an order on its way).

Each page passes its values to the widget (`data-page-values`); the triggers in knowledge/triggers.yml
decide what the widget says. The pages' text lives in `DEMO_PAGES` below: demo content, not bot wording.

The welcome-back page plays the shop's own account page for its signed-in demo customer,
`WELCOME_BACK_CUSTOMER` (Anna, whose order AN-10001 is on its way in the seeded data): like a real shop's
page it reads her first name and her order from the shop — the reference shop's database, which is also
the catalogue the server serves products from (`app.state.catalogue`, when it answers `open_activity`) —
and passes them as page values, and it signs her customer token (`data-customer-token`) with
`customer_token_secret`, so the chat knows her too. Without a secret the page carries no token (the chat
treats her as anonymous); without such a shop, or with nothing on its way, no values (no trigger).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from bot.config import Settings
from bot.customers.identity import sign_customer_token
from server.dependencies import SettingsDep
from server.routes.pages import templates

router = APIRouter(tags=["pages"])

WELCOME_BACK = "welcome-back"
WELCOME_BACK_CUSTOMER = "anna@example.com"
"""The signed-in customer of the welcome-back page (the shop's customer id in her token: her email)."""
TOKEN_SECONDS = 3600
"""How long the page's customer token is valid; the page signs a new one on every load."""

DEMO_PAGES: dict[str, dict[str, Any]] = {
    "returns": {
        "title": "Returns and exchanges",
        "paragraphs": ["You have 30 days to send back anything unworn, with its tags on. Returns are free."],
        "values": {},
    },
    "checkout": {
        "title": "Checkout",
        "paragraphs": ["Your payment could not be completed. Nothing was charged; you can try again."],
        "values": {"payment": "failed", "basket_total": 289},
    },
    WELCOME_BACK: {
        "title": "Your account",
        "paragraphs": ["You are not signed in: this demo shop has no customer on file here."],
        "values": {},
    },
}
NO_SECRET_NOTE = (
    "The assistant does not know who you are on this page: set SUPPORTBOT_CUSTOMER_TOKEN_SECRET so the page "
    "can sign you in to the chat too (docs/customers.md)."
)


# The part of the reference shop the page reads (`bot.actions.backend.activity`, which the server may not
# import): what a shop's own account page knows about its signed-in customer.
class _Item(Protocol):
    @property
    def name(self) -> str: ...


class _Order(Protocol):
    @property
    def number(self) -> str: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def items(self) -> Sequence[_Item]: ...
    @property
    def expected_delivery(self) -> date | None: ...


class _Activity(Protocol):
    @property
    def first_name(self) -> str: ...
    @property
    def orders(self) -> Sequence[_Order]: ...


@runtime_checkable
class ShopCustomers(Protocol):
    def open_activity(self, customer: str, now: datetime) -> _Activity | None: ...


def welcome_back(activity: _Activity | None) -> dict[str, Any] | None:
    """The page's paragraphs and trigger values for the customer's order on its way (None: nothing is)."""
    order = next((o for o in activity.orders if o.expected_delivery is not None), None) if activity else None
    if activity is None or order is None or order.expected_delivery is None:
        return None
    due = order.expected_delivery
    item = order.items[0].name.lower() if len(order.items) == 1 else f"order {order.number}"
    due_text = f"{due:%A} {due.day} {due:%B}"  # as the bot writes dates: "Tuesday 8 December"
    return {
        "title": "Your account",
        "paragraphs": [
            f"Signed in as {order.customer_name}. Order {order.number} ({item}) is on its way: due {due_text}."
        ],
        "values": {"customer_name": activity.first_name, "order_item": item, "order_due": due_text},
    }


async def _welcome_back_page(request: Request, settings: Settings) -> tuple[dict[str, Any], str]:
    """The welcome-back page from the shop's data, and the customer token ("" without a secret)."""
    shop = getattr(request.app.state, "catalogue", None)
    activity = None
    if isinstance(shop, ShopCustomers):
        activity = await run_in_threadpool(shop.open_activity, WELCOME_BACK_CUSTOMER, datetime.now(UTC))
    page = welcome_back(activity)
    if page is None:
        return DEMO_PAGES[WELCOME_BACK], ""
    secret = settings.customer_token_secret.get_secret_value() if settings.customer_token_secret else ""
    if not secret:
        return {**page, "paragraphs": [*page["paragraphs"], NO_SECRET_NOTE]}, ""
    return page, sign_customer_token(secret, WELCOME_BACK_CUSTOMER, int(time.time()) + TOKEN_SECONDS)


@router.get("/demo/{name}", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(name: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    page = DEMO_PAGES.get(name)
    if page is None:
        raise HTTPException(404, f"no demo page {name!r}; try /demo/{', /demo/'.join(DEMO_PAGES)}")
    token = ""
    if name == WELCOME_BACK:
        page, token = await _welcome_back_page(request, settings)
    context = {
        "root_path": request.scope.get("root_path", ""),
        "max_message_chars": settings.max_message_chars,
        "page": page,
        "customer_token": token,
    }
    return templates.TemplateResponse(request, "demo_page.html", context)
