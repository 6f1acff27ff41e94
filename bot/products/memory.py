"""`InMemoryCatalogue`: a catalogue held in memory (unit tests, and shops whose catalogue is a CSV file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.products.catalogue import Pairing, Product


class InMemoryCatalogue:
    """Implements `Catalogue` and `CatalogueWriter` over plain lists."""

    def __init__(
        self,
        products: Sequence[Product] = (),
        pairings: Sequence[Pairing] = (),
        co_purchases: Mapping[tuple[str, str], int] | None = None,
        colour_families: Mapping[str, str] | None = None,
    ) -> None:
        self._products = sorted(products, key=lambda p: p.sku)
        self._pairings = list(pairings)
        self._co_purchases = dict(co_purchases or {})
        self._colour_families = dict(colour_families or {})

    def products(self) -> Sequence[Product]:
        return list(self._products)

    def product(self, sku: str) -> Product | None:
        wanted = sku.strip().upper()
        return next((p for p in self._products if p.sku.upper() == wanted), None)

    def pairings(self) -> Sequence[Pairing]:
        return list(self._pairings)

    def co_purchases(self) -> Mapping[tuple[str, str], int]:
        return dict(self._co_purchases)

    def colour_families(self) -> Mapping[str, str]:
        return dict(self._colour_families)

    def replace_catalogue(self, products: Sequence[Product], pairings: Sequence[Pairing] | None = None) -> None:
        self._products = sorted(products, key=lambda p: p.sku)
        if pairings is not None:
            self._pairings = list(pairings)
