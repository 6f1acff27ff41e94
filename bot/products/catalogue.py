"""The catalogue seam: products as plain values, and the `Catalogue` protocol the shop backend implements.

A product has a stable SKU, a category (one of `CATEGORIES`) and a kind ("coat", "sweater", "sneakers"),
colours, sizes, a price in cents, materials, tags and stock per size in each location (`LOCATIONS`: the
three shops and the web shop). The reference shop's `SqlShopBackend` implements `Catalogue`; a real shop
implements it over its own product API. Values never touch I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

CATEGORIES = ("coats", "knitwear", "shirts", "trousers", "dresses", "shoes", "accessories")
"""coats and jackets, knitwear, shirts and blouses, trousers and jeans, dresses and skirts, shoes, accessories."""
LOCATIONS = ("paris", "berlin", "london", "online")
"""Where stock is held: the three shops and the web shop."""
ONE_SIZE = "one size"


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    kind: str
    description: str
    price_cents: int
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    stock: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """location -> size -> units in stock (a missing size or location holds none)."""

    def units(self, size: str | None = None, location: str | None = None) -> int:
        """Units in stock of `size` (any size when None) at `location` (anywhere when None)."""
        places = [location] if location else list(self.stock)
        return sum(
            count
            for place in places
            for name, count in self.stock.get(place, {}).items()
            if size is None or name.lower() == size.lower()
        )

    def sizes_in_stock(self, location: str | None = None) -> tuple[str, ...]:
        """The product's sizes with at least one unit at `location` (anywhere when None), in size order."""
        return tuple(s for s in self.sizes if self.units(s, location) > 0)

    @property
    def price(self) -> float:
        return self.price_cents / 100

    def text(self) -> str:
        """What the product's embedding is computed from (name, kind, colours, materials, tags, description)."""
        parts = [self.name, self.kind, ", ".join(self.colours), ", ".join(self.materials), ", ".join(self.tags)]
        return ". ".join(p for p in parts if p) + ". " + self.description


@dataclass(frozen=True)
class Pairing:
    """A curated "pairs well with" line: a product or a kind, and what goes with it, with a weight."""

    source: str
    """a SKU, or a kind ("jeans")"""
    target: str
    """a SKU, or a kind ("sneakers")"""
    weight: float = 1.0


@runtime_checkable
class Catalogue(Protocol):
    """Products, curated pairings and co-purchase counts of a shop."""

    def products(self) -> Sequence[Product]:
        """Every product of the catalogue, in a stable order (by SKU)."""
        ...

    def product(self, sku: str) -> Product | None:
        """The product with this SKU (case-insensitive), else None."""
        ...

    def pairings(self) -> Sequence[Pairing]:
        """The curated "pairs well with" table."""
        ...

    def co_purchases(self) -> Mapping[tuple[str, str], int]:
        """(sku_a, sku_b) with sku_a < sku_b -> how many orders held both."""
        ...

    def colour_families(self) -> Mapping[str, str]:
        """colour -> its family ("navy" -> "blue"), so a customer asking for blue sees navy too."""
        ...


@runtime_checkable
class CatalogueWriter(Protocol):
    """Replaces a catalogue in one transaction (the CSV import): all of it or nothing."""

    def replace_catalogue(self, products: Sequence[Product], pairings: Sequence[Pairing] | None = None) -> None:
        """Replace every product (and the pairings when given) in one transaction."""
        ...
