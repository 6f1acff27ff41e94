"""Demo shop pages where the widget speaks first (docs/proactive.md): `/demo/returns`, `/demo/checkout`
(a failed payment) and `/demo/welcome-back` (a signed-in customer with an order on its way).

Each page passes its values to the widget (`data-page-values`); the triggers in knowledge/triggers.yml
decide what the widget says. The pages' text lives in `DEMO_PAGES` below: demo content, not bot wording.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from server.dependencies import SettingsDep
from server.routes.pages import templates

router = APIRouter(tags=["pages"])

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
    "welcome-back": {
        "title": "Your account",
        "paragraphs": ["Signed in as Anna Schmidt. Order AN-10001 (wool coat) has shipped."],
        "values": {"customer_name": "Anna", "order_item": "coat", "order_due": "Thursday"},
    },
}


@router.get("/demo/{name}", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(name: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    page = DEMO_PAGES.get(name)
    if page is None:
        raise HTTPException(404, f"no demo page {name!r}; try /demo/{', /demo/'.join(DEMO_PAGES)}")
    context = {
        "root_path": request.scope.get("root_path", ""),
        "max_message_chars": settings.max_message_chars,
        "page": page,
    }
    return templates.TemplateResponse(request, "demo_page.html", context)
