"""The demo shop's product pages: `GET /products/{sku}` (HTML) and `GET /products/{sku}/image.svg`.

Both read `app.state.catalogue` (a `bot.products.Catalogue`, or None when the bot has none: every product
is then unknown). An unknown SKU gets the shop's "not found" page with status 404 (the image: the JSON
error shape). Product cards in replies link here (`Card.url`, `Card.image_url`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.products.cards import format_price
from bot.products.catalogue import LOCATIONS, Catalogue, Product
from server.dependencies import SettingsDep
from server.product_image import ColourTable, product_svg
from server.product_words import product_words
from server.routes.pages import templates

router = APIRouter(tags=["pages"])

IMAGE_CACHE_CONTROL = "public, max-age=3600"
Sku = Annotated[str, Path(min_length=1, max_length=64, description="The product's SKU, e.g. KN-104.")]


async def _product(request: Request, sku: str) -> Product | None:
    catalogue: Catalogue | None = getattr(request.app.state, "catalogue", None)
    if catalogue is None:
        return None
    return await run_in_threadpool(catalogue.product, sku)  # a real catalogue may query its database


@router.get("/products/{sku}", response_class=HTMLResponse, include_in_schema=False)
async def product_page(request: Request, sku: Sku, settings: SettingsDep) -> HTMLResponse:
    """The product's page in the demo shop's look; the shop's "not found" page (404) for an unknown SKU."""
    product = await _product(request, sku)
    colours = await run_in_threadpool(ColourTable.load)
    context = {
        "root_path": request.scope.get("root_path", ""),
        "max_message_chars": settings.max_message_chars,
        "words": product_words(),
        "product": product,
        "price": format_price(product.price_cents) if product else "",
        "swatches": [(name, colours.fill(name)) for name in product.colours] if product else [],
        "locations": LOCATIONS,
    }
    return templates.TemplateResponse(request, "product.html", context, status_code=200 if product else 404)


@router.get("/products/{sku}/image.svg", include_in_schema=False)
async def product_image(request: Request, sku: Sku) -> Response:
    """The product's flat silhouette in its first colour (SVG), cacheable and with an ETag."""
    product = await _product(request, sku)
    if product is None:
        raise HTTPException(404, f"no product with SKU {sku!r} in the catalogue")
    colours = await run_in_threadpool(ColourTable.load)
    body = product_svg(product, colours)
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": IMAGE_CACHE_CONTROL}
    matches = _etags(request.headers.get("if-none-match", ""))
    if etag in matches or "*" in matches:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/svg+xml", headers=headers)


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as RFC 9110 says for GET)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
