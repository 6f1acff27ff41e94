"""Product cards: what a channel shows for a product (image, name, price, colours, sizes in stock, a link, buttons)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.products.catalogue import Product
from bot.types import Button, Card

SEPARATOR = " · "


@dataclass(frozen=True)
class CardLinks:
    """Where a card's product page and image are: URL templates with `{sku}`."""

    page: str = "/products/{sku}"
    image: str = "/products/{sku}/image.svg"


def format_price(cents: int, currency_symbol: str = "€") -> str:
    whole, rest = divmod(cents, 100)
    return f"{currency_symbol}{whole}" if rest == 0 else f"{currency_symbol}{whole}.{rest:02d}"


def product_card(product: Product, buttons: Sequence[Button] = (), links: CardLinks | None = None) -> Card:
    links = links or CardLinks()
    price = format_price(product.price_cents)
    sizes = product.sizes_in_stock()
    parts = [price, ", ".join(product.colours), " ".join(sizes)]
    return Card(
        id=product.sku,
        title=product.name,
        subtitle=SEPARATOR.join(p for p in parts if p),
        price=price,
        image_url=links.image.format(sku=product.sku),
        url=links.page.format(sku=product.sku),
        colours=tuple(product.colours),
        sizes=sizes,
        buttons=tuple(buttons),
    )
